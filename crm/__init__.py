"""CRM integration: vendor adapters normalise webhooks to one event model; mapping rules turn
events into case openings and triggers."""
