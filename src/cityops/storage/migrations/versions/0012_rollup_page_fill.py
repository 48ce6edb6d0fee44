"""rollup page fill: room on the pages of the rows each fold rewrites (PostgreSQL)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-23

The hour and day rollups and the latest values are merged again by every fold; with room on
their pages PostgreSQL updates them in place (HOT: no new index entry). Pages written from now on
keep the room; an existing store's full pages get it as they are rewritten (``VACUUM FULL`` of
the three tables does it at once, under an exclusive lock). SQLite has no page fill: nothing to do.
"""

from __future__ import annotations

from alembic import op

from cityops.storage.schema_sensing import UPDATED_PAGE_FILL

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

_TABLES = {
    "rollups_hour": UPDATED_PAGE_FILL["hour"],
    "rollups_day": UPDATED_PAGE_FILL["day"],
    "stream_latest": UPDATED_PAGE_FILL["latest"],
}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, fill in _TABLES.items():
        op.execute(f"ALTER TABLE {table} SET (fillfactor = {int(fill)})")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} RESET (fillfactor)")
