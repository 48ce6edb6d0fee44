"""Time-series queries: latest values, raw ranges and aggregates by interval and by division.

Which datastreams a query reads is chosen by datastream ids or keys, or by a metric with an
optional thing and division code (a grid, community, street or district code: the things placed
under it). Aggregates come from the rollups (see :mod:`cityops.sensing.aggregate`), grouped per
datastream or pooled per grid, community, street or district: a division's value pools its
stations' readings (each reading counts once). Percentiles read raw readings.

Every datastream read is checked against the principal's ``telemetry:read`` scope (the grid of
its thing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.aggregate import (
    FUNCTIONS,
    PERCENTILES,
    interval_start,
    merge,
    parse_interval,
    percentile,
    rollup_level,
)
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import Datastream, Thing, from_millis, to_millis
from cityops.sensing.ports import SensingUnitOfWork

GROUPS = ("datastream", "grid", "community", "street", "district", "all")
MAX_RAW = 100_000
MAX_POINTS = 20_000


@dataclass(frozen=True, slots=True)
class Selection:
    """Which datastreams to read: ids/keys, or a metric with an optional thing and division."""

    datastreams: tuple[str, ...] = ()
    metric: str | None = None
    thing: str | None = None
    division: str | None = None


class TimeseriesService:
    """Reads latest values, raw readings and aggregates."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        clock: Clock,
        offset_ms: int,
        *,
        catalog_max_age: float = 5.0,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._offset = offset_ms
        # Every query picks its datastreams from all of them: keep that list for a few seconds
        # (and drop it whenever a device or datastream changes) instead of reading it each time.
        self._catalog_max_age = catalog_max_age
        self._catalog: tuple[float, dict[int, Thing], list[Datastream]] | None = None
        self._catalog_lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the devices and datastreams read (one was added or changed)."""
        self._catalog = None

    def _things_and_streams(
        self, uow: SensingUnitOfWork
    ) -> tuple[dict[int, Thing], list[Datastream]]:
        cached = self._catalog
        if cached is not None and time.monotonic() - cached[0] < self._catalog_max_age:
            return cached[1], cached[2]
        with self._catalog_lock:
            things = {t.id: t for t in uow.things.list()}
            streams = uow.datastreams.list()
            self._catalog = (time.monotonic(), things, streams)
        return things, streams

    def latest(self, principal: Principal, selection: Selection) -> list[dict[str, Any]]:
        """Return the newest good reading of each selected datastream."""
        with self._unit_of_work(read_only=True) as uow:
            streams, things = self._select(uow, principal, selection)
            found = {r.datastream_id: r for r in uow.observation_reads.latest(list(streams))}
        return [
            {
                "datastream": stream.key,
                "datastream_id": stream.id,
                "thing": things[stream.thing_id].key,
                "metric": stream.metric,
                "unit": stream.unit,
                "time": from_millis(found[stream.id].time).isoformat()
                if stream.id in found
                else None,
                "value": found[stream.id].value if stream.id in found else None,
            }
            for stream in streams.values()
        ]

    def query(
        self,
        principal: Principal,
        selection: Selection,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        interval: str | None = None,
        functions: Sequence[str] = ("avg",),
        group_by: str = "datastream",
        limit: int = 10_000,
    ) -> dict[str, Any]:
        """Return raw readings (no ``interval``) or aggregates per interval and group."""
        end = end or self._clock.now()
        start = start or end - timedelta(days=1)
        if start >= end:
            raise ValidationFailed.single("start", "before_end", "start must be before end")
        if group_by not in GROUPS:
            raise ValidationFailed.single("group_by", "one_of", f"one of {', '.join(GROUPS)}")
        for function in functions:
            if function not in FUNCTIONS and function not in PERCENTILES:
                known = ", ".join((*FUNCTIONS, *PERCENTILES))
                raise ValidationFailed.single("functions", "one_of", f"{function!r}: use {known}")
        start_ms, end_ms = to_millis(start), to_millis(end)
        with self._unit_of_work(read_only=True) as uow:
            streams, things = self._select(uow, principal, selection)
            if interval is None:
                if not 1 <= limit <= MAX_RAW:
                    raise ValidationFailed.single("limit", "range", f"from 1 to {MAX_RAW:,}")
                readings = uow.observation_reads.readings(
                    list(streams), start_ms, end_ms, limit=limit
                )
                return {
                    "start": start.isoformat(),
                    "end": end.isoformat(),
                    "series": self._raw_series(streams, things, readings),
                    "truncated": len(readings) >= limit,
                }
            interval_ms = parse_interval(interval)
            if (end_ms - start_ms) // interval_ms > MAX_POINTS:
                raise ValidationFailed.single(
                    "interval", "max_points", f"at most {MAX_POINTS:,} intervals per query"
                )
            groups = self._groups(streams, things, group_by)
            level = rollup_level(interval_ms)
            first = interval_start(start_ms, interval_ms, self._offset)
            if level is None:
                raise ValidationFailed.single(
                    "interval", "whole_minutes", "intervals are whole minutes, hours or days"
                )
            buckets = uow.observation_reads.buckets(level, list(streams), first, end_ms)
            merged = merge(buckets, interval_ms, self._offset, groups)
            wanted = [f for f in functions if f in PERCENTILES]
            raw = (
                uow.observation_reads.readings(list(streams), first, end_ms, limit=MAX_RAW * 10)
                if wanted
                else []
            )
        return {
            "start": start.isoformat(),
            "end": end.isoformat(),
            "interval": interval,
            "group_by": group_by,
            "series": self._aggregate_series(streams, groups, merged, raw, functions, interval_ms),
        }

    # ---------------------------------------------------------------- selection

    def _select(
        self, uow: SensingUnitOfWork, principal: Principal, selection: Selection
    ) -> tuple[dict[int, Datastream], dict[int, Thing]]:
        principal.require_somewhere("telemetry:read")
        things, every = self._things_and_streams(uow)
        if selection.datastreams:
            by_key = {s.key: s for s in every}
            by_id = {str(s.id): s for s in every}
            chosen = []
            for ref in selection.datastreams:
                found = by_key.get(ref) or by_id.get(ref)
                if found is None:
                    raise ValidationFailed.single(
                        "datastream", "known_datastream", f"no datastream {ref!r}"
                    )
                chosen.append(found)
        elif selection.metric:
            catalogue_metric(selection.metric)
            chosen = [s for s in every if s.metric == selection.metric]
        else:
            raise ValidationFailed.single(
                "datastream", "required", "name datastreams, or a metric (with a division)"
            )
        if selection.thing:
            chosen = [s for s in chosen if things[s.thing_id].key == selection.thing]
        if selection.division:
            chosen = [
                s
                for s in chosen
                if (things[s.thing_id].placement.grid_code or "").startswith(selection.division)
            ]
        allowed = {
            s.id: s
            for s in chosen
            if principal.can(
                "telemetry:read", ResourceScope(things[s.thing_id].placement.grid_code)
            )
        }
        return allowed, things

    @staticmethod
    def _groups(
        streams: dict[int, Datastream], things: dict[int, Thing], group_by: str
    ) -> dict[int, str]:
        if group_by == "datastream":
            return {s.id: s.key for s in streams.values()}
        if len({s.metric for s in streams.values()}) > 1:
            raise ValidationFailed.single(
                "group_by", "one_metric", "pooling by division needs datastreams of one metric"
            )
        groups: dict[int, str] = {}
        for stream in streams.values():
            placement = things[stream.thing_id].placement
            code = {
                "grid": placement.grid_code,
                "community": placement.community_code,
                "street": placement.street_code,
                "district": placement.district_code,
                "all": "all",
            }[group_by]
            if code is not None:
                groups[stream.id] = code
        return groups

    # ---------------------------------------------------------------- answers

    @staticmethod
    def _raw_series(
        streams: dict[int, Datastream], things: dict[int, Thing], readings: Sequence[Any]
    ) -> list[dict[str, Any]]:
        points: dict[int, list[dict[str, Any]]] = {sid: [] for sid in streams}
        for reading in readings:
            points[reading.datastream_id].append(
                {
                    "time": from_millis(reading.time).isoformat(),
                    "value": reading.value,
                    "quality": reading.quality,
                }
            )
        return [
            {
                "key": stream.key,
                "datastream_id": stream.id,
                "thing": things[stream.thing_id].key,
                "metric": stream.metric,
                "unit": stream.unit,
                "points": points[stream.id],
            }
            for stream in streams.values()
        ]

    def _aggregate_series(
        self,
        streams: dict[int, Datastream],
        groups: dict[int, str],
        merged: dict[tuple[str, int], Any],
        raw: Sequence[Any],
        functions: Sequence[str],
        interval_ms: int,
    ) -> list[dict[str, Any]]:
        metric_of = {groups[s.id]: s.metric for s in streams.values() if s.id in groups}
        values: dict[tuple[str, int], list[float]] = {}
        for reading in raw:
            group = groups.get(reading.datastream_id)
            if group is not None and reading.quality != 3:
                start = interval_start(reading.time, interval_ms, self._offset)
                values.setdefault((group, start), []).append(reading.value)
        series: dict[str, list[dict[str, Any]]] = {key: [] for key in metric_of}
        for (group, start), bucket in sorted(merged.items()):
            kind = catalogue_metric(metric_of[group]).aggregation
            point: dict[str, Any] = {"time": from_millis(start).isoformat()}
            for function in functions:
                if function in PERCENTILES:
                    point[function] = percentile(
                        values.get((group, start), []), PERCENTILES[function]
                    )
                else:
                    point[function] = bucket.value(function, kind)
            series[group].append(point)
        return [
            {
                "key": group,
                "metric": metric_of[group],
                "unit": catalogue_metric(metric_of[group]).unit,
                "points": points,
            }
            for group, points in series.items()
        ]
