"""Retention on both stores: raw readings and minute rollups go, hour and day rollups stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from cityops.sensing.retention import RetentionService
from cityops.sensing.timeseries import Selection


def test_prune_keeps_the_windows_and_the_coarse_rollups(services, system, clock):
    services.devices.register_thing(system, {"key": "AQ-1"})
    services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"})
    items = [
        {
            "datastream": "AQ-1/pm25",
            "time": (clock.now() - timedelta(days=d)).isoformat(),
            "value": d,
        }
        for d in (1, 5, 12, 40)
    ]
    assert services.ingest.ingest(system, items).accepted == 4
    removed = RetentionService(
        services.store.unit_of_work, clock, 10, 3, catch_up=services.rollups.catch_up
    ).prune(system)
    assert removed["observations"] + removed["partitions"] >= 1
    with services.store.engine.connect() as connection:
        raw = connection.execute(text("SELECT result FROM observations ORDER BY result")).scalars()
        assert list(raw) == [1, 5]  # 12 and 40 days old are past the 10-day window
        minutes = connection.execute(text("SELECT count(*) FROM rollups_minute")).scalar_one()
        assert minutes == 1  # only the reading of 1 day ago is within 3 days
        hours = connection.execute(text("SELECT count(*) FROM rollups_hour")).scalar_one()
        assert hours == 4  # hour and day rollups are kept
    # Hourly answers for the pruned period still come from the rollups.
    answer = services.timeseries.query(
        system,
        Selection(datastreams=("AQ-1/pm25",)),
        start=clock.now() - timedelta(days=41),
        end=clock.now(),
        interval="1h",
        functions=("avg",),
    )
    assert [p["avg"] for p in answer["series"][0]["points"]] == [40, 12, 5, 1]


def test_zero_days_keeps_everything(services, system, clock):
    services.devices.register_thing(system, {"key": "AQ-1"})
    services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"})
    old = (clock.now() - timedelta(days=400)).isoformat()
    services.ingest.ingest(system, [{"datastream": "AQ-1/pm25", "time": old, "value": 3}])
    removed = RetentionService(
        services.store.unit_of_work, clock, 0, 0, catch_up=services.rollups.catch_up
    ).prune(system)
    assert removed == {"observations": 0, "rollups_minute": 0, "partitions": 0}
