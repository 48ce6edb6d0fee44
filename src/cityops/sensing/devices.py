"""Register and read devices (things) and their datastreams; tell which devices are online.

A thing's key is the code the device sends (``AQ-0001``); its point is placed on the unit grid
when it is registered or moved, so readings can be summed by grid, community, street and
district. A datastream measures one metric of the catalogue in that metric's canonical unit; its
valid range is the metric's unless narrowed, and its key defaults to ``<thing key>/<metric>``.

A datastream is online while its newest reading is younger than ``grace`` times its expected
interval (3 × by default; a device that reports every minute is offline after three silent
minutes); a thing is online while any of its datastreams is.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.auth.scopes import ResourceScope
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.metrics import metric as catalogue_metric
from cityops.sensing.model import Datastream, Placement, Thing, from_millis
from cityops.sensing.ports import NewDatastream, NewThing, Reading, SensingUnitOfWork

KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:\-]{0,63}")
STREAM_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/\-]{0,127}")
DEFAULT_INTERVAL_SECONDS = 60

Placer = Callable[[float, float], Placement]


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A datastream's newest reading and whether it is online."""

    stream: Datastream
    latest: Reading | None
    online: bool

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        latest = self.latest
        return {
            **self.stream.as_json(),
            "online": self.online,
            "latest": None
            if latest is None
            else {
                "time": from_millis(latest.time).isoformat(),
                "value": latest.value,
                "quality": latest.quality,
            },
        }


def _text(data: Mapping[str, Any], name: str, limit: int, *, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise ValidationFailed.single(name, "required", f"{name} is a non-empty text")
    if len(value) > limit:
        raise ValidationFailed.single(name, "max_length", f"{name} is at most {limit} characters")
    return value.strip()


def _number(data: Mapping[str, Any], name: str) -> float | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValidationFailed.single(name, "number", f"{name} is a finite number")
    return float(value)


def _properties(data: Mapping[str, Any]) -> dict[str, Any]:
    value = data.get("properties") or {}
    if not isinstance(value, Mapping):
        raise ValidationFailed.single("properties", "object", "properties is a JSON object")
    return dict(value)


class DeviceService:
    """Things and datastreams: register, move, list, and their online state."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        clock: Clock,
        place: Placer,
        *,
        on_change: Callable[[], None] = lambda: None,
        grace: float = 3.0,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._place = place
        self._on_change = on_change
        self._grace = grace

    def register_thing(self, principal: Principal, data: Mapping[str, Any]) -> Thing:
        """Register a device; its point (``lon``/``lat``, optional) is placed on the grid."""
        key = _text(data, "key", 64)
        if not KEY.fullmatch(key):
            raise ValidationFailed.single(
                "key",
                "pattern",
                "letters, digits and . _ : - only, starting with one of the first two",
            )
        lon, lat = _number(data, "lon"), _number(data, "lat")
        placement = self._placement(lon, lat)
        grant = principal.authorize("telemetry:write", ResourceScope(placement.grid_code))
        new = NewThing(
            key=key,
            name=_text(data, "name", 100, default=key) or key,
            description=_text(data, "description", 1000, default=""),
            lon=lon,
            lat=lat,
            placement=placement,
            properties=_properties(data),
            at=self._clock.now(),
        )
        with self._unit_of_work() as uow:
            thing_id = uow.things.add(new)
            thing = uow.things.get(thing_id)
            assert thing is not None
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="thing.register",
                    object_type="thing",
                    object_id=str(thing_id),
                    after=thing.as_json(),
                )
            )
            uow.commit()
        self._on_change()
        return thing

    def move_thing(self, principal: Principal, ref: str | int, lon: float, lat: float) -> Thing:
        """Give a thing a new point (placed on the grid again)."""
        placement = self._placement(float(lon), float(lat))
        with self._unit_of_work() as uow:
            before = self._thing(uow, ref)
            grant = principal.authorize(
                "telemetry:write", ResourceScope(before.placement.grid_code)
            )
            principal.authorize("telemetry:write", ResourceScope(placement.grid_code))
            after = replace(
                before, lon=lon, lat=lat, placement=placement, updated_at=self._clock.now()
            )
            uow.things.update(after)
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="thing.move",
                    object_type="thing",
                    object_id=str(before.id),
                    before=before.as_json(),
                    after=after.as_json(),
                )
            )
            uow.commit()
        self._on_change()
        return after

    def add_datastream(
        self, principal: Principal, thing_ref: str | int, data: Mapping[str, Any]
    ) -> Datastream:
        """Add a datastream of one catalogue metric to a thing."""
        metric_key = _text(data, "metric", 32)
        metric = catalogue_metric(metric_key)
        minimum = _number(data, "minimum")
        maximum = _number(data, "maximum")
        low = metric.minimum if minimum is None else minimum
        high = metric.maximum if maximum is None else maximum
        if low >= high:
            raise ValidationFailed.single("maximum", "greater", "maximum must exceed minimum")
        interval = data.get("interval_seconds", DEFAULT_INTERVAL_SECONDS)
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int)
            or not 1 <= interval <= 86_400 * 7
        ):
            raise ValidationFailed.single(
                "interval_seconds", "range", "interval_seconds is a whole number from 1 to 604800"
            )
        with self._unit_of_work() as uow:
            thing = self._thing(uow, thing_ref)
            grant = principal.authorize("telemetry:write", ResourceScope(thing.placement.grid_code))
            key = _text(data, "key", 128, default=f"{thing.key}/{metric.key}")
            if not STREAM_KEY.fullmatch(key):
                raise ValidationFailed.single(
                    "key", "pattern", "letters, digits and . _ : / - only"
                )
            stream_id = uow.datastreams.add(
                NewDatastream(
                    key=key,
                    thing_id=thing.id,
                    metric=metric.key,
                    name=_text(data, "name", 100, default=f"{thing.name} {metric.name_zh}"),
                    description=_text(data, "description", 1000, default=""),
                    unit=metric.unit,
                    minimum=low,
                    maximum=high,
                    interval_seconds=interval,
                    sensor=_text(data, "sensor", 100, default=""),
                    properties=_properties(data),
                    at=self._clock.now(),
                )
            )
            stream = uow.datastreams.get(stream_id)
            assert stream is not None
            uow.audit.append(
                make_entry(
                    self._clock,
                    principal,
                    grant,
                    action="datastream.add",
                    object_type="datastream",
                    object_id=str(stream_id),
                    after=stream.as_json(),
                )
            )
            uow.commit()
        self._on_change()
        return stream

    def things(self, principal: Principal, *, grid_prefix: str | None = None) -> list[Thing]:
        """Return the things the principal may read."""
        principal.require_somewhere("telemetry:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.things.list(grid_prefix=grid_prefix)
        return [
            t
            for t in found
            if principal.can("telemetry:read", ResourceScope(t.placement.grid_code))
        ]

    def thing(self, principal: Principal, ref: str | int) -> tuple[Thing, list[StreamStatus]]:
        """Return a thing with its datastreams' newest readings and online state."""
        with self._unit_of_work(read_only=True) as uow:
            thing = self._thing(uow, ref)
            principal.authorize("telemetry:read", ResourceScope(thing.placement.grid_code))
            streams = uow.datastreams.list(thing_id=thing.id)
            latest = {
                r.datastream_id: r for r in uow.observation_reads.latest([s.id for s in streams])
            }
        now = self._clock.now()
        return thing, [self._status(s, latest.get(s.id), now) for s in streams]

    def datastreams(self, principal: Principal) -> list[StreamStatus]:
        """Return every datastream the principal may read, with its online state."""
        principal.require_somewhere("telemetry:read")
        with self._unit_of_work(read_only=True) as uow:
            things = {t.id: t for t in uow.things.list()}
            streams = uow.datastreams.list()
            latest = {r.datastream_id: r for r in uow.observation_reads.latest()}
        now = self._clock.now()
        return [
            self._status(s, latest.get(s.id), now)
            for s in streams
            if principal.can(
                "telemetry:read", ResourceScope(things[s.thing_id].placement.grid_code)
            )
        ]

    def _status(self, stream: Datastream, latest: Reading | None, now: datetime) -> StreamStatus:
        online = latest is not None and now - from_millis(latest.time) <= timedelta(
            seconds=self._grace * stream.interval_seconds
        )
        return StreamStatus(stream, latest, online)

    def _placement(self, lon: float | None, lat: float | None) -> Placement:
        if lon is None and lat is None:
            return Placement()
        if lon is None or lat is None:
            missing = "lat" if lat is None else "lon"
            raise ValidationFailed.single(missing, "required", "give both lon and lat, or neither")
        if not -180 <= lon <= 180:
            raise ValidationFailed.single("lon", "range", "longitude must be in [-180, 180]")
        if not -90 <= lat <= 90:
            raise ValidationFailed.single("lat", "range", "latitude must be in [-90, 90]")
        return self._place(lon, lat)

    @staticmethod
    def _thing(uow: SensingUnitOfWork, ref: str | int) -> Thing:
        found = uow.things.get(ref) if isinstance(ref, int) else uow.things.by_key(ref)
        if found is None and isinstance(ref, str) and ref.isascii() and ref.isdigit():
            found = uow.things.get(int(ref))
        if found is None:
            raise NotFound(f"no thing {ref!r}")
        return found
