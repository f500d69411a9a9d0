"""Assembles a running slaflow from its settings: the company configuration composed from each
feature's part, and the database. Entry points (CLI, HTTP app, Prefect flows) start here."""
