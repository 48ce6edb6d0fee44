"""The relational schema of sensing, alerts and webhooks (on the one ``metadata`` of schema.py).

Things and datastreams, observations (epoch-ms times, partitioned on PostgreSQL), their rollups
and latest values, the SensorThings entities, alert rules and alerts, webhooks and deliveries.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    true,
)

from cityops.storage.schema import metadata
from cityops.storage.types import BigId, UtcDateTime

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
    # 0013: whether its minute level is rollup rows (else its raw readings); streams older than
    # 0013 have minute rows, so the column's default is true
    Column("minute_rollups", Boolean, nullable=False, server_default=true()),
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


# PostgreSQL page fill for tables whose rows each fold rewrites (the hour and day rollups and the
# latest values): the room left on a page lets an update stay on it (a HOT update: no new index
# entry); a fold of one reading per stream cost 20 µs a reading instead of 28
# (benchmarks/fold_cost.py). Minute rows are written once and rarely merged again: pages filled.
UPDATED_PAGE_FILL = {"hour": 70, "day": 50, "latest": 50}


def _rollup_table(name: str, fillfactor: int = 100) -> Table:
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
        postgresql_with={"fillfactor": fillfactor} if fillfactor < 100 else {},
    )


rollups_minute = _rollup_table("rollups_minute")
rollups_hour = _rollup_table("rollups_hour", UPDATED_PAGE_FILL["hour"])
rollups_day = _rollup_table("rollups_day", UPDATED_PAGE_FILL["day"])

# The newest good reading of each datastream (latest-value queries, device online state).
stream_latest = Table(
    "stream_latest",
    metadata,
    Column("datastream_id", Integer, primary_key=True, autoincrement=False),
    Column("phenomenon_time", BigInteger, nullable=False),
    Column("result", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
    postgresql_with={"fillfactor": UPDATED_PAGE_FILL["latest"]},
)

# The fold queue: new good readings wait here (written in the same transaction as
# ``observations``) until a fold merges them into the rollups and ``stream_latest``. No key: rows
# go in and out in bulk (SQLite's rowid, PostgreSQL's ctid pick the chunks).
obs_pending = Table(
    "obs_pending",
    metadata,
    Column("datastream_id", Integer, nullable=False),
    Column("phenomenon_time", BigInteger, nullable=False),
    Column("result", Float, nullable=False),
    Column("quality", SmallInteger, nullable=False),
    Column("aux_a", Float, nullable=True),
    Column("aux_b", Float, nullable=True),
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
