"""The database layer: models, connection set-up and Alembic migrations."""
