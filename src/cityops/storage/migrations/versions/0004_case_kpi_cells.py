"""case KPI day cells: pre-aggregated counters and packed working times per day and group

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityops.storage.types import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COUNTERS = (
    "accepted",
    "filed",
    "dispatched",
    "handled",
    "handled_on_time",
    "to_close",
    "closed",
    "closed_on_time",
    "reworked",
    "extended",
    "returned",
    "held",
    "self_handled",
    "evaluated",
    "satisfaction_sum",
    "satisfied",
)


def upgrade() -> None:
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_updated_at"), ["updated_at"], unique=False)
    op.create_table(
        "case_kpi_cells",
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("group_key", sa.String(length=100), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in _COUNTERS),
        sa.Column("seconds_to_dispatch", sa.LargeBinary(), nullable=False),
        sa.Column("seconds_to_handle", sa.LargeBinary(), nullable=False),
        sa.Column("seconds_to_close", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("dimension", "day", "group_key", name=op.f("pk_case_kpi_cells")),
    )
    op.create_table(
        "case_kpi_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("folded_until", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_kpi_state")),
    )


def downgrade() -> None:
    op.drop_table("case_kpi_state")
    op.drop_table("case_kpi_cells")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cases_updated_at"))
