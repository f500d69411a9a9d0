"""Breach reviews (issue 19, point 7): causes, exemptions and the per-person export."""
