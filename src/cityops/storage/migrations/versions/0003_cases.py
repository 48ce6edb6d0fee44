"""cases: cases, history, reporters, attachments, matter rules

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from cityops.storage.types import BigId, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("appeal_type", sa.String(length=12), nullable=True),
        sa.Column("urgency", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("resume_to", sa.String(length=16), nullable=True),
        sa.Column("extension_pending", sa.Boolean(), nullable=False),
        sa.Column("reworks", sa.Integer(), nullable=False),
        sa.Column("returns", sa.Integer(), nullable=False),
        sa.Column("urges", sa.Integer(), nullable=False),
        sa.Column("extensions", sa.Integer(), nullable=False),
        sa.Column("holds", sa.Integer(), nullable=False),
        sa.Column("self_handled", sa.Boolean(), nullable=False),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("matter_code", sa.String(length=5), nullable=True),
        sa.Column("class_source", sa.String(length=12), nullable=True),
        sa.Column("class_confidence", sa.Float(), nullable=True),
        sa.Column("suggestions", sa.JSON(), nullable=False),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("component_id", sa.String(length=17), nullable=True),
        sa.Column("location_source", sa.String(length=12), nullable=True),
        sa.Column("grid_code", sa.String(length=15), nullable=True),
        sa.Column("community_code", sa.String(length=12), nullable=True),
        sa.Column("street_code", sa.String(length=9), nullable=True),
        sa.Column("district_code", sa.String(length=6), nullable=True),
        sa.Column("reporter_name", sa.String(length=50), nullable=True),
        sa.Column("reporter_phone", sa.String(length=32), nullable=True),
        sa.Column("external_ref", sa.String(length=64), nullable=True),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("grid_worker", sa.String(length=64), nullable=True),
        sa.Column("merged_into", BigId, nullable=True),
        sa.Column("accepted_by", sa.String(length=100), nullable=False),
        sa.Column("filed_by", sa.String(length=100), nullable=True),
        sa.Column("dispatched_by", sa.String(length=100), nullable=True),
        sa.Column("verified_by", sa.String(length=100), nullable=True),
        sa.Column("accepted_at", UtcDateTime(), nullable=False),
        sa.Column("filed_at", UtcDateTime(), nullable=True),
        sa.Column("dispatched_at", UtcDateTime(), nullable=True),
        sa.Column("handled_at", UtcDateTime(), nullable=True),
        sa.Column("closed_at", UtcDateTime(), nullable=True),
        sa.Column("ended_at", UtcDateTime(), nullable=True),
        sa.Column("limit_text", sa.String(length=32), nullable=True),
        sa.Column("limit_seconds", sa.Integer(), nullable=True),
        sa.Column("clock_started_at", UtcDateTime(), nullable=True),
        sa.Column("pauses", sa.JSON(), nullable=False),
        sa.Column("due_at", UtcDateTime(), nullable=True),
        sa.Column("yellow_at", UtcDateTime(), nullable=True),
        sa.Column("light", sa.String(length=8), nullable=True),
        sa.Column("escalation", sa.Integer(), nullable=False),
        sa.Column("handled_on_time", sa.Boolean(), nullable=True),
        sa.Column("closed_on_time", sa.Boolean(), nullable=True),
        sa.Column("seconds_to_dispatch", sa.Integer(), nullable=True),
        sa.Column("seconds_to_handle", sa.Integer(), nullable=True),
        sa.Column("seconds_to_close", sa.Integer(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cases_accepted_at"), ["accepted_at"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_department_code_status"),
            ["department_code", "status"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_cases_grid_code_status"), ["grid_code", "status"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cases_lon_lat"), ["lon", "lat"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_cases_matter_code_status_accepted_at"),
            ["matter_code", "status", "accepted_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_cases_status_due_at"), ["status", "due_at"], unique=False
        )
        batch_op.create_index(
            "uq_cases_channel_external_ref",
            ["channel", "external_ref"],
            unique=True,
            sqlite_where=sa.text("external_ref IS NOT NULL"),
            postgresql_where=sa.text("external_ref IS NOT NULL"),
        )

    op.create_table(
        "case_attachments",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=64), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_attachments_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_attachments_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_history",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("command", sa.String(length=24), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("attachments", sa.JSON(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_history_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_history")),
    )
    with op.batch_alter_table("case_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_case_history_case_id_id"), ["case_id", "id"], unique=False
        )

    op.create_table(
        "case_reporters",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("case_id", BigId, nullable=False),
        sa.Column("from_case_id", BigId, nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("added_at", UtcDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_reporters_case_id_cases")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_reporters")),
    )
    with op.batch_alter_table("case_reporters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_reporters_case_id"), ["case_id"], unique=False)

    op.create_table(
        "matter_rules",
        sa.Column("matter_code", sa.String(length=5), nullable=False),
        sa.Column("division_code", sa.String(length=15), nullable=False),
        sa.Column("department_code", sa.String(length=32), nullable=True),
        sa.Column("filing_condition", sa.String(length=500), nullable=True),
        sa.Column("closing_condition", sa.String(length=500), nullable=True),
        sa.Column("limit_normal", sa.String(length=32), nullable=True),
        sa.Column("limit_urgent", sa.String(length=32), nullable=True),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_code"],
            ["departments.code"],
            name=op.f("fk_matter_rules_department_code_departments"),
        ),
        sa.PrimaryKeyConstraint("matter_code", "division_code", name=op.f("pk_matter_rules")),
    )


def downgrade() -> None:
    op.drop_table("matter_rules")
    with op.batch_alter_table("case_reporters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_reporters_case_id"))

    op.drop_table("case_reporters")
    with op.batch_alter_table("case_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_history_case_id_id"))

    op.drop_table("case_history")
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_case_attachments_case_id"))

    op.drop_table("case_attachments")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_cases_channel_external_ref",
            sqlite_where=sa.text("external_ref IS NOT NULL"),
            postgresql_where=sa.text("external_ref IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_cases_status_due_at"))
        batch_op.drop_index(batch_op.f("ix_cases_matter_code_status_accepted_at"))
        batch_op.drop_index(batch_op.f("ix_cases_lon_lat"))
        batch_op.drop_index(batch_op.f("ix_cases_grid_code_status"))
        batch_op.drop_index(batch_op.f("ix_cases_department_code_status"))
        batch_op.drop_index(batch_op.f("ix_cases_accepted_at"))

    op.drop_table("cases")
