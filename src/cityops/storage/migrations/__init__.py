"""Alembic migrations of the cityops store (run with ``cityops db upgrade``)."""
