"""City indices from stored readings: air, noise, water and traffic, per station and division.

The standards' arithmetic lives in :mod:`cityops.analytics` (``aqi``, ``noise``, ``water``,
``traffic``); this service feeds it from the time series (:class:`TimeseriesService`, which
checks ``telemetry:read`` on every datastream it reads) and from the device registry (a thing's
place on the grid and its ``properties``), so the map shows what the standards would publish:

* **air** (HJ 633): hourly (实时报) from the 1 h means of the hour ending at ``at``; daily (日报)
  from the 24 h means and the O₃ daily maximum 8 h average of a local day, all from hourly means
  with the validity rules of :mod:`cityops.sensing.air_report`; a division's concentrations are
  the means of its stations' (HJ 663's city value); missing indicators follow HJ 633—2026 5.3;
* **noise** (GB 3096): Ld and Ln of a local calendar day (00:00–24:00, the day of the rollups)
  from hourly energy means, judged against ``properties.noise_zone`` (default ``2``);
* **water** (GB 3838): each parameter's newest reading (or a day's mean), classed for
  ``properties.waterbody`` (default river) against ``properties.target_class``;
* **traffic** (unverified profile, ``verified: false``): each link's level from its mean speed
  in the 15 whole minutes before ``at``, and the network TPI over the links.

A value that cannot be given is ``None`` with a ``reason``. Summaries per division are in
:mod:`cityops.sensing.index_results`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from cityops.analytics import aqi as hj633
from cityops.analytics import noise as gb3096
from cityops.analytics import traffic as tpi
from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.errors import ValidationFailed
from cityops.sensing import air_report
from cityops.sensing import index_results as results
from cityops.sensing.devices import StreamStatus
from cityops.sensing.metrics import for_indicator, metrics
from cityops.sensing.model import Datastream, Thing
from cityops.sensing.timeseries import Selection, TimeseriesService

GROUPS = ("station", "grid", "community", "street", "district")
HOUR = timedelta(hours=1)
TRAFFIC_WINDOW = timedelta(minutes=15)
WATER_LOOKBACK_HOURS = 24
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)  # as ingest: older readings are refused anyway


class Devices(Protocol):
    """The device registry as this service reads it (:class:`DeviceService`)."""

    def things(self, principal: Principal, *, grid_prefix: str | None = None) -> list[Thing]:
        """Return the things the principal may read."""
        ...

    def datastreams(self, principal: Principal) -> list[StreamStatus]:
        """Return the datastreams the principal may read."""
        ...


Station = tuple[Thing, list[Datastream]]


class CityIndexService:
    """AQI, noise levels, water classes and traffic indices from stored readings."""

    def __init__(
        self, timeseries: TimeseriesService, devices: Devices, clock: Clock, zone: ZoneInfo
    ) -> None:
        self._timeseries = timeseries
        self._devices = devices
        self._clock = clock
        self._zone = zone

    # ------------------------------------------------------------------ air

    def air(
        self,
        principal: Principal,
        *,
        report: str = "hourly",
        at: datetime | None = None,
        day: date | None = None,
        station: str | None = None,
        division: str | None = None,
        group_by: str = "station",
        standard: str = hj633.DEFAULT_STANDARD,
    ) -> dict[str, Any]:
        """Return the AQI per station (or division) for an hourly or a daily report."""
        names = air_report.wanted(standard, report)  # checks the standard and the report
        _group(group_by)
        if report == "daily":
            day = day or (self._local(at) if at else self._today() - timedelta(days=1))
            start, hours = self._day_span(day)
            period: dict[str, Any] = {"day": day.isoformat()}
        else:
            if day is not None:
                raise ValidationFailed.single("day", "daily_only", "day is for daily reports")
            end = self._whole(at, HOUR)
            hours = air_report.history_hours(standard, report)
            start = end - hours * HOUR
            period = {"at": end.isoformat()}
        metric_of = {name: for_indicator(standard, name).key for name in names}
        stations = self._stations(principal, set(metric_of.values()), station, division)
        series = self._hourly(principal, stations, start, hours, coverage=True)
        items, founds = [], []
        for thing, _ in stations:
            found = {
                name: air_report.concentration(
                    name, report, series.get((thing.id, metric)) or [None] * hours
                )
                for name, metric in metric_of.items()
            }
            items.append({**results.place(thing), **results.air_station(found, standard, report)})
            founds.append(found)
        if group_by != "station":
            items = results.air_areas(
                items, founds, group_by, lambda found: results.air_station(found, standard, report)
            )
        return {
            "report": report,
            "standard": standard,
            **period,
            "start": start.isoformat(),
            "end": (start + hours * HOUR).isoformat(),
            "group_by": group_by,
            "items": items,
        }

    # ------------------------------------------------------------------ noise

    def noise(
        self,
        principal: Principal,
        *,
        day: date | None = None,
        station: str | None = None,
        division: str | None = None,
        group_by: str = "station",
    ) -> dict[str, Any]:
        """Return Ld, Ln and their compliance with each monitor's zone, for a local day."""
        _group(group_by)
        day = day or self._today() - timedelta(days=1)
        start, count = self._day_span(day)
        stations = self._stations(principal, {"noise_laeq"}, station, division)
        series = self._hourly(principal, stations, start, count, coverage=False)
        items = []
        for thing, _ in stations:
            hours = series.get((thing.id, "noise_laeq"), [])
            samples = [
                gb3096.Sample((start + i * HOUR).astimezone(self._zone), level, HOUR)
                for i, level in enumerate(hours)
                if level is not None
            ]
            items.append({**results.place(thing), **results.noise_station(thing, samples)})
        if group_by != "station":
            items = results.noise_areas(items, group_by)
        period = {"start": start.isoformat(), "end": (start + count * HOUR).isoformat()}
        return {"day": day.isoformat(), **period, "group_by": group_by, "items": items}

    # ------------------------------------------------------------------ water

    def water(
        self,
        principal: Principal,
        *,
        at: datetime | None = None,
        day: date | None = None,
        station: str | None = None,
        division: str | None = None,
        group_by: str = "station",
    ) -> dict[str, Any]:
        """Return each station's newest values (or a day's means) and their GB 3838 class.

        Without ``at`` or ``day``: each parameter's newest reading; with ``at``: the newest one
        in the 24 whole hours before it; with ``day``: the local day's means.
        """
        _group(group_by)
        if at is not None and day is not None:
            raise ValidationFailed.single("day", "exclusive", "give at or day, not both")
        kinds = {m.key: m for m in metrics("water")}
        stations = self._stations(principal, set(kinds), station, division)
        streams = [s for _, found in stations for s in found]
        if day is not None:
            start, count = self._day_span(day)
            period: dict[str, Any] = {"day": day.isoformat()}
            found = self._points(principal, streams, start, start + count * HOUR, "1d", "avg")
        elif at is not None:
            end = self._whole(at, HOUR)
            period = {"at": end.isoformat()}
            found = self._points(
                principal, streams, end - WATER_LOOKBACK_HOURS * HOUR, end, "1h", "last"
            )
        else:
            period = {"at": None}
            found = self._latest(principal, streams)
        items = []
        for thing, owned in stations:
            values: dict[str, tuple[float, str]] = {}
            for stream in owned:
                newest = found.get(stream.id)
                if newest is not None and stream.metric not in values:
                    values[stream.metric] = newest
            items.append({**results.place(thing), **results.water_station(thing, values, kinds)})
        if group_by != "station":
            items = results.water_areas(items, group_by)
        return {**period, "group_by": group_by, "items": items}

    # ------------------------------------------------------------------ traffic

    def traffic(
        self, principal: Principal, *, at: datetime | None = None, division: str | None = None
    ) -> dict[str, Any]:
        """Return each link's level and the network TPI from the 15 minutes before ``at``."""
        end = self._whole(at, timedelta(minutes=1))
        start = end - TRAFFIC_WINDOW
        stations = self._stations(principal, {"traffic_speed"}, None, division)
        streams = [s for _, found in stations for s in found]
        answer = self._query(principal, streams, start, end, "1m", ("avg", "count"))
        links: list[dict[str, Any]] = []
        usable: list[dict[str, Any]] = []
        for thing, owned in stations:
            points = [p for s in owned for p in answer.get(s.id, []) if p.get("avg") is not None]
            readings = sum(int(p["count"]) for p in points)
            speed = (
                math.fsum(float(p["avg"]) * int(p["count"]) for p in points) / readings
                if readings
                else None
            )
            link = {**results.place(thing), **results.link(thing, speed, readings)}
            links.append(link)
            if link["level"] is not None:
                usable.append(link)
        profile = tpi.load_profile()
        network: dict[str, Any] | None = None
        reason = "no link has a speed and valid properties in the window" if not usable else None
        if usable:
            network = tpi.network_index(
                tpi.Link(link["road_class"], link["length_km"], link["speed_kmh"])
                for link in usable
            ).as_json()
        return {
            "at": end.isoformat(),
            "start": start.isoformat(),
            "profile": profile["profile"],
            "verified": bool(profile["verified"]),
            "links": links,
            "network": network,
            "reason": reason,
        }

    # ------------------------------------------------------------------ plumbing

    def _stations(
        self,
        principal: Principal,
        wanted: Collection[str],
        station: str | None,
        division: str | None,
    ) -> list[Station]:
        """Return the things with datastreams of ``wanted`` metrics, by key."""
        things = {t.id: t for t in self._devices.things(principal, grid_prefix=division)}
        owned: dict[int, list[Datastream]] = {}
        for status in self._devices.datastreams(principal):
            stream = status.stream
            if stream.metric in wanted and stream.thing_id in things:
                owned.setdefault(stream.thing_id, []).append(stream)
        found = [
            (things[thing_id], streams)
            for thing_id, streams in owned.items()
            if station is None or things[thing_id].key == station
        ]
        if station is not None and not found:
            raise ValidationFailed.single(
                "station", "known_station", f"no station {station!r} measuring this (or not yours)"
            )
        return sorted(found, key=lambda pair: pair[0].key)

    def _query(
        self,
        principal: Principal,
        streams: Sequence[Datastream],
        start: datetime,
        end: datetime,
        interval: str,
        functions: tuple[str, ...],
    ) -> dict[int, list[dict[str, Any]]]:
        """Return the points of each stream by id (one query for every stream)."""
        if not streams:
            return {}
        by_key = {s.key: s for s in streams}
        answer = self._timeseries.query(
            principal,
            Selection(datastreams=tuple(by_key)),
            start=start,
            end=end,
            interval=interval,
            functions=functions,
        )
        return {
            by_key[series["key"]].id: series["points"]
            for series in answer["series"]
            if series["key"] in by_key
        }

    def _hourly(
        self,
        principal: Principal,
        stations: Sequence[Station],
        start: datetime,
        count: int,
        *,
        coverage: bool,
    ) -> dict[tuple[int, str], list[float | None]]:
        """Return each (thing, metric)'s hourly means from ``start`` (None: missing/invalid).

        A thing with two datastreams of a metric gets the mean of both in each hour.
        """
        streams = [s for _, found in stations for s in found]
        answer = self._query(
            principal, streams, start, start + count * HOUR, "1h", ("avg", "count")
        )
        sums: dict[tuple[int, str], list[list[float]]] = {}
        for stream in streams:
            slots = sums.setdefault((stream.thing_id, stream.metric), [[] for _ in range(count)])
            for point in answer.get(stream.id, []):
                index = (datetime.fromisoformat(point["time"]) - start) // HOUR
                value, readings = point.get("avg"), int(point.get("count") or 0)
                if value is None or not 0 <= index < count:
                    continue
                if not coverage or air_report.hour_is_valid(readings, stream.interval_seconds):
                    slots[index].append(float(value))
        return {
            key: [math.fsum(s) / len(s) if s else None for s in slots]
            for key, slots in sums.items()
        }

    def _points(
        self,
        principal: Principal,
        streams: Sequence[Datastream],
        start: datetime,
        end: datetime,
        interval: str,
        function: str,
    ) -> dict[int, tuple[float, str]]:
        """Return each stream's newest non-empty point: (value, bucket start)."""
        answer = self._query(principal, streams, start, end, interval, (function,))
        found: dict[int, tuple[float, str]] = {}
        for stream_id, points in answer.items():
            for point in points:
                if point.get(function) is not None:
                    found[stream_id] = (float(point[function]), point["time"])
        return found

    def _latest(
        self, principal: Principal, streams: Sequence[Datastream]
    ) -> dict[int, tuple[float, str]]:
        if not streams:
            return {}
        by_key = {s.key: s for s in streams}
        rows = self._timeseries.latest(principal, Selection(datastreams=tuple(by_key)))
        return {
            by_key[row["datastream"]].id: (float(row["value"]), str(row["time"]))
            for row in rows
            if row["value"] is not None and row["datastream"] in by_key
        }

    def _today(self) -> date:
        return self._clock.now().astimezone(self._zone).date()

    def _local(self, moment: datetime) -> date:
        return _checked(moment, self._clock.now()).astimezone(self._zone).date()

    def _day_span(self, day: date) -> tuple[datetime, int]:
        """Return a local day's start (UTC) and its length in hours (23–25 where clocks change)."""
        if not EARLIEST.date() <= day <= self._today():
            raise ValidationFailed.single(
                "day", "range", f"a day from {EARLIEST.date()} to today, got {day}"
            )
        start = datetime.combine(day, time(0), tzinfo=self._zone).astimezone(UTC)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
        return start, (end.astimezone(UTC) - start) // HOUR

    def _whole(self, at: datetime | None, step: timedelta) -> datetime:
        """Return ``at`` (default now) cut down to a whole ``step`` of local time, in UTC."""
        now = self._clock.now()
        moment = _checked(at, now) if at is not None else now
        local = moment.astimezone(self._zone)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        cut = midnight + (local - midnight) // step * step
        return cut.astimezone(UTC)


def _checked(moment: datetime, now: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValidationFailed.single("at", "offset", "at needs a UTC offset or Z")
    if not EARLIEST <= moment <= now + timedelta(days=1):
        raise ValidationFailed.single("at", "range", f"a time from {EARLIEST.date()} to now")
    return moment


def _group(group_by: str) -> None:
    if group_by not in GROUPS:
        raise ValidationFailed.single("group_by", "one_of", f"one of {', '.join(GROUPS)}")
