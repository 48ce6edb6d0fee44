"""Alembic environment: runs migrations on the connection handed over by cityops.storage.migrate."""

from __future__ import annotations

from alembic import context

from cityops.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `cityops db upgrade` (cityops.storage.migrate)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
