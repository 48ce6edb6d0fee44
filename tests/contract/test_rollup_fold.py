"""The fold on both stores: queued readings reach the rollups and latest values exactly once.

A write stores readings and queues the good ones; a fold merges the queue into the minute, hour
and day rollups and ``stream_latest``. These tests look at the tables themselves:

* readers see queued and folded readings as one, before any fold and after;
* folding in any chunking and any interleaving with writes gives the buckets of one fold;
* concurrent writers and folders never count a reading twice;
* a hand-emptied ``stream_latest`` does not make a fold lose or repeat a minute;
* a queue left by a stopped process is folded by the next one's background fold;
* the background fold waits for a full queue or its time, and leaves a busy part to its folder.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text

from cityops.auth.model import Principal
from cityops.bootstrap import Services, bootstrap
from cityops.sensing.model import ObservationBatch
from cityops.sensing.rollups import RollupFolder
from cityops.sensing.timeseries import Selection
from cityops.storage.repositories.observations import FOLD_LOCK_KEY, FOLD_PART_LOCK_CLASS

START = int(datetime(2026, 11, 19, 15, 30, tzinfo=UTC).timestamp() * 1000)
OFFSET = 8 * 3_600_000  # Asia/Shanghai: days start at 16:00Z
SIZES = {"rollups_minute": 60_000, "rollups_hour": 3_600_000, "rollups_day": 86_400_000}


@pytest.fixture
def stream_ids(services: Services, system: Principal) -> list[int]:
    services.devices.register_thing(system, {"key": "AQ-1"})
    services.devices.register_thing(system, {"key": "AQ-2"})
    # every 10 s and 30 s: minute rows; pm10 once a minute (the default): its minute level is
    # its raw readings
    return [
        services.devices.add_datastream(
            system, "AQ-1", {"metric": "pm25", "interval_seconds": 10}
        ).id,
        services.devices.add_datastream(system, "AQ-1", {"metric": "pm10"}).id,
        services.devices.add_datastream(
            system, "AQ-2", {"metric": "pm25", "interval_seconds": 30}
        ).id,
    ]


def _readings(ids: list[int], seed: int, n: int = 400) -> list[tuple[int, int, float]]:
    """Random readings over two local days (out of order), unique per (stream, time)."""
    rng = random.Random(seed)
    keys = {(rng.choice(ids), START + rng.randrange(0, 2 * 86_400) * 1000) for _ in range(n)}
    readings = [(s, t, round(rng.uniform(0, 300), 1)) for s, t in keys]
    rng.shuffle(readings)
    return readings


def _batch(readings: list[tuple[int, int, float]]) -> ObservationBatch:
    batch = ObservationBatch()
    for stream, millis, value in readings:
        batch.append(stream, millis, value)
    return batch


def _expected(
    readings: list[tuple[int, int, float]], raw_level: frozenset[int] = frozenset()
) -> dict[str, dict[tuple[int, int], tuple]]:
    """Each rollup level's buckets, computed here from the readings.

    The table's rows leave out the minutes of the ``raw_level`` streams (those that keep no
    minute rows); read buckets include them.
    """
    tables: dict[str, dict[tuple[int, int], tuple]] = {}
    for table, size in SIZES.items():
        groups: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
        for stream, millis, value in readings:
            if table == "rollups_minute" and stream in raw_level:
                continue
            groups[(stream, millis - (millis + OFFSET) % size)].append((millis, value))
        rows = {}
        for key, members in groups.items():
            members.sort()
            values = [v for _, v in members]
            rows[key] = (
                len(values),
                pytest.approx(sum(values), rel=1e-12),
                min(values),
                max(values),
                members[0][0],
                members[0][1],
                members[-1][0],
                members[-1][1],
            )
        tables[table] = rows
    return tables


def _stored(services: Services) -> dict[str, dict[tuple[int, int], tuple]]:
    tables = {}
    with services.store.engine.connect() as connection:
        for table in SIZES:
            rows = connection.execute(
                text(
                    "SELECT datastream_id, bucket, n, total, minimum, maximum, first_time, "
                    f"first_value, last_time, last_value FROM {table}"
                )
            )
            tables[table] = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    return tables


def _latest(services: Services) -> dict[int, tuple[int, float]]:
    with services.store.engine.connect() as connection:
        rows = connection.execute(
            text("SELECT datastream_id, phenomenon_time, result FROM stream_latest")
        )
        return {r[0]: (r[1], r[2]) for r in rows}


def _queued(services: Services) -> int:
    with services.store.engine.connect() as connection:
        return int(connection.execute(text("SELECT count(*) FROM obs_pending")).scalar_one())


def _run_until_written(
    writers: list[threading.Thread], folders: list[threading.Thread], done: threading.Event
) -> None:
    """Start writers and folders; once the writers are done, tell the folders and join them."""
    for thread in (*writers, *folders):
        thread.start()
    for thread in writers:
        thread.join()
    done.set()
    for thread in folders:
        thread.join()


def _raw_level(services: Services) -> frozenset[int]:
    """The datastreams that keep no minute rows."""
    with services.store.engine.connect() as connection:
        rows = connection.execute(text("SELECT id FROM datastreams WHERE NOT minute_rollups"))
        return frozenset(rows.scalars())


def _assert_folded(services: Services, readings: list[tuple[int, int, float]]) -> None:
    assert _queued(services) == 0
    raw_level = _raw_level(services)
    assert raw_level  # the fixtures have both kinds
    assert _stored(services) == _expected(readings, raw_level)
    newest: dict[int, tuple[int, float]] = {}
    for stream, millis, value in readings:
        if stream not in newest or millis > newest[stream][0]:
            newest[stream] = (millis, value)
    assert _latest(services) == newest


def test_readers_see_queued_readings_before_any_fold(
    services: Services, system: Principal, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=1)
    services.ingest.store(_batch(readings))
    assert _queued(services) == len(readings)
    assert _stored(services)["rollups_minute"] == {}  # nothing merged in the write

    answer = services.timeseries.query(
        system,
        Selection(metric="pm25"),
        start=datetime.fromtimestamp(START / 1000, UTC),
        end=datetime.fromtimestamp((START + 3 * 86_400_000) / 1000, UTC),
        interval="1h",
        functions=("count", "first", "last"),
    )
    pm25 = (stream_ids[0], stream_ids[2])
    counted = sum(p["count"] for s in answer["series"] for p in s["points"])
    assert counted == sum(1 for s, _, _ in readings if s in pm25)
    latest = {
        r["datastream_id"]: r["value"]
        for r in services.timeseries.latest(system, Selection(metric="pm25"))
    }
    newest = {s: max((t, v) for s2, t, v in readings if s2 == s)[1] for s in pm25}
    assert latest == newest
    assert _queued(services) == len(readings)  # reading never folds

    before = answer
    assert services.rollups.fold() == len(readings)
    _assert_folded(services, readings)
    after = services.timeseries.query(
        system,
        Selection(metric="pm25"),
        start=datetime.fromtimestamp(START / 1000, UTC),
        end=datetime.fromtimestamp((START + 3 * 86_400_000) / 1000, UTC),
        interval="1h",
        functions=("count", "first", "last"),
    )
    assert after == before  # the same answer from the folded rollups


def test_part_folded_part_queued_buckets_read_as_one(
    services: Services, system: Principal, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=2)
    half = len(readings) // 2
    services.ingest.store(_batch(readings[:half]))
    services.rollups.fold()
    services.ingest.store(_batch(readings[half:]))
    with services.store.unit_of_work(read_only=True) as uow:
        for level, table in (
            ("minute", "rollups_minute"),
            ("hour", "rollups_hour"),
            ("day", "rollups_day"),
        ):
            got = uow.observation_reads.buckets(level, stream_ids, 0, 2**62)
            expected = _expected(readings)[table]
            assert {(b.datastream_id, b.start): tuple(b[2:10]) for b in got} == expected
            assert [(b.datastream_id, b.start) for b in got] == sorted(expected)


def test_a_fold_does_not_trust_the_latest_table_for_minute_rows(
    services: Services, stream_ids: list[int]
) -> None:
    first = [(stream_ids[0], START, 10.0)]
    services.ingest.store(_batch(first))
    services.rollups.fold()
    with services.store.engine.begin() as connection:
        connection.execute(text("DELETE FROM stream_latest"))  # a hand-emptied table
    second = [(stream_ids[0], START + 20_000, 30.0)]  # the same minute, not known as seen
    services.ingest.store(_batch(second))
    assert services.rollups.fold() == 1
    _assert_folded(services, first + second)


TWIN_METRICS = ("pm10", "noise_laeq", "wind_direction", "water_meter")


@pytest.mark.parametrize("seed", range(3))
def test_a_raw_level_minute_reads_as_the_minute_row_of_its_twin(
    services: Services, system: Principal, seed: int
) -> None:
    """Twin datastreams get the same readings; one keeps minute rows, the other does not.

    Their buckets and answers must be the same at every level, whatever is queued or folded:
    several readings in a minute, late ones, bad ones (left out of both), and the metrics whose
    mean needs the auxiliary sums (energy mean, vector mean) or whose sum is a consumption.
    """
    rng = random.Random(seed)
    services.devices.register_thing(system, {"key": "ROWS"})
    services.devices.register_thing(system, {"key": "RAW"})
    twins = []
    for metric in TWIN_METRICS:
        rows = services.devices.add_datastream(
            system, "ROWS", {"metric": metric, "interval_seconds": 15}
        )
        raw = services.devices.add_datastream(system, "RAW", {"metric": metric})
        assert rows.minute_rollups
        assert not raw.minute_rollups
        twins.append((rows.id, raw.id))
    batches = []
    for _ in range(6):
        batch = ObservationBatch()
        for rows_id, raw_id in twins:
            for _ in range(rng.randint(1, 25)):
                # 40 minutes: many minutes get two or more readings, across batches too
                millis = START + rng.randrange(0, 40 * 60) * 1000
                value = round(rng.uniform(1, 120), 1)
                quality = 3 if rng.random() < 0.1 else rng.choice((0, 0, 1))
                batch.append(rows_id, millis, value, quality)
                batch.append(raw_id, millis, value, quality)
        batches.append(batch)
    for index, batch in enumerate(batches):
        kept = ObservationBatch()
        seen: set[tuple[int, int]] = set()
        for stream, millis, value, quality in zip(
            batch.streams, batch.times, batch.values, batch.qualities, strict=True
        ):
            if (stream, millis) not in seen:
                seen.add((stream, millis))
                kept.append(stream, millis, value, quality)
        services.ingest.store(kept)
        if index % 2 == 0:
            services.rollups.fold()  # the last batches stay queued
    assert _queued(services) > 0

    with services.store.unit_of_work(read_only=True) as uow:
        for level in ("minute", "hour", "day"):
            got = uow.observation_reads.buckets(level, [i for t in twins for i in t], 0, 2**62)
            by_stream: dict[int, list[tuple]] = defaultdict(list)
            for bucket in got:
                by_stream[bucket.datastream_id].append(tuple(bucket[1:]))
            for rows_id, raw_id in twins:
                assert by_stream[rows_id], level
                assert by_stream[raw_id] == [
                    tuple(pytest.approx(x, rel=1e-9) if isinstance(x, float) else x for x in b)
                    for b in by_stream[rows_id]
                ], level
    with services.store.engine.connect() as connection:
        minute_rows = connection.execute(
            text("SELECT DISTINCT datastream_id FROM rollups_minute")
        ).scalars()
        assert set(minute_rows) == {rows_id for rows_id, _ in twins}

    start = datetime.fromtimestamp((START - 60_000) / 1000, UTC)
    end = datetime.fromtimestamp((START + 41 * 60_000) / 1000, UTC)
    for metric in TWIN_METRICS:
        answers = [
            services.timeseries.query(
                system,
                Selection(datastreams=(f"{key}/{metric}",)),
                start=start,
                end=end,
                interval=interval,
                functions=("avg", "min", "max", "count", "sum", "first", "last"),
            )
            for key in ("ROWS", "RAW")
            for interval in ("1m", "5m")
        ]
        for rows_answer, raw_answer in ((answers[0], answers[2]), (answers[1], answers[3])):
            (rows_series,) = rows_answer["series"]
            (raw_series,) = raw_answer["series"]
            assert rows_series["points"], metric
            assert raw_series["points"] == [
                {k: pytest.approx(v, rel=1e-9) if isinstance(v, float) else v for k, v in p.items()}
                for p in rows_series["points"]
            ], metric


@pytest.mark.parametrize("seed", range(4))
def test_any_chunking_and_interleaving_gives_the_buckets_of_one_fold(
    services: Services, stream_ids: list[int], seed: int
) -> None:
    rng = random.Random(seed)
    readings = _readings(stream_ids, seed=seed)
    folder = RollupFolder(services.store.unit_of_work, chunk=rng.choice((1, 7, 64)))
    position = 0
    while position < len(readings):
        size = rng.randint(1, 80)
        services.ingest.store(_batch(readings[position : position + size]))
        position += size
        if rng.random() < 0.5:
            folder.fold()
    assert folder.fold() >= 0
    _assert_folded(services, readings)
    assert folder.fold() == 0  # an empty queue folds nothing


def test_repeated_readings_are_queued_once(services: Services, stream_ids: list[int]) -> None:
    readings = _readings(stream_ids, seed=9, n=50)
    services.ingest.store(_batch(readings))
    services.ingest.store(_batch(readings))  # a retried batch: stored nothing, queues nothing
    assert _queued(services) == len(readings)
    services.rollups.fold()
    _assert_folded(services, readings)


def test_concurrent_writers_and_folders_count_each_reading_once(
    services: Services, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=5, n=1200)
    parts = [readings[i::4] for i in range(4)]
    done = threading.Event()
    failures: list[BaseException] = []

    def write(part: list[tuple[int, int, float]]) -> None:
        try:
            for i in range(0, len(part), 25):
                services.ingest.store(_batch(part[i : i + 25]))
        except BaseException as error:  # reported below
            failures.append(error)

    def fold() -> None:
        folder = RollupFolder(services.store.unit_of_work, chunk=40)
        try:
            while not done.is_set():
                folder.fold()
        except BaseException as error:  # reported below
            failures.append(error)

    writers = [threading.Thread(target=write, args=(part,)) for part in parts]
    folders = [threading.Thread(target=fold) for _ in range(2)]
    _run_until_written(writers, folders, done)
    assert failures == []
    services.rollups.fold()
    _assert_folded(services, readings)


def test_a_queue_left_by_a_stopped_process_is_folded_by_the_next(
    settings: Any, services: Services, system: Principal, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=3)
    services.ingest.store(_batch(readings))
    services.close()  # stopped before any fold: the readings are committed, the queue kept

    later = bootstrap(settings)
    try:
        assert _queued(later) == len(readings)
        statuses = later.devices.datastreams(system)  # readers see the queue at once
        assert {s.stream.id for s in statuses if s.latest is not None} == set(stream_ids)
        later.rollup_fold.start()  # what `serve` and `ts mqtt` start
        deadline = time.monotonic() + 20
        while _queued(later) and time.monotonic() < deadline:
            time.sleep(0.05)
        _assert_folded(later, readings)
    finally:
        later.close()


# Folds in parts run on PostgreSQL only (SQLite refuses them: tested below), so these tests
# name their store instead of running on both.
@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_part_folds_just_its_streams_and_the_parts_make_the_whole(
    services: Services, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=12)
    services.ingest.store(_batch(readings))
    folder = RollupFolder(services.store.unit_of_work, chunk=50, parts=2)

    folded = folder.fold_part(0)

    evens = [r for r in readings if r[0] % 2 == 0]
    assert folded == len(evens) > 0
    assert set(_latest(services)) == {s for s in stream_ids if s % 2 == 0}
    assert _stored(services) == _expected(evens, _raw_level(services))
    assert _queued(services) == len(readings) - len(evens)
    assert folder.fold_part(1) == len(readings) - len(evens)
    _assert_folded(services, readings)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_part_folds_beside_whole_folds_and_writers_count_each_reading_once(
    services: Services, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=13, n=1500)
    done = threading.Event()
    failures: list[BaseException] = []

    def write(share: list[tuple[int, int, float]]) -> None:
        try:
            for i in range(0, len(share), 20):
                services.ingest.store(_batch(share[i : i + 20]))
        except BaseException as error:  # reported below
            failures.append(error)

    def fold(part: int | None) -> None:
        folder = RollupFolder(services.store.unit_of_work, chunk=30, parts=2)
        try:
            while not done.is_set():
                folder.fold() if part is None else folder.fold_part(part)
        except BaseException as error:  # reported below (a deadlock would land here)
            failures.append(error)

    writers = [threading.Thread(target=write, args=(readings[i::3],)) for i in range(3)]
    folders = [threading.Thread(target=fold, args=(part,)) for part in (0, 1, 0, 1, None)]
    _run_until_written(writers, folders, done)
    assert failures == []
    services.rollups.fold()
    _assert_folded(services, readings)


def test_the_background_fold_runs_in_parts_on_postgresql_only(services: Services) -> None:
    parts = 2 if services.store.dialect == "postgresql" else 1
    assert services.rollups.parts == parts
    assert [m.name for m in services.rollup_fold.members] == [
        f"rollup-fold-{part}" for part in range(parts)
    ]


def test_a_fold_part_outside_its_parts_or_in_parts_on_sqlite_is_refused(
    services: Services,
) -> None:
    with services.store.unit_of_work() as uow, pytest.raises(ValueError, match=r"0\.\.1"):
        uow.observations.fold(10, part=2, parts=2)
    with pytest.raises(ValueError, match="at least 1"):
        RollupFolder(services.store.unit_of_work, parts=0)
    if services.store.dialect == "sqlite":
        with services.store.unit_of_work() as uow, pytest.raises(ValueError, match="parts = 1"):
            uow.observations.fold(10, part=1, parts=2)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_the_rows_each_fold_rewrites_have_room_on_their_pages(services: Services) -> None:
    with services.store.engine.connect() as connection:
        options = dict(
            connection.execute(
                text(
                    "SELECT relname, array_to_string(reloptions, ',') FROM pg_class "
                    "WHERE relname IN ('rollups_minute', 'rollups_hour', 'rollups_day', "
                    "'stream_latest') AND relkind = 'r'"
                )
            ).all()
        )
    assert options == {
        "rollups_minute": None,
        "rollups_hour": "fillfactor=70",
        "rollups_day": "fillfactor=50",
        "stream_latest": "fillfactor=50",
    }


def test_the_background_fold_waits_for_a_full_queue_or_its_time(
    services: Services, stream_ids: list[int]
) -> None:
    now = [100.0]
    folder = RollupFolder(
        services.store.unit_of_work, min_readings=1000, max_wait=10.0, monotonic=lambda: now[0]
    )
    readings = _readings(stream_ids, seed=21, n=4000)
    first, second, third = readings[:400], readings[400:800], readings[800:]
    assert len(third) >= 1000

    services.ingest.store(_batch(first))
    assert folder.fold_when_due(0) == 400  # the first look folds whatever waits
    services.ingest.store(_batch(second))
    now[0] += 9.9
    assert folder.fold_when_due(0) == 0  # 400 < 1,000 and 9.9 s < 10 s: not yet
    assert _queued(services) == 400
    now[0] += 0.1
    assert folder.fold_when_due(0) == 400  # its time
    assert folder.fold_when_due(0) == 0  # nothing waits
    services.ingest.store(_batch(third))
    assert folder.fold_when_due(0) == len(third)  # a full queue: at once
    _assert_folded(services, readings)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_background_fold_leaves_a_part_another_fold_holds(
    services: Services, stream_ids: list[int]
) -> None:
    readings = _readings(stream_ids, seed=22)
    services.ingest.store(_batch(readings))
    folder = RollupFolder(services.store.unit_of_work, parts=2, min_readings=1)
    holders = {
        "part 0": f"SELECT pg_advisory_xact_lock({FOLD_PART_LOCK_CLASS}, 0)",
        "the whole queue": f"SELECT pg_advisory_xact_lock({FOLD_LOCK_KEY})",
    }
    for held, statement in holders.items():
        queued = _queued(services)
        with services.store.engine.connect() as other:
            other.execute(text(statement))  # held until this transaction ends
            assert folder.fold_part(0, wait=False) == 0, held
            assert folder.fold_when_due(0) == 0, held
            assert _queued(services) == queued, held
            if held == "part 0":  # the other part is free
                assert folder.fold_when_due(1) == len([r for r in readings if r[0] % 2])
            other.rollback()
    folder.fold_when_due(0)
    _assert_folded(services, readings)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_each_part_waits_for_its_share_of_a_full_queue(
    services: Services, stream_ids: list[int]
) -> None:
    now = [100.0]
    folder = RollupFolder(
        services.store.unit_of_work,
        parts=2,
        min_readings=1000,
        max_wait=10.0,
        monotonic=lambda: now[0],
    )
    readings = _readings(stream_ids, seed=23, n=6000)
    evens = [r for r in readings if r[0] % 2 == 0][:601]
    odds = [r for r in readings if r[0] % 2][:301]
    assert (len(evens), len(odds)) == (601, 301)
    services.ingest.store(_batch([evens[0], odds[0]]))
    assert folder.fold_when_due(0) == folder.fold_when_due(1) == 1  # first looks fold at once
    services.ingest.store(_batch(evens[1:] + odds[1:]))

    assert folder.fold_when_due(1) == 0  # 300 < its share (500), though 900 wait in all
    assert folder.fold_when_due(0) == 600  # 600 ≥ 500, though 900 < 1,000 in all
    now[0] += 10.0
    assert folder.fold_when_due(1) == 300
    _assert_folded(services, evens + odds)


def test_a_background_fold_tidies_the_queue_at_most_every_tidy_interval(
    services: Services, stream_ids: list[int]
) -> None:
    now, tidied = [100.0], []

    def tidy() -> None:
        services.store.vacuum_fold_queue()  # the real one: it must run outside a transaction
        tidied.append(now[0])

    folder = RollupFolder(
        services.store.unit_of_work,
        min_readings=1,
        tidy_queue=tidy,
        tidy_every=2.0,
        monotonic=lambda: now[0],
    )
    readings = _readings(stream_ids, seed=24, n=1200)
    for step, chunk in enumerate((readings[:400], readings[400:800], readings[800:])):
        services.ingest.store(_batch(chunk))
        now[0] += (0.0, 1.0, 1.0)[step]
        assert folder.fold_when_due(0) == len(chunk)
    assert folder.fold_when_due(0) == 0  # nothing folded: nothing to tidy
    assert tidied == [100.0, 102.0]  # not at 101.0: within 2 s of the last
    _assert_folded(services, readings)
