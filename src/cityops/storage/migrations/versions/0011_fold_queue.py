"""fold queue: new readings wait in obs_pending until folded into the rollups

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-23

Rollups and latest values used to be merged inside each write; now the write queues the new good
readings and a fold merges them (storage/repositories/observation_rollups.py). The rollups are
already complete for every stored reading, so the queue starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "obs_pending",
        sa.Column("datastream_id", sa.Integer(), nullable=False),
        sa.Column("phenomenon_time", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.Float(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.Column("aux_a", sa.Float(), nullable=True),
        sa.Column("aux_b", sa.Float(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("obs_pending")
