"""The relational schema (SQLAlchemy Core). Alembic migrations must keep the store equal to it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    text,
)

from cityops.storage.types import BigId, UtcDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

departments = Table(
    "departments",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("parent_code", String(32), ForeignKey("departments.code"), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", String(100), nullable=False),
    Column("department_code", String(32), ForeignKey("departments.code"), nullable=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("password_changed_at", UtcDateTime, nullable=False),
)

role_grants = Table(
    "role_grants",
    metadata,
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role", String(32), primary_key=True),
    Column("scope", String(64), primary_key=True),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("prefix", String(16), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("permissions", JSON, nullable=False),
    Column("scope", String(64), nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=True),
    Column("revoked_at", UtcDateTime, nullable=True),
)

auth_sessions = Table(
    "auth_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("client_address", String(64), nullable=True),
    Index(None, "user_id"),
    Index(None, "expires_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("actor_kind", String(16), nullable=False),
    Column("role", String(32), nullable=True),
    Column("scope", String(64), nullable=True),
    Column("action", String(64), nullable=False),
    Column("object_type", String(32), nullable=False),
    Column("object_id", String(128), nullable=False),
    Column("before", JSON, nullable=True),
    Column("after", JSON, nullable=True),
    Column("request_id", String(64), nullable=True),
    Column("client_address", String(64), nullable=True),
    Index(None, "at"),
    Index(None, "actor"),
    Index(None, "action"),
    Index(None, "object_type", "object_id"),
)

outbox_events = Table(
    "outbox_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("type", String(64), nullable=False),
    Column("aggregate_type", String(32), nullable=False),
    Column("aggregate_id", String(128), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Index(None, "aggregate_type", "aggregate_id"),
)

subscriber_offsets = Table(
    "subscriber_offsets",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("last_event_id", BigId, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Tables whose rows are never updated or deleted (enforced by triggers in the migrations).
APPEND_ONLY_TABLES = ("audit_log",)

# -- geography (issue 4) ----------------------------------------------------------------------

divisions = Table(
    "divisions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("code", String(15), nullable=False),
    Column("level", String(12), nullable=False),
    Column("name", String(100), nullable=False),
    Column("parent_code", String(15), nullable=True),
    Column("geometry", LargeBinary, nullable=False),  # WKB, lon/lat
    Column("min_lon", Float, nullable=False),
    Column("min_lat", Float, nullable=False),
    Column("max_lon", Float, nullable=False),
    Column("max_lat", Float, nullable=False),
    Column("area_m2", Float, nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("valid_from", UtcDateTime, nullable=False),
    Column("valid_to", UtcDateTime, nullable=True),
    Index(None, "code", "valid_to"),
    Index(None, "level", "parent_code"),
    Index(
        "uq_divisions_current_code",
        "code",
        unique=True,
        sqlite_where=text("valid_to IS NULL"),
        postgresql_where=text("valid_to IS NULL"),
    ),
)

grid_workers = Table(
    "grid_workers",
    metadata,
    Column("grid_code", String(15), primary_key=True),
    Column("username", String(64), ForeignKey("users.username"), primary_key=True),
    Column("assigned_at", UtcDateTime, nullable=False),
)

grid_assignments = Table(
    "grid_assignments",
    metadata,
    Column("grid_code", String(15), primary_key=True),
    # "matter" (a GB/T 47678.5 matter class code) or "department" (a department code)
    Column("key_kind", String(12), primary_key=True),
    Column("key", String(32), primary_key=True),
    Column("unit_code", String(32), ForeignKey("departments.code"), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
)

components = Table(
    "components",
    metadata,
    Column("id", String(17), primary_key=True),  # 管理部件标识码
    Column("class_code", String(5), nullable=False),
    Column("name", String(30), nullable=False),
    Column("division_code", String(6), nullable=False),
    Column("grid_code", String(15), nullable=True),
    Column("status", String(10), nullable=False),
    Column("department_code", String(18), nullable=False),  # 主管部门代码
    Column("department_name", String(100), nullable=False),
    Column("owner_code", String(18), nullable=True),
    Column("owner_name", String(100), nullable=True),
    Column("maintainer_code", String(18), nullable=True),
    Column("maintainer_name", String(100), nullable=True),
    Column("street_code", String(9), nullable=True),
    Column("street_name", String(50), nullable=True),
    Column("community_code", String(12), nullable=True),
    Column("community_name", String(50), nullable=True),
    Column("initial_date", Date, nullable=False),
    Column("change_date", Date, nullable=True),
    Column("data_source", String(30), nullable=True),
    Column("note", String(1000), nullable=True),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "class_code"),
    Index(None, "grid_code"),
    Index(None, "lon", "lat"),
)

places = Table(
    "places",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False),  # road, address, poi
    Column("name", String(100), nullable=False),
    Column("aliases", JSON, nullable=False),
    Column(
        "geometry", LargeBinary, nullable=False
    ),  # WKB: point for addresses/POIs, lines for roads
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("source_key", String(64), nullable=False, unique=True),
    Index(None, "name"),
    # Ids are never reused, so (highest id, count) changes whenever a place is replaced.
    sqlite_autoincrement=True,
)

cases = Table(
    "cases",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("channel", String(16), nullable=False),
    Column("appeal_type", String(12), nullable=True),  # 12345: 咨询 求助 投诉 举报 建议
    Column("urgency", String(8), nullable=False),  # normal (一般) or urgent (紧急)
    Column("description", String(2000), nullable=False),
    Column("status", String(16), nullable=False),
    Column("resume_to", String(16), nullable=True),
    Column("extension_pending", Boolean, nullable=False),
    Column("reworks", Integer, nullable=False),
    Column("returns", Integer, nullable=False),
    Column("urges", Integer, nullable=False),
    Column("extensions", Integer, nullable=False),
    Column("holds", Integer, nullable=False),
    Column("self_handled", Boolean, nullable=False),
    Column("satisfaction", Integer, nullable=True),
    Column("matter_code", String(5), nullable=True),
    Column("class_source", String(12), nullable=True),  # rule, model, clerk
    Column("class_confidence", Float, nullable=True),
    Column("suggestions", JSON, nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("address", String(200), nullable=True),
    Column("component_id", String(17), nullable=True),
    Column("location_source", String(12), nullable=True),  # point, component, address
    Column("grid_code", String(15), nullable=True),
    Column("community_code", String(12), nullable=True),
    Column("street_code", String(9), nullable=True),
    Column("district_code", String(6), nullable=True),
    Column("reporter_name", String(50), nullable=True),
    Column("reporter_phone", String(32), nullable=True),
    Column("external_ref", String(64), nullable=True),
    Column("department_code", String(32), nullable=True),
    Column("grid_worker", String(64), nullable=True),
    Column("merged_into", BigId, nullable=True),
    Column("accepted_by", String(100), nullable=False),
    Column("filed_by", String(100), nullable=True),
    Column("dispatched_by", String(100), nullable=True),
    Column("verified_by", String(100), nullable=True),
    Column("accepted_at", UtcDateTime, nullable=False),
    Column("filed_at", UtcDateTime, nullable=True),
    Column("dispatched_at", UtcDateTime, nullable=True),
    Column("handled_at", UtcDateTime, nullable=True),
    Column("closed_at", UtcDateTime, nullable=True),
    Column("ended_at", UtcDateTime, nullable=True),  # rejected, voided or evaluated
    Column("limit_text", String(32), nullable=True),
    Column("limit_seconds", Integer, nullable=True),  # working seconds, extensions included
    Column("clock_started_at", UtcDateTime, nullable=True),
    Column("pauses", JSON, nullable=False),  # [[start, end|null]]: holds, waiting for 核查
    Column("due_at", UtcDateTime, nullable=True),
    Column("yellow_at", UtcDateTime, nullable=True),
    Column("light", String(8), nullable=True),  # the last light announced
    Column("escalation", Integer, nullable=False),
    Column("handled_on_time", Boolean, nullable=True),
    Column("closed_on_time", Boolean, nullable=True),
    Column("seconds_to_dispatch", Integer, nullable=True),  # working seconds
    Column("seconds_to_handle", Integer, nullable=True),
    Column("seconds_to_close", Integer, nullable=True),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "status", "due_at"),
    Index(None, "updated_at"),
    Index(None, "closed_at"),
    Index(None, "matter_code", "lon", "lat"),  # duplicates of a class nearby (intake)
    Index(None, "accepted_at"),
    Index(None, "department_code", "status"),
    Index(None, "grid_code", "status"),
    Index(None, "matter_code", "status", "accepted_at"),
    Index(None, "lon", "lat"),
    Index(
        "uq_cases_channel_external_ref",
        "channel",
        "external_ref",
        unique=True,
        sqlite_where=text("external_ref IS NOT NULL"),
        postgresql_where=text("external_ref IS NOT NULL"),
    ),
)

case_history = Table(
    "case_history",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigId, ForeignKey("cases.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(100), nullable=False),
    Column("role", String(32), nullable=True),
    Column("command", String(24), nullable=False),
    Column("from_status", String(16), nullable=True),
    Column("to_status", String(16), nullable=False),
    Column("comment", String(1000), nullable=True),
    Column("attachments", JSON, nullable=False),
    Column("data", JSON, nullable=False),
    Index(None, "case_id", "id"),
)

case_reporters = Table(
    "case_reporters",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigId, ForeignKey("cases.id"), nullable=False),
    Column("from_case_id", BigId, nullable=False),  # the case the reporter came in with
    Column("channel", String(16), nullable=False),
    Column("name", String(50), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("added_at", UtcDateTime, nullable=False),
    Index(None, "case_id"),
)

case_attachments = Table(
    "case_attachments",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("case_id", BigId, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(8), nullable=False),  # file or url
    Column("sha256", String(64), nullable=True),
    Column("content_type", String(64), nullable=True),
    Column("size", Integer, nullable=True),
    Column("filename", String(200), nullable=True),
    Column("url", String(1000), nullable=True),
    Column("added_by", String(100), nullable=False),
    Column("added_at", UtcDateTime, nullable=False),
    Index(None, "case_id"),
)

matter_rules = Table(
    "matter_rules",
    metadata,
    Column("matter_code", String(5), primary_key=True),
    # "" for the whole city, else a division code the rule is limited to
    Column("division_code", String(15), primary_key=True),
    Column("department_code", String(32), ForeignKey("departments.code"), nullable=True),
    Column("filing_condition", String(500), nullable=True),
    Column("closing_condition", String(500), nullable=True),
    Column("limit_normal", String(32), nullable=True),
    Column("limit_urgent", String(32), nullable=True),
    Column("keywords", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("updated_by", String(100), nullable=False),
)

KPI_ADDITIVE_COUNTERS = (
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
"""The KPI counters that add up across days and groups (a column each in the day cells)."""

# KPI day cells: the additive counters of the cases accepted on one local day, per group of one
# dimension, plus each working-time measure's values packed as little-endian int32 (medians stay
# exact). Rebuilt per day from ``cases`` for the days whose cases changed (see case_kpi_cells.py).
case_kpi_cells = Table(
    "case_kpi_cells",
    metadata,
    Column("dimension", String(16), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("group_key", String(100), primary_key=True),
    *(Column(name, Integer, nullable=False) for name in KPI_ADDITIVE_COUNTERS),
    Column("seconds_to_dispatch", LargeBinary, nullable=False),
    Column("seconds_to_handle", LargeBinary, nullable=False),
    Column("seconds_to_close", LargeBinary, nullable=False),
)

# One row: the time zone the day cells were cut in and how far the cases' changes are folded in.
case_kpi_state = Table(
    "case_kpi_state",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("zone", String(64), nullable=False),
    Column("folded_until", UtcDateTime, nullable=False),
)


# The sensing, alert and webhook tables are in schema_sensing.py; importing it here puts them on
# ``metadata``, which migrations, the drift check and the tests read whole.
from cityops.storage import schema_sensing as _sensing  # noqa: E402, F401
