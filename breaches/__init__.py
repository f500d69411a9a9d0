"""Working with breaches after the fact: causes, exemptions, and the per-person export."""
