"""The HTTP app: CRM webhooks in, a small REST API for people and other systems."""
