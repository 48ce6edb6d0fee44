"""Things, datastreams and observations, aligned with the OGC SensorThings API v1.1 entities.

* A :class:`Thing` is a device (an air station, a noise monitor, a manhole-cover sensor) with a
  stable ``key`` (the code the device sends), a point, and the grid, community, street and
  district that point falls in (placed when the thing is registered or moved).
* A :class:`Datastream` is one measured property of a thing: a metric of the catalogue
  (:mod:`cityops.sensing.metrics`), stored in the metric's canonical unit, with a valid range
  (the metric's unless narrowed) and the interval the device is expected to report at.
* Observations travel in columns (:class:`ObservationBatch`): an ingest batch holds up to tens of
  thousands of readings, and one small object per reading would cost more than storing it.

Times are kept as UTC epoch milliseconds in batches (one integer per reading) and as aware
datetimes everywhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

OBSERVATION_TYPE = (
    "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"  # STA 8.2.4
)
ENCODING_GEOJSON = "application/geo+json"

QUALITY_CODES = {"good": 0, "suspect": 1, "estimated": 2, "bad": 3}
"""Quality flags an observation may carry; ``bad`` readings are stored but left out of rollups."""
QUALITY_NAMES = {code: name for name, code in QUALITY_CODES.items()}
BAD = QUALITY_CODES["bad"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MINUTE_ROLLUP_BELOW_SECONDS = 60
"""Datastreams expected to report more often than this keep minute rollup rows.

A minute of one reading is that reading: for a datastream reporting once a minute or less often,
a minute rollup row would copy each raw row and double the write per reading, so its minute level
is read from its raw readings (grouped by minute at read time, exact however many readings a
minute holds) and its raw readings are kept as long as minute rollups are.
"""


def keeps_minute_rollups(interval_seconds: int) -> bool:
    """Return whether a datastream reporting every ``interval_seconds`` keeps minute rows."""
    return interval_seconds < MINUTE_ROLLUP_BELOW_SECONDS


def to_millis(moment: datetime) -> int:
    """Return an aware datetime as UTC epoch milliseconds (sub-millisecond parts dropped)."""
    delta = moment - EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def from_millis(millis: int) -> datetime:
    """Return UTC epoch milliseconds as an aware UTC datetime."""
    return EPOCH + timedelta(milliseconds=millis)


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a thing stands on the unit grid (None outside every grid)."""

    grid_code: str | None = None
    community_code: str | None = None
    street_code: str | None = None
    district_code: str | None = None


@dataclass(frozen=True, slots=True)
class Thing:
    """A device with its location (SensorThings Thing + Location)."""

    id: int
    key: str
    name: str
    description: str
    lon: float | None
    lat: float | None
    placement: Placement
    properties: Mapping[str, Any]
    created_at: datetime
    updated_at: datetime

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "id": self.id,
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "lon": self.lon,
            "lat": self.lat,
            "grid_code": self.placement.grid_code,
            "community_code": self.placement.community_code,
            "street_code": self.placement.street_code,
            "district_code": self.placement.district_code,
            "properties": dict(self.properties),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class Datastream:
    """One measured property of a thing (SensorThings Datastream + Sensor + ObservedProperty)."""

    id: int
    key: str
    thing_id: int
    metric: str
    name: str
    description: str
    unit: str  # the metric's canonical unit (UCUM), the only unit stored
    minimum: float  # valid range; a reading outside it is refused
    maximum: float
    interval_seconds: int  # how often the device is expected to report
    sensor: str
    properties: Mapping[str, Any]
    created_at: datetime
    # fixed when registered (keeps_minute_rollups): its minute level is rollup rows, or else
    # its raw readings
    minute_rollups: bool = True

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "id": self.id,
            "key": self.key,
            "thing_id": self.thing_id,
            "metric": self.metric,
            "name": self.name,
            "description": self.description,
            "unit": self.unit,
            "minimum": self.minimum,
            "maximum": self.maximum,
            "interval_seconds": self.interval_seconds,
            "minute_rollups": self.minute_rollups,
            "sensor": self.sensor,
            "properties": dict(self.properties),
            "created_at": self.created_at.isoformat(),
        }


@dataclass(slots=True)
class ObservationBatch:
    """Readings in columns: datastream id, UTC epoch ms, value (canonical unit), quality code."""

    streams: list[int] = field(default_factory=list)
    times: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    qualities: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.streams)

    def append(self, stream: int, millis: int, value: float, quality: int = 0) -> None:
        """Add one reading."""
        self.streams.append(stream)
        self.times.append(millis)
        self.values.append(value)
        self.qualities.append(quality)

    def extend(self, other: ObservationBatch) -> None:
        """Add every reading of ``other``."""
        self.streams.extend(other.streams)
        self.times.extend(other.times)
        self.values.extend(other.values)
        self.qualities.extend(other.qualities)


@dataclass(frozen=True, slots=True)
class ItemError:
    """Why one item of a batch was refused: its position, the field and the broken rule."""

    index: int
    field: str
    rule: str
    message: str

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "index": self.index,
            "field": self.field,
            "rule": self.rule,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What the store did with a batch: rows new to it, and rows it already had."""

    inserted: int
    duplicates: int


@dataclass(frozen=True, slots=True)
class IngestReport:
    """The answer to a batch: how many were stored, already known, refused, and why."""

    received: int
    accepted: int
    duplicates: int
    errors: tuple[ItemError, ...] = ()

    @property
    def rejected(self) -> int:
        """How many items were refused."""
        return len(self.errors)

    def as_json(self, max_errors: int = 1000) -> dict[str, Any]:
        """Return JSON-ready data (the first ``max_errors`` errors)."""
        return {
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "errors": [e.as_json() for e in self.errors[:max_errors]],
            "errors_truncated": self.rejected > max_errors,
        }
