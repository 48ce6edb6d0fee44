"""What the SensorThings API (``/sta/v1.1/``) needs from a store, beyond things and datastreams.

The small entity sets (Sensors, ObservedProperties, Locations, the links of things to locations,
HistoricalLocations and the SensorThings columns of datastreams) are read whole or by id and
filtered in Python (:mod:`cityops.sensing.sta_eval`); Observations are far too many for that, so
their ``$filter`` and ``$orderby`` reach the store as a small, checked expression tree
(:class:`ObsQuery`, built by :mod:`cityops.sensing.sta_obs_plan`) that the store prints as SQL.
The tree names only the observation columns and holds only numbers, so nothing a client writes
reaches the SQL text.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from cityops.sensing.ports import Reading, SensingUnitOfWork


@dataclass(frozen=True, slots=True)
class SensorRow:
    """A Sensor (an instrument, or the procedure producing a datastream's readings)."""

    id: int
    name: str
    description: str
    encoding_type: str
    metadata: str
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ObservedPropertyRow:
    """An ObservedProperty; ``metric`` is the catalogue metric its readings are stored as."""

    id: int
    name: str
    definition: str
    description: str
    metric: str
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class LocationRow:
    """A Location: ``location`` is a GeoJSON geometry or Feature."""

    id: int
    name: str
    description: str
    encoding_type: str
    location: Mapping[str, Any]
    properties: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class HistoricalLocationRow:
    """A thing was at a location from ``time`` (UTC epoch ms) on."""

    id: int
    thing_id: int
    location_id: int
    time: int


@dataclass(frozen=True, slots=True)
class DatastreamLinks:
    """A datastream's SensorThings links and declarations (None where never given)."""

    datastream_id: int
    sensor_id: int | None
    observed_property_id: int | None
    observation_type: str | None
    unit_of_measurement: Mapping[str, Any] | None


# --- the Observations query tree ----------------------------------------------------------------

ObsColumn = typing.Literal["datastream_id", "phenomenon_time", "result", "quality", "id"]
ArithmeticSign = typing.Literal["+", "-", "*", "/"]
CompareSign = typing.Literal["=", "<>", "<", "<=", ">", ">="]


@dataclass(frozen=True, slots=True)
class Col:
    """An observation column; ``id`` is ``datastream_id * 2**42 + phenomenon_time``."""

    name: ObsColumn


@dataclass(frozen=True, slots=True)
class Num:
    """A number (a bound parameter, never SQL text)."""

    value: int | float


@dataclass(frozen=True, slots=True)
class Arith:
    """``left sign right``; a division by zero gives NULL (never an error)."""

    sign: ArithmeticSign
    left: ValueExpr
    right: ValueExpr


@dataclass(frozen=True, slots=True)
class Cmp:
    """``left sign right``: true, false, or NULL (treated as false) when a side is NULL."""

    sign: CompareSign
    left: ValueExpr
    right: ValueExpr


@dataclass(frozen=True, slots=True)
class InStreams:
    """The observation's datastream is one of ``ids`` (an empty tuple is false)."""

    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Const:
    """A constant truth value."""

    value: bool


@dataclass(frozen=True, slots=True)
class BoolOp:
    """``and`` or ``or`` over two or more operands."""

    op: typing.Literal["and", "or"]
    operands: tuple[BoolExpr, ...]


@dataclass(frozen=True, slots=True)
class Negate:
    """``not operand``; operands are never NULL, so SQL's NOT is OData's."""

    operand: BoolExpr


ValueExpr: typing.TypeAlias = Col | Num | Arith
BoolExpr: typing.TypeAlias = Cmp | InStreams | Const | BoolOp | Negate


@dataclass(frozen=True, slots=True)
class ObsOrder:
    """One sort key."""

    column: ObsColumn
    descending: bool = False


@dataclass(frozen=True, slots=True)
class ObsQuery:
    """Which observations, in which order, which page (``limit`` None: all)."""

    where: BoolExpr | None = None
    order: tuple[ObsOrder, ...] = ()
    limit: int | None = None
    offset: int = 0


# --- the repositories ---------------------------------------------------------------------------


class StaRepository(Protocol):
    """SensorThings entities beyond things and datastreams, and the datastreams' links."""

    def sensors(self, ids: Sequence[int] | None = None) -> list[SensorRow]:
        """Return sensors by id (all when ``ids`` is None)."""
        ...

    def observed_properties(self, ids: Sequence[int] | None = None) -> list[ObservedPropertyRow]:
        """Return observed properties by id (all when ``ids`` is None)."""
        ...

    def locations(self, ids: Sequence[int] | None = None) -> list[LocationRow]:
        """Return locations by id (all when ``ids`` is None)."""
        ...

    def thing_locations(self) -> list[tuple[int, int]]:
        """Return every (thing id, location id) link: the things' current locations."""
        ...

    def historical_locations(self) -> list[HistoricalLocationRow]:
        """Return every historical location by id."""
        ...

    def datastream_links(self, ids: Sequence[int] | None = None) -> dict[int, DatastreamLinks]:
        """Return the SensorThings links of datastreams by id (all when ``ids`` is None)."""
        ...

    def unlinked_datastreams(self) -> list[tuple[int, str, str]]:
        """Return (id, metric, sensor text) of datastreams missing a sensor or property link."""
        ...

    def time_spans(self, ids: Sequence[int] | None = None) -> dict[int, tuple[int, int]]:
        """Return each datastream's first and last good reading time (from the day rollups)."""
        ...

    def add_sensor(self, row: SensorRow) -> int:
        """Insert a sensor (``row.id`` is ignored) and return its id."""
        ...

    def add_observed_property(self, row: ObservedPropertyRow) -> int:
        """Insert an observed property (``row.id`` is ignored) and return its id."""
        ...

    def add_location(self, row: LocationRow) -> int:
        """Insert a location (``row.id`` is ignored) and return its id."""
        ...

    def add_historical_location(self, thing_id: int, location_id: int, time: int) -> int:
        """Record that a thing is at a location from ``time`` on; return the record's id."""
        ...

    def set_thing_key(self, thing_id: int, key: str) -> None:
        """Give a thing its cityops key (a repeated key raises Conflict)."""
        ...

    def set_thing_locations(self, thing_id: int, location_ids: Sequence[int]) -> None:
        """Make ``location_ids`` the thing's current locations."""
        ...

    def update_sensor(self, row: SensorRow) -> None:
        """Replace a sensor's fields."""
        ...

    def update_observed_property(self, row: ObservedPropertyRow) -> None:
        """Replace an observed property's fields."""
        ...

    def update_location(self, row: LocationRow) -> None:
        """Replace a location's fields."""
        ...

    def set_datastream_links(self, links: DatastreamLinks) -> None:
        """Replace a datastream's SensorThings links and declarations."""
        ...

    def update_datastream_text(
        self, stream_id: int, name: str, description: str, properties: Mapping[str, Any]
    ) -> None:
        """Replace a datastream's name, description and properties."""
        ...


class StaObservationQueries(Protocol):
    """Observations selected by a query tree."""

    def select(self, query: ObsQuery) -> list[Reading]:
        """Return the page of readings the query selects, in its order."""
        ...

    def count(self, where: BoolExpr | None) -> int:
        """Return how many readings match."""
        ...

    def get(self, stream_id: int, time: int) -> Reading | None:
        """Return one reading."""
        ...


class StaUnitOfWork(SensingUnitOfWork, Protocol):
    """A transaction with the sensing and SensorThings repositories."""

    @property
    def sta(self) -> StaRepository:
        """SensorThings entities and links."""
        ...

    @property
    def sta_observations(self) -> StaObservationQueries:
        """Observation queries."""
        ...
