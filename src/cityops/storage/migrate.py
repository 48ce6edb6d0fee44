"""Schema migrations: upgrade to head, tell the current revision, and check for drift."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from cityops.storage.observation_partitions import PARTITION_NAME
from cityops.storage.schema import metadata

_MIGRATIONS = Path(__file__).parent / "migrations"


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def head_revision() -> str:
    """Return the newest migration's revision id."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("no migrations found")
    return head


def current_revision(engine: Engine) -> str | None:
    """Return the revision the store is at (None for an empty store)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store up to ``revision``; safe to run again."""
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    """Where the store stands against the code."""

    current: str | None
    head: str
    differences: list[str]

    @property
    def ok(self) -> bool:
        """True when the store is at head and matches the schema exactly."""
        return self.current == self.head and not self.differences


def _not_a_partition(name: str | None, kind: str, _parents: Any) -> bool:
    """Leave the observations' time partitions (made at run time) out of the comparison."""
    return not (kind == "table" and name is not None and PARTITION_NAME.fullmatch(name))


def check(engine: Engine) -> SchemaStatus:
    """Compare the store with the code: revision and table/column/index drift."""
    with engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "include_name": _not_a_partition}
        )
        diffs: list[Any] = compare_metadata(context, metadata)
    return SchemaStatus(current=current, head=head_revision(), differences=[str(d) for d in diffs])
