"""Prefect flows: the sweeper, the outbox dispatcher, inbox processing, scheduled reports."""
