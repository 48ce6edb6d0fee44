"""sensorthings: sensors, observed properties, locations, historical locations; datastream links

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("encoding_type", sa.String(length=100), nullable=False),
        sa.Column("metadata", sa.String(length=4000), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sensors")),
    )
    op.create_table(
        "observed_properties",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("definition", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observed_properties")),
    )
    op.create_index(
        op.f("ix_observed_properties_metric"), "observed_properties", ["metric"], unique=False
    )
    op.create_table(
        "locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("encoding_type", sa.String(length=100), nullable=False),
        sa.Column("location", sa.JSON(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    op.create_table(
        "thing_locations",
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"], ["locations.id"], name=op.f("fk_thing_locations_location_id_locations")
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_thing_locations_thing_id_things")
        ),
        sa.PrimaryKeyConstraint("thing_id", "location_id", name=op.f("pk_thing_locations")),
    )
    op.create_index(
        op.f("ix_thing_locations_location_id"), "thing_locations", ["location_id"], unique=False
    )
    op.create_table(
        "historical_locations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thing_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("time", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_historical_locations_location_id_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["thing_id"], ["things.id"], name=op.f("fk_historical_locations_thing_id_things")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_historical_locations")),
    )
    op.create_index(
        op.f("ix_historical_locations_thing_id"), "historical_locations", ["thing_id"], unique=False
    )
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sensor_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("observed_property_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("observation_type", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("unit_of_measurement", sa.JSON(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_datastreams_sensor_id_sensors"), "sensors", ["sensor_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_datastreams_observed_property_id_observed_properties"),
            "observed_properties",
            ["observed_property_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("datastreams", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_datastreams_observed_property_id_observed_properties"),
            type_="foreignkey",
        )
        batch_op.drop_constraint(batch_op.f("fk_datastreams_sensor_id_sensors"), type_="foreignkey")
        batch_op.drop_column("unit_of_measurement")
        batch_op.drop_column("observation_type")
        batch_op.drop_column("observed_property_id")
        batch_op.drop_column("sensor_id")
    op.drop_index(op.f("ix_historical_locations_thing_id"), table_name="historical_locations")
    op.drop_table("historical_locations")
    op.drop_index(op.f("ix_thing_locations_location_id"), table_name="thing_locations")
    op.drop_table("thing_locations")
    op.drop_table("locations")
    op.drop_index(op.f("ix_observed_properties_metric"), table_name="observed_properties")
    op.drop_table("observed_properties")
    op.drop_table("sensors")
