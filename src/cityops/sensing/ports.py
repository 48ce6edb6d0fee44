"""What the sensing domain needs from a store: devices, datastreams, observations, rollups."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple, Protocol

from cityops.kernel.uow import UnitOfWork
from cityops.sensing.model import (
    Datastream,
    ObservationBatch,
    Placement,
    Thing,
    WriteResult,
    keeps_minute_rollups,
)


class Reading(NamedTuple):
    """One stored reading: datastream, time (UTC epoch ms), value, quality code."""

    datastream_id: int
    time: int
    value: float
    quality: int


class Bucket(NamedTuple):
    """One rollup bucket of one datastream (mergeable aggregates)."""

    datastream_id: int
    start: int
    n: int
    total: float
    minimum: float
    maximum: float
    first_time: int
    first_value: float
    last_time: int
    last_value: float
    aux_a: float | None
    aux_b: float | None


@dataclass(frozen=True, slots=True)
class NewThing:
    """A thing to register (its id is given by the store)."""

    key: str
    name: str
    description: str
    lon: float | None
    lat: float | None
    placement: Placement
    properties: Mapping[str, Any]
    at: datetime


@dataclass(frozen=True, slots=True)
class NewDatastream:
    """A datastream to register."""

    key: str
    thing_id: int
    metric: str
    name: str
    description: str
    unit: str
    minimum: float
    maximum: float
    interval_seconds: int
    sensor: str
    properties: Mapping[str, Any]
    at: datetime

    @property
    def minute_rollups(self) -> bool:
        """Whether its minute level is kept as rollup rows (else read from raw readings)."""
        return keeps_minute_rollups(self.interval_seconds)


class ThingRepository(Protocol):
    """Things (devices) in a store."""

    def add(self, thing: NewThing) -> int:
        """Insert a thing and return its id; a repeated key raises Conflict."""
        ...

    def update(self, thing: Thing) -> None:
        """Replace a thing's fields (by id)."""
        ...

    def get(self, thing_id: int) -> Thing | None:
        """Return a thing by id."""
        ...

    def by_key(self, key: str) -> Thing | None:
        """Return a thing by key."""
        ...

    def list(self, *, grid_prefix: str | None = None) -> list[Thing]:
        """Return things by id (those whose grid code starts with ``grid_prefix``)."""
        ...


class DatastreamRepository(Protocol):
    """Datastreams in a store."""

    def add(self, stream: NewDatastream) -> int:
        """Insert a datastream and return its id; a repeated key raises Conflict."""
        ...

    def get(self, stream_id: int) -> Datastream | None:
        """Return a datastream by id."""
        ...

    def by_key(self, key: str) -> Datastream | None:
        """Return a datastream by key."""
        ...

    def list(self, *, thing_id: int | None = None) -> list[Datastream]:
        """Return datastreams by id (of one thing)."""
        ...

    def thing_keys(self) -> dict[int, str]:
        """Return every thing's key by id."""
        ...


class ObservationStore(Protocol):
    """The bulk write of readings with their rollups."""

    def write(
        self,
        batch: ObservationBatch,
        aux_a: Sequence[float | None] | None = None,
        aux_b: Sequence[float | None] | None = None,
    ) -> WriteResult:
        """Store the readings new to the store and queue the good ones for the fold."""
        ...

    def fold(self, limit: int, part: int = 0, parts: int = 1, *, wait: bool = True) -> int:
        """Merge up to ``limit`` queued readings into the rollups; return how many.

        ``parts`` > 1 takes only the datastreams whose id is ``part`` modulo ``parts``, so that
        several folds can run at once on disjoint buckets (stores that allow it). With ``wait``
        False a fold that would wait for another fold of the same buckets folds nothing.
        """
        ...


class ObservationRetention(Protocol):
    """Deleting what is older than the retention settings."""

    def prune(self, raw_before: int | None, minutes_before: int | None) -> dict[str, int]:
        """Delete raw readings and minute rollups older than the cut-offs (epoch ms)."""
        ...


class ObservationReads(Protocol):
    """Reads of readings and rollups."""

    def latest(self, stream_ids: Sequence[int] | None = None) -> list[Reading]:
        """Return the newest good reading of each stream (all streams when None)."""
        ...

    def readings(
        self,
        stream_ids: Sequence[int],
        start: int,
        end: int,
        *,
        limit: int,
        newest_first: bool = False,
    ) -> list[Reading]:
        """Return raw readings in ``[start, end)`` (epoch ms), by stream then time."""
        ...

    def buckets(self, level: str, stream_ids: Sequence[int], start: int, end: int) -> list[Bucket]:
        """Return the rollup buckets of a level starting in ``[start, end)``."""
        ...

    def queued(self, at_least: int = 1, part: int = 0, parts: int = 1) -> bool:
        """Return whether ``at_least`` readings wait to be folded (of one part's datastreams)."""
        ...


class SensingUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the sensing repositories."""

    @property
    def things(self) -> ThingRepository:
        """Things."""
        ...

    @property
    def datastreams(self) -> DatastreamRepository:
        """Datastreams."""
        ...

    @property
    def observations(self) -> ObservationStore:
        """The bulk write of readings."""
        ...

    @property
    def observation_retention(self) -> ObservationRetention:
        """Deleting old readings."""
        ...

    @property
    def observation_reads(self) -> ObservationReads:
        """Reads of readings and rollups."""
        ...
