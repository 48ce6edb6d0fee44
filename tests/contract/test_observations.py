"""Readings through the real services on both stores: idempotent ingest, rollups, latest, online.

Every rollup answer is compared with statistics recomputed here, by hand, from the raw readings
the test sent (bad ones left out, the first of repeated keys kept), so a bucket that misses a
late reading, double-counts a retried one or cuts days at UTC instead of the city's midnight
(Asia/Shanghai, 16:00Z) shows as a wrong number. The PostgreSQL-only tests at the end look at the
weekly partitions of ``observations`` in the catalogue (``pg_inherits``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from sqlalchemy import text

from cityops.auth.model import Principal
from cityops.bootstrap import Services, bootstrap
from cityops.kernel.clock import FrozenClock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.sensing.model import Datastream, IngestReport
from cityops.sensing.ports import NewDatastream
from cityops.sensing.timeseries import Selection
from cityops.settings import Settings
from cityops.storage import migrate
from cityops.storage.schema import metadata

SHANGHAI = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)  # the clock fixture's instant
FUNCTIONS = ("avg", "min", "max", "count", "first", "last")
Reading = tuple[datetime, float, str]  # time, value, quality name


def _at(hour: int, minute: int = 0, second: int = 0, *, day: int = 20) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def _item(stream: Datastream, when: datetime, value: float, quality: str = "good") -> dict:
    return {"datastream": stream.key, "time": when.isoformat(), "value": value, "quality": quality}


@pytest.fixture
def streams(services: Services, system: Principal) -> dict[str, Datastream]:
    """Things without points (no geography is loaded) and their datastreams."""
    devices = services.devices
    for key in ("AQ-0001", "AQ-0002", "NZ-0001", "WD-0001", "WM-0001"):
        devices.register_thing(system, {"key": key, "name": key})
    made = {
        "pm25": devices.add_datastream(system, "AQ-0001", {"metric": "pm25"}),
        "pm10": devices.add_datastream(system, "AQ-0001", {"metric": "pm10"}),
        "pm25b": devices.add_datastream(system, "AQ-0002", {"metric": "pm25"}),
        "noise": devices.add_datastream(system, "NZ-0001", {"metric": "noise_laeq"}),
        "wind": devices.add_datastream(system, "WD-0001", {"metric": "wind_direction"}),
        "water": devices.add_datastream(system, "WM-0001", {"metric": "water_meter"}),
    }
    assert made["pm25"].key == "AQ-0001/pm25"
    assert made["pm25"].interval_seconds == 60
    return made


def _ingest(services: Services, system: Principal, items: Sequence[Any]) -> IngestReport:
    return services.ingest.ingest(system, list(items))


def _raw(
    services: Services, system: Principal, stream: Datastream, start: datetime, end: datetime = NOW
) -> list[tuple[str, float, int]]:
    answer = services.timeseries.query(
        system, Selection(datastreams=(stream.key,)), start=start, end=end, limit=100_000
    )
    (series,) = answer["series"]
    return [(p["time"], p["value"], p["quality"]) for p in series["points"]]


def _aggregates(
    services: Services,
    system: Principal,
    stream: Datastream,
    interval: str,
    start: datetime,
    end: datetime = NOW,
    functions: Sequence[str] = FUNCTIONS,
) -> dict[str, dict[str, Any]]:
    """Return {interval start (ISO, UTC): {function: value}} of one stream."""
    answer = services.timeseries.query(
        system,
        Selection(datastreams=(stream.key,)),
        start=start,
        end=end,
        interval=interval,
        functions=functions,
    )
    (series,) = answer["series"]
    assert series["key"] == stream.key
    return {p["time"]: {f: p[f] for f in functions} for p in series["points"]}


def _floor(moment: datetime, interval: str) -> datetime:
    """The start of the minute, hour or local (Shanghai) day holding ``moment``, in UTC."""
    if interval == "1m":
        return moment.replace(second=0, microsecond=0)
    if interval == "1h":
        return moment.replace(minute=0, second=0, microsecond=0)
    assert interval == "1d"
    local = moment.astimezone(SHANGHAI).replace(hour=0, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC)


def _by_hand(readings: Sequence[Reading], interval: str) -> dict[str, dict[str, Any]]:
    """Statistics of the good (not bad) readings per interval, the way the brief defines them."""
    groups: dict[datetime, list[tuple[datetime, float]]] = {}
    for when, value, quality in readings:
        if quality != "bad":
            groups.setdefault(_floor(when, interval), []).append((when, value))
    expected = {}
    for start, members in groups.items():
        members.sort()
        values = [v for _, v in members]
        expected[start.isoformat()] = {
            "avg": sum(values) / len(values),
            "min": min(values),
            "max": max(values),
            "count": len(values),
            "first": members[0][1],
            "last": members[-1][1],
        }
    return expected


def _assert_rollups_match(
    services: Services,
    system: Principal,
    stream: Datastream,
    readings: Sequence[Reading],
    start: datetime,
) -> None:
    for interval in ("1m", "1h", "1d"):
        got = _aggregates(services, system, stream, interval, start)
        expected = _by_hand(readings, interval)
        assert sorted(got) == sorted(expected), interval
        for bucket, stats in expected.items():
            for function, value in stats.items():
                if function == "avg":
                    assert got[bucket][function] == pytest.approx(value, rel=1e-12), (
                        interval,
                        bucket,
                    )
                else:
                    assert got[bucket][function] == value, (interval, bucket, function)


def _energy_mean(levels: Sequence[float]) -> float:
    return 10 * math.log10(sum(10 ** (level / 10) for level in levels) / len(levels))


# ------------------------------------------------------------------ ingest: counts and repeats


def test_a_batch_is_stored_and_a_retried_batch_is_a_no_op(services, system, streams):
    pm25 = streams["pm25"]
    items = [_item(pm25, _at(0, m), 10 + m) for m in range(50)]
    first = _ingest(services, system, items)
    assert (first.received, first.accepted, first.duplicates, first.rejected) == (50, 50, 0, 0)
    before = _aggregates(services, system, pm25, "1h", _at(0))

    again = _ingest(services, system, items)
    assert (again.received, again.accepted, again.duplicates, again.rejected) == (50, 0, 50, 0)
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.observation_reads.count() == 50
    after = _aggregates(services, system, pm25, "1h", _at(0))
    assert after == before
    assert after[_at(0).isoformat()]["count"] == 50  # not 100: the retry added nothing


def test_a_retry_with_changed_values_keeps_the_stored_reading(services, system, streams):
    pm25 = streams["pm25"]
    _ingest(services, system, [_item(pm25, _at(1), 10.0)])
    report = _ingest(services, system, [_item(pm25, _at(1), 99.0)])
    assert (report.accepted, report.duplicates) == (0, 1)
    assert _raw(services, system, pm25, _at(0)) == [(_at(1).isoformat(), 10.0, 0)]
    assert _aggregates(services, system, pm25, "1m", _at(0))[_at(1).isoformat()]["max"] == 10.0


def test_repeats_within_a_batch_keep_the_first_reading(services, system, streams):
    pm25, pm10 = streams["pm25"], streams["pm10"]
    report = _ingest(
        services,
        system,
        [
            _item(pm25, _at(1), 1.0),
            _item(pm10, _at(1), 50.0),  # same time, another stream: not a repeat
            _item(pm25, _at(1), 2.0),
            {"thing": "AQ-0001", "time": _at(1).isoformat(), "values": {"pm25": 3.0}},
        ],
    )
    assert (report.received, report.accepted, report.duplicates, report.rejected) == (4, 2, 2, 0)
    assert _raw(services, system, pm25, _at(0)) == [(_at(1).isoformat(), 1.0, 0)]
    stats = _aggregates(services, system, pm25, "1h", _at(0))[_at(1).isoformat()]
    assert (stats["count"], stats["min"], stats["max"]) == (1, 1.0, 1.0)


def test_refused_items_are_reported_and_their_neighbours_stored(services, system, streams):
    pm25 = streams["pm25"]
    report = _ingest(
        services,
        system,
        [
            _item(pm25, _at(1, 0), 10.0),
            _item(pm25, _at(1, 1), -5.0),
            {"datastream": "AQ-0001/nope", "time": _at(1, 2).isoformat(), "value": 1},
            _item(pm25, _at(1, 3), 12.0),
            _item(pm25, _at(3, 0), 12.0),  # an hour after the clock: the future
        ],
    )
    assert (report.received, report.accepted, report.duplicates) == (5, 2, 0)
    assert [(e.index, e.field, e.rule) for e in report.errors] == [
        (1, "observations[1].value", "in_range"),
        (2, "observations[2].datastream", "known_datastream"),
        (4, "observations[4].time", "not_future"),
    ]
    assert [p[1] for p in _raw(services, system, pm25, _at(0))] == [10.0, 12.0]


def test_a_batch_of_more_than_ten_thousand_items_is_refused_whole(services, system, streams):
    pm25 = streams["pm25"]
    start = _at(0, day=19)
    items = [_item(pm25, start + timedelta(seconds=i), 1.0) for i in range(10_001)]
    with pytest.raises(ValidationFailed) as caught:
        _ingest(services, system, items)
    issue = caught.value.issues[0]
    assert (issue.field, issue.rule) == ("observations", "max_items")
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.observation_reads.count() == 0

    report = _ingest(services, system, items[:10_000])
    assert (report.received, report.accepted) == (10_000, 10_000)


# ------------------------------------------------------------------ rollups against raw readings


def test_late_and_out_of_order_readings_correct_every_rollup_level(services, system, streams):
    pm25 = streams["pm25"]
    rng = random.Random(20261120)
    start = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    span_ms = int((NOW - timedelta(minutes=1) - start).total_seconds() * 1000)
    times = {start + timedelta(milliseconds=rng.randrange(span_ms)) for _ in range(400)}
    burst = _at(1, 30)  # many readings in a few minutes: minute buckets with several readings
    times |= {burst + timedelta(milliseconds=rng.randrange(180_000)) for _ in range(120)}
    times |= {_floor(_at(0, 0, day=19), "1d"), _floor(_at(0, 0, day=20), "1d")}  # 16:00Z edges
    readings: list[Reading] = [
        (
            when,
            round(rng.uniform(0, 500), 3),
            rng.choice(["good"] * 6 + ["suspect", "estimated", "bad"]),
        )
        for when in sorted(times)
    ]
    shuffled = readings[:]
    rng.shuffle(shuffled)
    newest_half = sorted(shuffled[: len(shuffled) // 2], key=lambda r: r[0], reverse=True)
    late_rest = shuffled[len(shuffled) // 2 :]  # arrives later, in no order, older ones too
    stored: list[Reading] = []
    for batch in (newest_half, late_rest[:150], late_rest[150:]):
        report = _ingest(services, system, [_item(pm25, *r) for r in batch])
        assert (report.accepted, report.duplicates, report.rejected) == (len(batch), 0, 0)
        stored.extend(batch)
        _assert_rollups_match(services, system, pm25, stored, start - timedelta(hours=12))

    # A retry of a sample with other values changes nothing.
    retried = [(when, value + 1, "good") for when, value, _ in rng.sample(readings, 60)]
    report = _ingest(services, system, [_item(pm25, *r) for r in retried])
    assert (report.accepted, report.duplicates) == (0, 60)
    _assert_rollups_match(services, system, pm25, readings, start - timedelta(hours=12))

    raw = _raw(services, system, pm25, start)
    assert raw == [(w.isoformat(), v, {"good": 0, "suspect": 1, "estimated": 2, "bad": 3}[q])
                   for w, v, q in readings]  # fmt: skip


def test_percentiles_come_from_the_good_raw_readings(services, system, streams):
    pm25 = streams["pm25"]
    rng = random.Random(7)
    readings = [
        (_at(1, 0, s), float(rng.randrange(0, 300)), rng.choice(["good", "good", "bad"]))
        for s in range(0, 60, 2)
    ]
    _ingest(services, system, [_item(pm25, *r) for r in readings])
    got = _aggregates(services, system, pm25, "1h", _at(0), functions=("p50", "p95", "count"))
    good = [v for _, v, q in readings if q != "bad"]
    assert got == {
        _at(1).isoformat(): {
            "p50": pytest.approx(float(np.percentile(good, 50))),
            "p95": pytest.approx(float(np.percentile(good, 95))),
            "count": len(good),
        }
    }


def test_bad_readings_are_stored_but_not_in_rollups_or_latest(services, system, streams):
    pm25 = streams["pm25"]
    _ingest(
        services,
        system,
        [
            _item(pm25, _at(0, 10), 900.0, "bad"),  # the only reading of hour 00
            _item(pm25, _at(1, 0), 10.0),
            _item(pm25, _at(1, 30), 999.0, "bad"),  # the newest reading, but bad
            _item(pm25, _at(1, 20), 20.0, "suspect"),
        ],
    )
    assert _raw(services, system, pm25, _at(0)) == [
        (_at(0, 10).isoformat(), 900.0, 3),
        (_at(1, 0).isoformat(), 10.0, 0),
        (_at(1, 20).isoformat(), 20.0, 1),
        (_at(1, 30).isoformat(), 999.0, 3),
    ]
    hours = _aggregates(services, system, pm25, "1h", _at(0))
    assert hours == {
        _at(1).isoformat(): {
            "avg": 15.0,
            "min": 10.0,
            "max": 20.0,
            "count": 2,
            "first": 10.0,
            "last": 20.0,
        }
    }
    (latest,) = services.timeseries.latest(system, Selection(datastreams=(pm25.key,)))
    assert (latest["time"], latest["value"]) == (_at(1, 20).isoformat(), 20.0)


def test_latest_keeps_the_newest_reading_whatever_the_arrival_order(services, system, streams):
    pm25, pm10 = streams["pm25"], streams["pm10"]

    def latest() -> dict[str, tuple[str | None, float | None]]:
        rows = services.timeseries.latest(system, Selection(metric="pm25"))
        return {r["datastream"]: (r["time"], r["value"]) for r in rows}

    assert latest() == {pm25.key: (None, None), streams["pm25b"].key: (None, None)}
    _ingest(services, system, [_item(pm25, _at(1, 0), 10.0)])
    _ingest(services, system, [_item(pm25, _at(0, 30), 20.0)])  # older, arrives later
    assert latest()[pm25.key] == (_at(1, 0).isoformat(), 10.0)
    _ingest(services, system, [_item(pm25, _at(1, 50), 5.0), _item(pm25, _at(1, 40), 6.0)])
    assert latest()[pm25.key] == (_at(1, 50).isoformat(), 5.0)
    _ingest(services, system, [_item(pm10, _at(1, 55), 70.0)])
    assert latest()[pm25.key] == (_at(1, 50).isoformat(), 5.0)

    _, statuses = services.devices.thing(system, "AQ-0001")
    by_key = {s.stream.key: s for s in statuses}
    assert by_key[pm25.key].latest is not None
    assert by_key[pm25.key].latest.value == 5.0
    assert by_key[pm10.key].latest is not None
    assert by_key[pm10.key].latest.value == 70.0


def test_rollup_days_start_at_local_midnight(services, system, streams):
    pm25 = streams["pm25"]
    _ingest(
        services,
        system,
        [
            _item(pm25, _at(0, 0, day=19), 5.0),  # 08:00 on the 19th in Shanghai
            _item(pm25, _at(15, 59, 59, day=19), 1.0),  # 23:59:59 on the 19th
            _item(pm25, _at(16, 0, 0, day=19), 3.0),  # 00:00 on the 20th
            _item(pm25, _at(1, 0), 7.0),  # 09:00 on the 20th
        ],
    )
    days = _aggregates(services, system, pm25, "1d", _at(0, day=18))
    assert {k: (v["count"], v["avg"], v["first"], v["last"]) for k, v in days.items()} == {
        "2026-11-18T16:00:00+00:00": (2, 3.0, 5.0, 1.0),
        "2026-11-19T16:00:00+00:00": (2, 5.0, 3.0, 7.0),
    }
    two_days = _aggregates(services, system, pm25, "2d", _at(0, day=18))
    assert {k: v["count"] for k, v in two_days.items()} == {"2026-11-18T16:00:00+00:00": 4}


def test_noise_is_averaged_by_energy_across_batches(services, system, streams):
    noise, pm25 = streams["noise"], streams["pm25"]
    # Each reading in its own batch, two in one minute: the stored buckets' sums must merge.
    _ingest(services, system, [_item(noise, _at(1, 0, 0), 60.0), _item(pm25, _at(1, 0), 9.0)])
    _ingest(services, system, [_item(noise, _at(1, 0, 30), 70.0)])
    minute = _aggregates(services, system, noise, "1m", _at(0))[_at(1).isoformat()]
    assert minute["avg"] == pytest.approx(67.40362689494244, abs=1e-9)  # 60 + 10·lg 5.5
    _ingest(services, system, [_item(noise, _at(1, 10), 65.0)])
    expected = _energy_mean([60.0, 70.0, 65.0])
    for interval in ("1h", "1d"):
        (stats,) = _aggregates(services, system, noise, interval, _at(0)).values()
        assert stats["avg"] == pytest.approx(expected, abs=1e-9)
        assert stats["count"] == 3
    assert _aggregates(services, system, pm25, "1h", _at(0))[_at(1).isoformat()]["avg"] == 9.0


def test_wind_direction_is_averaged_as_a_vector(services, system, streams):
    wind = streams["wind"]
    _ingest(services, system, [_item(wind, _at(1, 0), 350.0)])
    _ingest(services, system, [_item(wind, _at(1, 1), 10.0)])
    _ingest(services, system, [_item(wind, _at(0, 0), 90.0), _item(wind, _at(0, 1), 270.0)])
    hours = _aggregates(services, system, wind, "1h", _at(0))
    mean = hours[_at(1).isoformat()]["avg"]
    gap = abs(mean - 0.0) % 360
    assert min(gap, 360 - gap) < 1e-9  # north, not the arithmetic 180 (south)
    assert hours[_at(0).isoformat()]["avg"] is None  # east and west cancel out
    minutes = _aggregates(services, system, wind, "1m", _at(0))
    assert minutes[_at(1, 0).isoformat()]["avg"] == pytest.approx(350.0)
    assert minutes[_at(1, 1).isoformat()]["avg"] == pytest.approx(10.0)


def test_a_meters_sum_is_its_consumption(services, system, streams):
    water = streams["water"]
    _ingest(
        services,
        system,
        [_item(water, _at(1, 20), 1260.0), _item(water, _at(0, 10), 1200.0)],
    )
    _ingest(services, system, [_item(water, _at(0, 40), 1210.5)])
    hours = _aggregates(services, system, water, "1h", _at(0), functions=("sum",))
    assert hours == {_at(0).isoformat(): {"sum": 10.5}, _at(1).isoformat(): {"sum": 0.0}}
    days = _aggregates(services, system, water, "1d", _at(0), functions=("sum",))
    assert list(days.values()) == [{"sum": 60.0}]


def test_pooling_all_stations_counts_each_reading_once(services, system, streams):
    a, b = streams["pm25"], streams["pm25b"]
    _ingest(
        services,
        system,
        [_item(a, _at(1, 0), 10.0), _item(a, _at(1, 5), 30.0), _item(b, _at(1, 0), 50.0)],
    )
    answer = services.timeseries.query(
        system,
        Selection(metric="pm25"),
        start=_at(0),
        end=NOW,
        interval="1h",
        functions=("avg", "count", "min", "max"),
        group_by="all",
    )
    (series,) = answer["series"]
    assert series["key"] == "all"
    assert series["points"] == [
        {"time": _at(1).isoformat(), "avg": 30.0, "count": 3, "min": 10.0, "max": 50.0}
    ]


# ------------------------------------------------------------------ devices: online state


def test_a_stream_goes_offline_after_grace_times_its_interval(services, system, streams, clock):
    pm25, pm10 = streams["pm25"], streams["pm10"]
    slow = services.devices.add_datastream(
        system, "AQ-0001", {"metric": "humidity", "interval_seconds": 600}
    )

    def online() -> dict[str, bool]:
        _, statuses = services.devices.thing(system, "AQ-0001")
        listed = {s.stream.key: s.online for s in services.devices.datastreams(system)}
        mine = {s.stream.key: s.online for s in statuses}
        assert {k: listed[k] for k in mine} == mine
        return mine

    assert online() == {pm25.key: False, pm10.key: False, slow.key: False}
    _ingest(services, system, [_item(pm25, NOW, 10.0), _item(slow, NOW, 50.0)])
    assert online() == {pm25.key: True, pm10.key: False, slow.key: True}
    clock.advance(timedelta(seconds=180))  # exactly 3 × 60 s: still online
    assert online()[pm25.key] is True
    clock.advance(timedelta(milliseconds=1))
    assert online() == {pm25.key: False, pm10.key: False, slow.key: True}
    clock.advance(timedelta(seconds=1619, milliseconds=999))  # 3 × 600 s after the reading
    assert online()[slow.key] is True
    clock.advance(timedelta(milliseconds=1))
    assert online() == {pm25.key: False, pm10.key: False, slow.key: False}


# ------------------------------------------------------------------ the registry reloads


def test_a_datastream_added_through_the_service_is_accepted_at_once(services, system, streams):
    pm25 = streams["pm25"]
    _ingest(services, system, [_item(pm25, _at(1), 1.0)])  # the registry is loaded now
    newer = services.devices.add_datastream(system, "AQ-0002", {"metric": "pm10"})
    report = _ingest(services, system, [_item(newer, _at(1), 42.0)])
    assert (report.accepted, report.rejected) == (1, 0)


def test_a_datastream_the_registry_has_not_seen_is_found_by_reloading(
    services, system, streams, clock
):
    pm25 = streams["pm25"]
    _ingest(services, system, [_item(pm25, _at(1), 1.0)])  # the registry is loaded now
    thing = services.devices.thing(system, "NZ-0001")[0]
    # Written straight to the store: nobody tells the registry (as if another process did it).
    with services.store.unit_of_work() as uow:
        uow.datastreams.add(
            NewDatastream(
                key="NZ-0001/side",
                thing_id=thing.id,
                metric="noise_laeq",
                name="side",
                description="",
                unit="dB",
                minimum=20.0,
                maximum=140.0,
                interval_seconds=60,
                sensor="",
                properties={},
                at=clock.now(),
            )
        )
        uow.commit()
    items = [
        {"datastream": "NZ-0001/side", "time": _at(1, 0).isoformat(), "value": 60.0},
        {"datastream": "NZ-0001/side", "time": _at(1, 1).isoformat(), "value": 70.0},
    ]
    report = _ingest(services, system, items)
    assert (report.accepted, report.rejected) == (2, 0)
    # The reloaded snapshot also tells the store this is a sound level: an energy mean.
    answer = services.timeseries.query(
        system, Selection(datastreams=("NZ-0001/side",)), start=_at(0), end=NOW, interval="1h"
    )
    assert answer["series"][0]["points"][0]["avg"] == pytest.approx(67.40362689494244)


# ------------------------------------------------------------------ odd input, refused cleanly


def test_an_unknown_thing_ref_of_superscript_digits_is_not_found(services, system, streams):
    with pytest.raises(NotFound):
        services.devices.thing(system, "²")


# ------------------------------------------------------------------ PostgreSQL: partitions


@pytest.fixture
def pg_services(
    postgres_database: str, clock: FrozenClock, hasher: Any, tmp_path: Path
) -> Iterator[Services]:
    """Services on PostgreSQL with no rows and no observation partitions yet."""
    built = bootstrap(
        Settings(
            mode="dev",
            database_url=postgres_database,
            data_dir=tmp_path / "var",
            secret_key="test-secret-key-that-is-long-enough-0123456789",
        ),
        clock=clock,
        hasher=hasher,
    )
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with built.store.engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        for name in _partitions(connection):
            connection.execute(text(f'DROP TABLE "{name}"'))
    yield built
    built.close()


def _partitions(connection: Any) -> dict[str, str]:
    rows = connection.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'observations'::regclass ORDER BY c.relname"
        )
    )
    return {name: bound for name, bound in rows}


def _partitions_of(services: Services) -> dict[str, str]:
    with services.store.engine.connect() as connection:
        return _partitions(connection)


def _rows_per_partition(services: Services) -> dict[str, int]:
    with services.store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT tableoid::regclass::text, count(*) FROM observations GROUP BY 1")
        )
        return {name: count for name, count in rows}


def _pm25(services: Services, system: Principal) -> Datastream:
    services.devices.register_thing(system, {"key": "AQ-0001"})
    return services.devices.add_datastream(system, "AQ-0001", {"metric": "pm25"})


# Partitions are 7 days wide from 1970-01-01 (a Thursday): 2026-11-18 is day 20,775 and falls in
# the partition from day 20,769 (2026-11-12); 2026-11-19 is day 20,776 = 7 × 2968, a start.
P1112 = ("observations_p20261112", 1_794_441_600_000)
P1119 = ("observations_p20261119", 1_795_046_400_000)
P1001 = ("observations_p20261001", 1_790_812_800_000)
WEEK_MS = 7 * 86_400_000


def _bound(start: int) -> str:
    return f"FOR VALUES FROM ('{start}') TO ('{start + WEEK_MS}')"


def test_readings_on_both_sides_of_a_week_boundary_land_in_two_partitions(pg_services, system):
    pm25 = _pm25(pg_services, system)
    assert _partitions_of(pg_services) == {}
    report = _ingest(
        pg_services,
        system,
        [
            _item(pm25, _at(23, 59, 59, day=18), 1.0),
            _item(pm25, _at(0, 0, 0, day=19), 2.0),
            _item(pm25, _at(1, 0, 0, day=20), 3.0),
        ],
    )
    assert report.accepted == 3
    assert _partitions_of(pg_services) == {P1112[0]: _bound(P1112[1]), P1119[0]: _bound(P1119[1])}
    assert _rows_per_partition(pg_services) == {P1112[0]: 1, P1119[0]: 2}
    # Rollups and repeats work across the partitions.
    again = _ingest(pg_services, system, [_item(pm25, _at(0, 0, 0, day=19), 9.0)])
    assert (again.accepted, again.duplicates) == (0, 1)
    days = _aggregates(pg_services, system, pm25, "1d", _at(0, day=18))
    assert {k: (v["count"], v["avg"]) for k, v in days.items()} == {
        "2026-11-18T16:00:00+00:00": (2, 1.5),  # the 19th in Shanghai, over two partitions
        "2026-11-19T16:00:00+00:00": (1, 3.0),
    }


def test_a_batch_spread_over_weeks_creates_only_the_partitions_it_needs(pg_services, system):
    pm25 = _pm25(pg_services, system)
    _ingest(
        pg_services,
        system,
        [_item(pm25, datetime(2026, 10, 1, 0, 0, tzinfo=UTC), 1.0), _item(pm25, _at(1), 2.0)],
    )
    assert _partitions_of(pg_services) == {P1001[0]: _bound(P1001[1]), P1119[0]: _bound(P1119[1])}
    assert _rows_per_partition(pg_services) == {P1001[0]: 1, P1119[0]: 1}


def test_another_process_writes_into_partitions_it_did_not_create(
    pg_services, system, clock, hasher, tmp_path
):
    pm25 = _pm25(pg_services, system)
    _ingest(pg_services, system, [_item(pm25, _at(1), 1.0)])
    other = bootstrap(pg_services.settings.model_copy(), clock=clock, hasher=hasher)
    try:
        report = _ingest(other, system, [_item(pm25, _at(1, 1), 2.0)])
    finally:
        other.close()
    assert report.accepted == 1
    assert _rows_per_partition(pg_services) == {P1119[0]: 2}


def test_partitions_are_no_drift_for_the_migration_check(pg_services, system):
    pm25 = _pm25(pg_services, system)
    _ingest(
        pg_services,
        system,
        [_item(pm25, datetime(2026, 10, 1, tzinfo=UTC), 1.0), _item(pm25, _at(1), 2.0)],
    )
    assert len(_partitions_of(pg_services)) == 2
    status = migrate.check(pg_services.store.engine)
    assert status.differences == []
    assert status.ok
