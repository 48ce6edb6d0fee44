"""geography: divisions, grids, responsibilities, components, places

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityops.storage.types import BigId, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "components",
        sa.Column("id", sa.String(length=17), nullable=False),
        sa.Column("class_code", sa.String(length=5), nullable=False),
        sa.Column("name", sa.String(length=30), nullable=False),
        sa.Column("division_code", sa.String(length=6), nullable=False),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("department_code", sa.String(length=18), nullable=False),
        sa.Column("department_name", sa.String(length=100), nullable=False),
        sa.Column("owner_code", sa.String(length=18), nullable=True),
        sa.Column("owner_name", sa.String(length=100), nullable=True),
        sa.Column("maintainer_code", sa.String(length=18), nullable=True),
        sa.Column("maintainer_name", sa.String(length=100), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("street_name", sa.String(length=50), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("community_name", sa.String(length=50), nullable=True),
        sa.Column("initial_date", sa.Date(), nullable=False),
        sa.Column("change_date", sa.Date(), nullable=True),
        sa.Column("data_source", sa.String(length=30), nullable=True),
        sa.Column("note", sa.String(length=1000), nullable=True),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("updated_at", UtcDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_components")),
    )
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_components_class_code"), ["class_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_components_grid_code"), ["grid_code"], unique=False)
        batch_op.create_index(batch_op.f("ix_components_lon_lat"), ["lon", "lat"], unique=False)

    op.create_table(
        "divisions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(length=15), nullable=False),
        sa.Column("level", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parent_code", sa.String(length=15), nullable=True),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
        sa.Column("min_lon", sa.Float(), nullable=False),
        sa.Column("min_lat", sa.Float(), nullable=False),
        sa.Column("max_lon", sa.Float(), nullable=False),
        sa.Column("max_lat", sa.Float(), nullable=False),
        sa.Column("area_m2", sa.Float(), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("valid_from", UtcDateTime, nullable=False),
        sa.Column("valid_to", UtcDateTime, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_divisions")),
    )
    with op.batch_alter_table("divisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_divisions_code_valid_to"), ["code", "valid_to"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_divisions_level_parent_code"), ["level", "parent_code"], unique=False
        )
        batch_op.create_index(
            "uq_divisions_current_code",
            ["code"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )

    op.create_table(
        "places",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("geometry", sa.LargeBinary(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=False),
        sa.Column("source_key", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("source_key", name=op.f("uq_places_source_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_places_name"), ["name"], unique=False)

    op.create_table(
        "grid_assignments",
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("key_kind", sa.String(length=12), nullable=False),
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("unit_code", sa.String(length=32), nullable=False),
        sa.Column("assigned_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_code"],
            ["departments.code"],
            name=op.f("fk_grid_assignments_unit_code_departments"),
        ),
        sa.PrimaryKeyConstraint("grid_code", "key_kind", "key", name=op.f("pk_grid_assignments")),
    )
    op.create_table(
        "grid_workers",
        sa.Column("grid_code", sa.String(length=15), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", UtcDateTime, nullable=False),
        sa.ForeignKeyConstraint(
            ["username"], ["users.username"], name=op.f("fk_grid_workers_username_users")
        ),
        sa.PrimaryKeyConstraint("grid_code", "username", name=op.f("pk_grid_workers")),
    )


def downgrade() -> None:
    op.drop_table("grid_workers")
    op.drop_table("grid_assignments")
    with op.batch_alter_table("places", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_places_name"))

    op.drop_table("places")
    with op.batch_alter_table("divisions", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_divisions_current_code",
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_divisions_level_parent_code"))
        batch_op.drop_index(batch_op.f("ix_divisions_code_valid_to"))

    op.drop_table("divisions")
    with op.batch_alter_table("components", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_components_lon_lat"))
        batch_op.drop_index(batch_op.f("ix_components_grid_code"))
        batch_op.drop_index(batch_op.f("ix_components_class_code"))

    op.drop_table("components")
