"""The relational schema (SQLAlchemy Core). Alembic migrations must keep the store equal to it."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
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

# --------------------------------------------------------------------------- sensing
# Things (devices) with their point placed on the grid; datastreams (one metric of a thing).
things = Table(
    "things",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False, unique=True),
    Column("name", String(100), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("lon", Float, nullable=True),
    Column("lat", Float, nullable=True),
    Column("grid_code", String(15), nullable=True),
    Column("community_code", String(12), nullable=True),
    Column("street_code", String(9), nullable=True),
    Column("district_code", String(6), nullable=True),
    Column("properties", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "grid_code"),
)

datastreams = Table(
    "datastreams",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(128), nullable=False, unique=True),
    Column("thing_id", Integer, ForeignKey("things.id"), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(1000), nullable=False),
    Column("unit", String(32), nullable=False),
    Column("minimum", Float, nullable=False),
    Column("maximum", Float, nullable=False),
    Column("interval_seconds", Integer, nullable=False),
    Column("sensor", String(100), nullable=False),
    Column("properties", JSON, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    # SensorThings links (0008): the Sensor and ObservedProperty entities, the declared type
    # and unitOfMeasurement as the client gave them.
    Column("sensor_id", Integer, ForeignKey("sensors.id"), nullable=True),
    Column("observed_property_id", Integer, ForeignKey("observed_properties.id"), nullable=True),
    Column("observation_type", String(200), nullable=True),
    Column("unit_of_measurement", JSON, nullable=True),
    Index(None, "thing_id"),
    Index(None, "metric"),
)

# Observations: times are UTC epoch milliseconds on both stores (one integer compares, sorts,
# buckets and COPYs faster than a timestamp, and keeps the two stores' SQL the same). One row per
# (datastream, time): a repeated reading is a no-op. PostgreSQL partitions by time range
# (storage/observation_partitions.py creates them); SQLite keeps the key as the table's order.
observations = Table(
    "observations",
    metadata,
    Column("datastream_id", Integer, primary_key=True, autoincrement=False),
    Column("phenomenon_time", BigInteger, primary_key=True, autoincrement=False),
    Column("result", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
    sqlite_with_rowid=False,
    postgresql_partition_by="RANGE (phenomenon_time)",
)


def _rollup_table(name: str) -> Table:
    """Return a rollup level's table: per datastream and bucket start, mergeable aggregates.

    ``aux_a``/``aux_b`` carry the sums a metric's own mean needs: Σ10^(L/10) for sound levels
    (energy mean), Σsin and Σcos for directions (vector mean); NULL for the others.
    """
    return Table(
        name,
        metadata,
        Column("datastream_id", Integer, primary_key=True, autoincrement=False),
        Column("bucket", BigInteger, primary_key=True, autoincrement=False),
        Column("n", Integer, nullable=False),
        Column("total", Float, nullable=False),
        Column("minimum", Float, nullable=False),
        Column("maximum", Float, nullable=False),
        Column("first_time", BigInteger, nullable=False),
        Column("first_value", Float, nullable=False),
        Column("last_time", BigInteger, nullable=False),
        Column("last_value", Float, nullable=False),
        Column("aux_a", Float, nullable=True),
        Column("aux_b", Float, nullable=True),
        sqlite_with_rowid=False,
    )


rollups_minute = _rollup_table("rollups_minute")
rollups_hour = _rollup_table("rollups_hour")
rollups_day = _rollup_table("rollups_day")

# The newest good reading of each datastream (latest-value queries, device online state).
stream_latest = Table(
    "stream_latest",
    metadata,
    Column("datastream_id", Integer, primary_key=True, autoincrement=False),
    Column("phenomenon_time", BigInteger, nullable=False),
    Column("result", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
)

# SensorThings entities beyond things and datastreams (OGC 18-088 §8.2). A thing's point and
# placement (things.lon/lat/grid_code) follow its newest linked Location with a Point.
sensors = Table(
    "sensors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("encoding_type", String(100), nullable=False),
    Column("metadata", String(4000), nullable=False),
    Column("properties", JSON, nullable=False),
)

# Each observed property names the catalogue metric its readings are stored as.
observed_properties = Table(
    "observed_properties",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("definition", String(500), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("metric", String(32), nullable=False),
    Column("properties", JSON, nullable=False),
    Index(None, "metric"),
)

locations = Table(
    "locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False),
    Column("encoding_type", String(100), nullable=False),
    Column("location", JSON, nullable=False),  # GeoJSON geometry (or Feature)
    Column("properties", JSON, nullable=False),
)

thing_locations = Table(
    "thing_locations",
    metadata,
    Column("thing_id", Integer, ForeignKey("things.id"), primary_key=True),
    Column("location_id", Integer, ForeignKey("locations.id"), primary_key=True),
    Index(None, "location_id"),
)

historical_locations = Table(
    "historical_locations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thing_id", Integer, ForeignKey("things.id"), nullable=False),
    Column("location_id", Integer, ForeignKey("locations.id"), nullable=False),
    Column("time", BigInteger, nullable=False),  # UTC epoch ms
    Index(None, "thing_id"),
)

# --------------------------------------------------------------------------- alerts
alert_rules = Table(
    "alert_rules",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("definition", JSON, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("rule_key", String(64), nullable=False),
    Column("level", String(3), nullable=False),
    Column("status", String(12), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("datastream_id", Integer, nullable=True),
    Column("thing_id", Integer, nullable=True),
    Column("grid_code", String(15), nullable=True),
    Column("department_code", String(18), nullable=True),
    Column("message", String(500), nullable=False),
    Column("value", Float, nullable=True),
    Column("raised_at", UtcDateTime, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
    Column("occurrences", Integer, nullable=False),
    Column("acknowledged_at", UtcDateTime, nullable=True),
    Column("acknowledged_by", String(100), nullable=True),
    Column("resolved_at", UtcDateTime, nullable=True),
    Column("resolved_by", String(100), nullable=True),
    Column("resolution", String(8), nullable=True),
    Column("case_id", BigId, nullable=True),
    Column("extra", JSON, nullable=False),
    Index(None, "status"),
    Index(None, "rule_key", "subject"),
    Index(None, "grid_code"),
)

# --------------------------------------------------------------------------- webhooks
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("url", String(1000), nullable=False),
    Column("secret", String(100), nullable=False),
    Column("events", JSON, nullable=False),
    Column("description", String(200), nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("webhook_id", Integer, ForeignKey("webhooks.id", ondelete="CASCADE"), nullable=False),
    Column("event_id", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),  # pending, delivered, failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime, nullable=False),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(500), nullable=True),
    Column("delivered_at", UtcDateTime, nullable=True),
    Index(None, "webhook_id", "event_id", unique=True),
    Index(None, "status", "next_attempt_at"),
)
