"""The only package that talks SQL: schema, migrations, the unit of work and repositories."""

from cityops.storage.store import Store

__all__ = ["Store"]
