"""sensing: things, datastreams, observations (partitioned on PostgreSQL), rollups, latest values

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityops.storage.types import UtcDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ROLLUPS = ("rollups_minute", "rollups_hour", "rollups_day")


def upgrade() -> None:
    op.create_table(
        "things",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_things")),
        sa.UniqueConstraint("key", name=op.f("uq_things_key")),
    )
    op.create_index(op.f("ix_things_grid_code"), "things", ["grid_code"], unique=False)
    op.create_table(
        "datastreams",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.String(length=1000), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("sensor", sa.String(length=100), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.Column("created_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_datastreams_thing_id_things")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_datastreams")),
        sa.UniqueConstraint("key", name=op.f("uq_datastreams_key")),
    )
    op.create_index(op.f("ix_datastreams_thing_id"), "datastreams", ["thing_id"], unique=False)
    op.create_index(op.f("ix_datastreams_metric"), "datastreams", ["metric"], unique=False)
    op.create_table(
        "observations",
        sa.Column("datastream_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("phenomenon_time", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("result", sa.Float(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("datastream_id", "phenomenon_time", name=op.f("pk_observations")),
        sqlite_with_rowid=False,
        postgresql_partition_by="RANGE (phenomenon_time)",
    )
    for name in ROLLUPS:
        op.create_table(
            name,
            sa.Column("datastream_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("bucket", sa.BigInteger(), autoincrement=False, nullable=False),
            sa.Column("n", sa.Integer(), nullable=False),
            sa.Column("total", sa.Float(), nullable=False),
            sa.Column("minimum", sa.Float(), nullable=False),
            sa.Column("maximum", sa.Float(), nullable=False),
            sa.Column("first_time", sa.BigInteger(), nullable=False),
            sa.Column("first_value", sa.Float(), nullable=False),
            sa.Column("last_time", sa.BigInteger(), nullable=False),
            sa.Column("last_value", sa.Float(), nullable=False),
            sa.Column("aux_a", sa.Float(), nullable=True),
            sa.Column("aux_b", sa.Float(), nullable=True),
            sa.PrimaryKeyConstraint("datastream_id", "bucket", name=op.f(f"pk_{name}")),
            sqlite_with_rowid=False,
        )
    op.create_table(
        "stream_latest",
        sa.Column("datastream_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("phenomenon_time", sa.BigInteger(), nullable=False),
        sa.Column("result", sa.Float(), nullable=False),
        sa.Column("quality", sa.SmallInteger(), nullable=False),
        sa.PrimaryKeyConstraint("datastream_id", name=op.f("pk_stream_latest")),
    )


def downgrade() -> None:
    op.drop_table("stream_latest")
    for name in ROLLUPS:
        op.drop_table(name)
    op.drop_table("observations")  # PostgreSQL drops the partitions with it
    op.drop_index(op.f("ix_datastreams_metric"), table_name="datastreams")
    op.drop_index(op.f("ix_datastreams_thing_id"), table_name="datastreams")
    op.drop_table("datastreams")
    op.drop_index(op.f("ix_things_grid_code"), table_name="things")
    op.drop_table("things")
