"""Notifications: Jinja2 templates, recipients from the org chart, transports, the outbox."""
