"""datastream minute rollups: whether a datastream's minute level is rollup rows or raw readings

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-23

A datastream registered from now on keeps minute rollup rows only when it is expected to report
more often than once a minute (``cityops.sensing.model.keeps_minute_rollups``); for the others
the raw readings are the minute level. Datastreams registered before this revision already have
their minute rows, so they keep them (the column defaults to true).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("datastreams") as batch:
        batch.add_column(
            sa.Column("minute_rollups", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("datastreams") as batch:
        batch.drop_column("minute_rollups")
