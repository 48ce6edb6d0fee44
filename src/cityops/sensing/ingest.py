"""Ingest readings: check each item, keep the good ones, store them with their rollups.

Every door (the HTTP batch, MQTT, SensorThings) ends in :meth:`IngestService.ingest`: the items
are decoded and checked (:mod:`cityops.sensing.decode`), repeated (datastream, time) pairs within
the batch keep their first reading, the store adds the readings it did not have (a repeated
reading is a no-op, so a retried batch is harmless) and merges them into the rollups, and the
call returns only after the commit: what it reports as accepted is durable.

A batch is at most 10,000 items. Each item is accepted or refused on its own; the report names
each refusal's position, field and rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.decode import MAX_BATCH, Decoder
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import IngestReport, ObservationBatch, WriteResult, to_millis
from cityops.sensing.ports import SensingUnitOfWork
from cityops.sensing.registry import StreamRegistry

KEY_SHIFT = 42  # epoch ms < 2**42 until the year 2109: (stream, time) packs into one integer


def first_of_each_key(batch: ObservationBatch) -> ObservationBatch:
    """Return the batch without repeated (datastream, time) pairs, keeping the first reading."""
    keys = [(s << KEY_SHIFT) | t for s, t in zip(batch.streams, batch.times, strict=True)]
    if len(set(keys)) == len(keys):
        return batch
    seen: set[int] = set()
    kept = ObservationBatch()
    for i, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            kept.append(batch.streams[i], batch.times[i], batch.values[i], batch.qualities[i])
    return kept


class IngestService:
    """Checks and stores readings; shared by every ingest door."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        clock: Clock,
        registry: StreamRegistry,
        decoder: Decoder,
        *,
        on_stored: Callable[[ObservationBatch], object] = lambda batch: None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._registry = registry
        self._decoder = decoder
        self._on_stored = on_stored

    def ingest(
        self,
        principal: Principal,
        items: Sequence[Any],
        *,
        prefix: str = "observations",
        datastream: int | str | None = None,
    ) -> IngestReport:
        """Check and store a batch of items; return what was accepted and what was refused."""
        principal.require_somewhere("telemetry:write")
        if len(items) > MAX_BATCH:
            raise ValidationFailed.single(
                prefix, "max_items", f"at most {MAX_BATCH:,} items per batch, got {len(items):,}"
            )
        batch, errors = self._decoder.decode(
            items, to_millis(self._clock.now()), prefix=prefix, datastream=datastream
        )
        stored = self.store(batch)
        return IngestReport(
            received=len(items),
            accepted=stored.inserted,
            duplicates=len(batch) - stored.inserted,
            errors=tuple(errors),
        )

    def store(self, batch: ObservationBatch) -> WriteResult:
        """Store already checked readings (the MQTT worker's merged batches come here)."""
        batch = first_of_each_key(batch)
        if not batch:
            return WriteResult(0, 0)
        aux_a, aux_b = self._auxiliary(batch)
        with self._unit_of_work() as uow:
            result = uow.observations.write(batch, aux_a, aux_b)
            uow.commit()
        self._on_stored(batch)
        return result

    def _auxiliary(
        self, batch: ObservationBatch
    ) -> tuple[list[float | None] | None, list[float | None] | None]:
        """Return the sums energy and vector means need (None when no reading needs them)."""
        snapshot = self._registry.snapshot()
        kinds: dict[int, str] = {}
        for stream_id in set(batch.streams):
            stream = snapshot.by_id.get(stream_id)
            kind = catalogue_metric(stream.metric).aggregation if stream else "mean"
            if kind in ("energy_mean", "vector_mean"):
                kinds[stream_id] = kind
        if not kinds:
            return None, None
        aux_a: list[float | None] = []
        aux_b: list[float | None] = []
        for stream_id, value in zip(batch.streams, batch.values, strict=True):
            needs = kinds.get(stream_id)
            if needs == "energy_mean":
                aux_a.append(10 ** (value / 10))
                aux_b.append(None)
            elif needs == "vector_mean":
                angle = math.radians(value)
                aux_a.append(math.sin(angle))
                aux_b.append(math.cos(angle))
            else:
                aux_a.append(None)
                aux_b.append(None)
        return aux_a, aux_b
