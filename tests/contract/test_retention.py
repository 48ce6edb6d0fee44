"""Retention on both stores: raw readings and minute rollups go, hour and day rollups stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from cityops.sensing.retention import RetentionService
from cityops.sensing.timeseries import Selection


def _two_kinds(services, system, clock) -> None:
    """pm25 reports every 10 s (minute rows); pm10 once a minute (its raw readings are its
    minute level); each has a reading 1, 5, 12 and 40 days ago, valued by its age."""
    services.devices.register_thing(system, {"key": "AQ-1"})
    assert services.devices.add_datastream(
        system, "AQ-1", {"metric": "pm25", "interval_seconds": 10}
    ).minute_rollups
    assert not services.devices.add_datastream(system, "AQ-1", {"metric": "pm10"}).minute_rollups
    items = [
        {
            "datastream": f"AQ-1/{metric}",
            "time": (clock.now() - timedelta(days=d)).isoformat(),
            "value": d,
        }
        for d in (1, 5, 12, 40)
        for metric in ("pm25", "pm10")
    ]
    assert services.ingest.ingest(system, items).accepted == 8


def _raw(connection, metric: str) -> list[float]:
    rows = connection.execute(
        text(
            "SELECT o.result FROM observations o JOIN datastreams d ON d.id = o.datastream_id "
            "WHERE d.metric = :metric ORDER BY o.result"
        ),
        {"metric": metric},
    )
    return list(rows.scalars())


def _minute_points(services, metric: str) -> list[float]:
    """The stream's minute buckets' means, oldest first, as the time-series reads give them."""
    with services.store.unit_of_work(read_only=True) as uow:
        (stream,) = [s for s in uow.datastreams.list() if s.metric == metric]
        buckets = uow.observation_reads.buckets("minute", [stream.id], 0, 2**62)
    return [b.total / b.n for b in buckets]


def test_prune_keeps_the_windows_and_the_coarse_rollups(services, system, clock):
    _two_kinds(services, system, clock)
    removed = RetentionService(
        services.store.unit_of_work, clock, 10, 3, catch_up=services.rollups.catch_up
    ).prune(system)
    assert removed["observations"] + removed["partitions"] >= 1
    with services.store.engine.connect() as connection:
        assert _raw(connection, "pm25") == [1, 5]  # 12 and 40 days old: past the 10-day window
        assert _raw(connection, "pm10") == [1, 5]  # the longer of the two windows
        minutes = connection.execute(text("SELECT count(*) FROM rollups_minute")).scalar_one()
        assert minutes == 1  # pm25's reading of 1 day ago is within 3 days; pm10 has no rows
        hours = connection.execute(text("SELECT count(*) FROM rollups_hour")).scalar_one()
        assert hours == 8  # hour and day rollups are kept
    # Hourly answers for the pruned period still come from the rollups.
    answer = services.timeseries.query(
        system,
        Selection(datastreams=("AQ-1/pm25", "AQ-1/pm10")),
        start=clock.now() - timedelta(days=41),
        end=clock.now(),
        interval="1h",
        functions=("avg",),
    )
    assert [[p["avg"] for p in s["points"]] for s in answer["series"]] == [[40, 12, 5, 1]] * 2
    assert _minute_points(services, "pm25") == [1]
    assert _minute_points(services, "pm10") == [5, 1]


def test_raw_readings_that_are_the_minute_level_stay_as_long_as_minute_rollups(
    services, system, clock
):
    _two_kinds(services, system, clock)
    RetentionService(
        services.store.unit_of_work, clock, 3, 10, catch_up=services.rollups.catch_up
    ).prune(system)
    with services.store.engine.connect() as connection:
        assert _raw(connection, "pm25") == [1]
        assert _raw(connection, "pm10") == [1, 5]
    assert _minute_points(services, "pm25") == [5, 1]
    assert _minute_points(services, "pm10") == [5, 1]

    removed = RetentionService(
        services.store.unit_of_work, clock, 3, 0, catch_up=services.rollups.catch_up
    ).prune(system)  # minutes for ever: pm10's raw readings for ever, no partition dropped
    assert removed["partitions"] == 0
    with services.store.engine.connect() as connection:
        assert _raw(connection, "pm25") == [1]
        assert _raw(connection, "pm10") == [1, 5]


def test_zero_days_keeps_everything(services, system, clock):
    services.devices.register_thing(system, {"key": "AQ-1"})
    services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"})
    old = (clock.now() - timedelta(days=400)).isoformat()
    services.ingest.ingest(system, [{"datastream": "AQ-1/pm25", "time": old, "value": 3}])
    removed = RetentionService(
        services.store.unit_of_work, clock, 0, 0, catch_up=services.rollups.catch_up
    ).prune(system)
    assert removed == {"observations": 0, "rollups_minute": 0, "partitions": 0}
