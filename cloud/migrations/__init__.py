"""Alembic migrations of the cloud database (run by `cloud.db.migrate`)."""
