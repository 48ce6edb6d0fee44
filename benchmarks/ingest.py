"""Benchmark telemetry ingest (issue 7): HTTP batches, MQTT, queries, worker memory.

Each part prints cityops' figure next to the raw engine limit measured in the same run, on the
same tables and machine:
  * raw: the engines' own bulk paths into a table shaped like ``observations`` (same key):
    SQLite ``executemany`` into a ``WITHOUT ROWID`` table, PostgreSQL ``COPY`` (psycopg
    ``cursor.copy``) into a table range-partitioned by time; one transaction per 10,000 rows
    (one reading of each datastream, as a batch has) and per 100,000 rows;
  * inprocess: ``services.ingest.ingest`` with 10,000-item batches in our JSON item shape
    (parsed with orjson beforehand, as the HTTP route does), 1,000 devices × 10 metrics
    registered through ``services.devices``, time moving forward one minute per batch;
    observations/s, batch latency, CPU seconds of the process (and of the PostgreSQL server);
  * http: a ``cityops serve`` process on a loopback port, an API key with telemetry:write
    issued with ``cityops apikeys create``, N httpx client threads posting pre-serialised
    10,000-item bodies for a fixed time; accepted observations/s counted from the responses
    and checked against the store's count, p50/p99 request latency, server CPU;
  * mqtt: a throwaway Mosquitto (scripts/mqtt-throwaway.sh), ``cityops ts mqtt`` workers
    (subprocesses, one shared-subscription group), a QoS 1 publisher process (``--publisher``:
    the lean pipelined client of ``mqtt_lean_publisher.py``, or paho) sending one
    device message per publish (``{"time", "values": {10 metrics}}`` to
    ``cityops/telemetry/<key>``), then batched messages of 500 items; the store's count of
    committed readings (folded or queued) is polled until it holds what the broker
    acknowledged and the fold has caught up; sustained stored observations/s end to end, and
    the broker-to-store (commit) lag;
  * queries: a store filled to ``--observations`` readings through the real write path
    (``services.ingest.store`` with 100,000-reading batches, rollups included; the fill is
    timed), then ``services.timeseries.latest`` (all datastreams, one metric) and
    ``services.timeseries.query`` (hourly aggregates of one datastream over a day and a week,
    of a metric pooled by street), p50/p95 of 20 runs, next to the bare driver running the
    statements those calls send;
  * memory: MQTT workers under a steady load at 70 % of the capacity measured above, their
    VmRSS sampled every 5 s for ``--sustain-seconds``: first, peak, last and slope.
The datastreams are registered with a 60 s interval (they report once a minute), so they keep
no minute rollup rows: their minute level is their raw readings (``keeps_minute_rollups``).
Alert latency (publish → alert event) is measured by ``benchmarks/alert_latency.py``.

Usage:
  python benchmarks/ingest.py                                   # SQLite only, every part
  python benchmarks/ingest.py --postgres URL                    # also PostgreSQL: databases
                                                                #   <db>_bench_ingest_* are
                                                                #   created there and dropped
  python benchmarks/ingest.py --only inprocess --seconds 10     # one part (raw runs with it)
  python benchmarks/ingest.py --only queries --observations 200000
  python benchmarks/ingest.py --only memory --sustain-seconds 60
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import math
import multiprocessing
import os
import platform
import queue
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_data  # noqa: E402
import mqtt_lean_publisher  # noqa: E402
from bench_server import cityops_command, server_env, serving, stop  # noqa: E402
from ingest_data import PLACEHOLDER, Fleet, PublishSpec, Ticks  # noqa: E402

from cityops.auth.model import Principal  # noqa: E402
from cityops.bootstrap import Services, bootstrap  # noqa: E402
from cityops.sensing.rollups import FOLD_MIN_READINGS  # noqa: E402
from cityops.sensing.timeseries import Selection  # noqa: E402
from cityops.settings import Settings  # noqa: E402
from cityops.storage import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("raw", "inprocess", "http", "mqtt", "queries", "memory")
TARGETS = {"sqlite": 50_000.0, "postgresql": 100_000.0}  # observations/s persisted
SECRET = "x" * 40
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
PARTITION_MS = 7 * DAY_MS  # CITYOPS_TELEMETRY_PARTITION_DAYS default
STEP_MS = 60_000  # ingest parts: every datastream reports once a minute
VALUE_SETS = 4
BATCH_ITEMS = 10_000  # the HTTP door's maximum
FILL_TICKS = 10  # queries part: 10 ticks × 10,000 datastreams per store() call
RSS_EVERY = 5.0
MIN_JUDGED_SECONDS = 120.0  # a shorter sustained run shows too few samples to call it flat
RESULTS: list[tuple[str, str, str, str, str, str]] = []  # part, store, figure, value, target, ok
RAW: dict[str, dict[str, float]] = {}  # store label → {"tx10k": rows/s, "tx100k": rows/s}
CAPACITY: dict[str, float] = {}  # store label → MQTT device-message obs/s measured in this run


# --------------------------------------------------------------------------- small helpers


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1/5 min)"


def _pct(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q)) if len(samples) else float("nan")


def _record(
    part: str, store: str, figure: str, value: str, target: str = "", ok: bool | None = None
) -> None:
    verdict = "" if ok is None else ("pass" if ok else "MISS")
    RESULTS.append((part, store, figure, value, target, verdict))


def _rate_target(store: Store, rate: float) -> tuple[str, bool]:
    target = TARGETS[store.dialect]
    return f"≥ {target:,.0f}/s", rate >= target


def _raw_line(store: Store) -> str:
    raw = RAW.get(store.label)
    if not raw:
        return "raw engine limit: not measured in this run (add --only raw)"
    how = "executemany" if store.dialect == "sqlite" else "COPY"
    return (
        f"raw engine limit (same run): {how} {raw['tx10k']:,.0f} rows/s in 10,000-row "
        f"transactions, {raw['tx100k']:,.0f} rows/s in 100,000-row transactions"
    )


def _ratio(store: Store, rate: float) -> str:
    raw = RAW.get(store.label)
    return f"{rate / raw['tx10k']:.1%} of the raw 10,000-row rate" if raw else "raw not measured"


@dataclass
class Store:
    """One store under test: its label, SQLAlchemy URL and dialect."""

    label: str
    url: str
    dialect: str

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file."""
        return Path(make_url(self.url).database or "")

    @property
    def libpq(self) -> str:
        """The libpq URL of a PostgreSQL store."""
        return make_url(self.url).set(drivername="postgresql").render_as_string(False)

    @property
    def database(self) -> str:
        """The PostgreSQL database name."""
        return make_url(self.url).database or ""


@dataclass
class Bench:
    """The run's arguments, work directory and template stores (registered fleet)."""

    args: argparse.Namespace
    workdir: Path
    zone: str
    templates: dict[str, tuple[Store, Fleet]] = field(default_factory=dict)

    def stores(self) -> list[str]:
        """Return the dialects under test."""
        every = ["sqlite", "postgresql"] if self.args.postgres else ["sqlite"]
        if self.args.stores:
            return [d for d in every if d in self.args.stores.split(",")]
        return every


def _admin(url: str) -> Any:
    import psycopg

    return psycopg.connect(
        make_url(url).set(drivername="postgresql").render_as_string(False), autocommit=True
    )


def _drop_database(server_url: str, name: str) -> None:
    with _admin(server_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _create_database(server_url: str, name: str, template: str | None = None) -> str:
    """Create database ``name`` (dropped first if it exists); return its SQLAlchemy URL."""
    with _admin(server_url) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if template:
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (template,),
            )
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        else:
            connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _db_name(bench: Bench, part: str) -> str:
    base = make_url(bench.args.postgres).database or "cityops"
    return f"{base}_bench_ingest_{part}"


def _settings(store: Store, data_dir: Path) -> Settings:
    return Settings(
        mode="dev",
        database_url=store.url,
        data_dir=data_dir,
        secret_key=SECRET,
        case_sweep_seconds=0,
    )


def _services(store: Store, data_dir: Path) -> Services:
    data_dir.mkdir(parents=True, exist_ok=True)
    return bootstrap(_settings(store, data_dir))


def _env(store: Store, data_dir: Path) -> dict[str, str]:
    return server_env(store.url, data_dir, SECRET)


def template(bench: Bench, dialect: str) -> tuple[Store, Fleet]:
    """Return the migrated store holding the fleet (registered once per run), building it."""
    if dialect in bench.templates:
        return bench.templates[dialect]
    if dialect == "sqlite":
        path = bench.workdir / "template.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        store = Store("SQLite", f"sqlite:///{path}", "sqlite")
    else:
        url = _create_database(bench.args.postgres, _db_name(bench, "template"))
        store = Store("PostgreSQL", url, "postgresql")
    print(f"\n{store.label}: template store (migrate, demo divisions, fleet) … {_load()}")
    started = time.perf_counter()
    services = _services(store, bench.workdir / f"data-template-{dialect}")
    migrate.upgrade(services.store.engine)
    fleet = ingest_data.build_fleet(services, bench.args.devices)
    services.close()
    if store.dialect == "sqlite":
        with sqlite3.connect(store.sqlite_path) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    took = time.perf_counter() - started
    print(
        f"  {len(fleet.thing_keys):,} devices × {len(ingest_data.METRICS)} metrics = "
        f"{fleet.streams:,} datastreams registered through services.devices in {took:.1f} s "
        f"({len(fleet.divisions)} streets)"
    )
    _record("setup", store.label, f"register {fleet.streams:,} datastreams", f"{took:.1f} s")
    bench.templates[dialect] = (store, fleet)
    return store, fleet


@contextlib.contextmanager
def fresh(bench: Bench, dialect: str, part: str) -> Iterator[tuple[Store, Fleet, Path]]:
    """Yield a copy of the template store for one part (and its data dir); remove it after."""
    source, fleet = template(bench, dialect)
    data_dir = bench.workdir / f"data-{part}-{dialect}"
    data_dir.mkdir(parents=True, exist_ok=True)
    if dialect == "sqlite":
        path = bench.workdir / f"{part}.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(source.sqlite_path, path)
        store = Store(source.label, f"sqlite:///{path}", dialect)
    else:
        url = _create_database(bench.args.postgres, _db_name(bench, part), source.database)
        store = Store(source.label, url, dialect)
    try:
        yield store, fleet, data_dir
    finally:
        if bench.args.keep:
            pass
        elif dialect == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store.sqlite_path}{suffix}").unlink(missing_ok=True)
        else:
            _drop_database(bench.args.postgres, store.database)


class StoreCounter:
    """Counts readings in a store with the bare driver (one connection, kept open)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        if store.dialect == "sqlite":
            self._sqlite = sqlite3.connect(store.sqlite_path, isolation_level=None)
            self._sqlite.execute("PRAGMA busy_timeout=30000")
        else:
            import psycopg

            self._pg = psycopg.connect(store.libpq, autocommit=True)

    def _one(self, sql: str) -> int:
        if self.store.dialect == "sqlite":
            row = self._sqlite.execute(sql).fetchone()
        else:
            row = self._pg.execute(sql).fetchone()  # type: ignore[arg-type]
        return int(row[0] or 0) if row else 0

    def stored(self) -> int:
        """Good readings committed: folded (the day rollups' counts) plus queued, one snapshot."""
        return self._one(
            "SELECT (SELECT coalesce(sum(n), 0) FROM rollups_day)"
            " + (SELECT count(*) FROM obs_pending)"
        )

    def count(self) -> int:
        """Rows in ``observations`` (exact, slower)."""
        return self._one("SELECT count(*) FROM observations")

    def queued(self) -> int:
        """Return how many readings are stored but not yet folded into the rollups."""
        return self._one("SELECT count(*) FROM obs_pending")

    def drain(self, below: int = 1, timeout: float = 600.0) -> float:
        """Wait until fewer than ``below`` readings are queued; return the seconds it took."""
        began = time.perf_counter()
        while self.queued() >= below and time.perf_counter() - began < timeout:
            time.sleep(0.05)
        return time.perf_counter() - began

    def close(self) -> None:
        """Close the connection."""
        if self.store.dialect == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()


# --------------------------------------------------------------------------- processes, CPU


def _proc_kib(pid: int, key: str) -> int:
    """Return a /proc/<pid>/status value in KiB (VmRSS, VmHWM), 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return 0
    return 0


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of a process so far (0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(_children(int(child)))
    return found


class CpuMeter:
    """CPU seconds spent by a set of processes (and their children) between start and stop."""

    def __init__(self, pids: Callable[[], Sequence[int]]) -> None:
        self._pids = pids
        self._before: dict[int, float] = {}

    def _now(self) -> dict[int, float]:
        found: dict[int, float] = {}
        for pid in self._pids():
            for one in (pid, *_children(pid)):
                found[one] = _cpu_seconds(one)
        return found

    def start(self) -> CpuMeter:
        """Take the first reading."""
        self._before = self._now()
        return self

    def stop(self) -> float:
        """Return the CPU seconds since start (processes that ended in between are lost)."""
        after = self._now()
        return sum(max(0.0, cpu - self._before.get(pid, 0.0)) for pid, cpu in after.items())


def _pg_server_pid(store: Store) -> int | None:
    """Return the postmaster's pid when the PostgreSQL server runs on this machine."""
    if store.dialect != "postgresql":
        return None
    try:
        import psycopg

        with psycopg.connect(store.libpq) as connection:
            row = connection.execute("SHOW data_directory").fetchone()
        data = Path(str(row[0])) if row else None
        if data is None or not (data / "postmaster.pid").exists():
            return None
        pid = int((data / "postmaster.pid").read_text().split()[0])
        return pid if Path(f"/proc/{pid}").exists() else None
    except Exception:  # another machine, or no right to read its settings: no server CPU
        return None


def _pg_meter(store: Store) -> CpuMeter | None:
    pid = _pg_server_pid(store)
    return CpuMeter(lambda: [pid]).start() if pid else None


def _cpu_text(meter: CpuMeter | None) -> str:
    return f"{meter.stop():.1f} s" if meter else "n/a"


def _cli(store: Store, data_dir: Path, *arguments: str) -> str:
    done = subprocess.run(
        [cityops_command(), *arguments],
        capture_output=True,
        text=True,
        env=_env(store, data_dir),
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"cityops {' '.join(arguments)}: {done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def _api_key(store: Store, data_dir: Path) -> str:
    """Issue an API key with telemetry:write through the CLI; return its secret."""
    out = _cli(
        store,
        data_dir,
        "apikeys",
        "create",
        "bench-ingest",
        "--permission",
        "telemetry:write",
        "--scope",
        "city",
    )
    found = re.search(r"^key: (\S+)", out, re.MULTILINE)
    if not found:
        raise RuntimeError(f"no key in: {out}")
    return found.group(1)


@contextlib.contextmanager
def _server(store: Store, data_dir: Path, log: Path) -> Iterator[tuple[str, subprocess.Popen]]:  # type: ignore[type-arg]
    """Run ``cityops serve`` on a free loopback port; yield (base URL, process)."""
    with serving(_env(store, data_dir), log) as started:
        yield started


def _ingest_ticks(bench: Bench) -> Ticks:
    """Ticks for the ingest parts: a minute apart, from 30 days ago (always in the past)."""
    now = int(time.time() * 1000)
    start = now - 30 * DAY_MS
    return Ticks(start - start % STEP_MS, STEP_MS, bench.zone)


# --------------------------------------------------------------------------- part: raw


def _raw_rows(
    fleet: Fleet, ticks: Ticks, first: int, count: int
) -> list[tuple[int, int, float, int]]:
    values = ingest_data.value_sets(fleet, 1)[0]
    rows: list[tuple[int, int, float, int]] = []
    for tick in range(first, first + count):
        millis = ticks.ms(tick)
        rows.extend(
            (sid, millis, value, 0) for sid, value in zip(fleet.stream_ids, values, strict=True)
        )
    return rows


def _raw_sqlite(path: Path, fleet: Fleet, ticks: Ticks, per_tx: int, seconds: float) -> float:
    """Rows/s of executemany into a WITHOUT ROWID table keyed like observations."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=NORMAL")
    connection.execute(
        "CREATE TABLE observations (datastream_id INTEGER NOT NULL, phenomenon_time BIGINT NOT"
        " NULL, result FLOAT NOT NULL, quality SMALLINT NOT NULL,"
        " PRIMARY KEY (datastream_id, phenomenon_time)) WITHOUT ROWID"
    )
    per_tick = max(1, per_tx // fleet.streams)
    spent, rows_done, tick = 0.0, 0, 0
    while spent < seconds:
        rows = _raw_rows(fleet, ticks, tick, per_tick)
        tick += per_tick
        began = time.perf_counter()
        connection.execute("BEGIN")
        connection.executemany("INSERT INTO observations VALUES (?, ?, ?, ?)", rows)
        connection.execute("COMMIT")
        spent += time.perf_counter() - began
        rows_done += len(rows)
    connection.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return rows_done / spent


def _raw_postgres(url: str, fleet: Fleet, ticks: Ticks, per_tx: int, seconds: float) -> float:
    """Rows/s of COPY into a time-partitioned table keyed like observations."""
    import psycopg

    libpq = make_url(url).set(drivername="postgresql").render_as_string(False)
    per_tick = max(1, per_tx // fleet.streams)
    with psycopg.connect(libpq, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS raw_observations")
        setup.execute(
            "CREATE TABLE raw_observations (datastream_id integer NOT NULL, phenomenon_time"
            " bigint NOT NULL, result double precision NOT NULL, quality smallint NOT NULL,"
            " PRIMARY KEY (datastream_id, phenomenon_time)) PARTITION BY RANGE (phenomenon_time)"
        )
        first = ticks.ms(0) - ticks.ms(0) % PARTITION_MS
        for n in range(8):  # 56 days: more than any run reaches
            low = first + n * PARTITION_MS
            setup.execute(
                f"CREATE TABLE raw_observations_{n} PARTITION OF raw_observations"
                f" FOR VALUES FROM ({low}) TO ({low + PARTITION_MS})"
            )
    spent, rows_done, tick = 0.0, 0, 0
    with psycopg.connect(libpq) as connection:
        while spent < seconds:
            rows = _raw_rows(fleet, ticks, tick, per_tick)
            tick += per_tick
            text = "".join(f"{s}\t{t}\t{v!r}\t{q}\n" for s, t, v, q in rows)
            began = time.perf_counter()
            with (
                connection.cursor() as cursor,
                cursor.copy(
                    "COPY raw_observations (datastream_id, phenomenon_time, result, quality)"
                    " FROM STDIN"
                ) as copy,
            ):
                copy.write(text)
            connection.commit()
            spent += time.perf_counter() - began
            rows_done += len(rows)
    with psycopg.connect(libpq, autocommit=True) as cleanup:
        cleanup.execute("DROP TABLE raw_observations")
    return rows_done / spent


def part_raw(bench: Bench) -> None:
    """Measure the engines' own bulk-insert limits on observations-shaped tables."""
    seconds = min(bench.args.seconds, 10.0)
    print(f"\n== Raw engine limits ({seconds:.0f} s of engine time per shape) ==")
    ticks = _ingest_ticks(bench)
    for dialect in bench.stores():
        _, fleet = template(bench, dialect)
        figures: dict[str, float] = {}
        if dialect == "sqlite":
            label, how = (
                "SQLite",
                "executemany into a WITHOUT ROWID table (WAL, synchronous=NORMAL)",
            )
            for name, per_tx in (("tx10k", 10_000), ("tx100k", 100_000)):
                figures[name] = _raw_sqlite(bench.workdir / "raw.db", fleet, ticks, per_tx, seconds)
        else:
            label, how = "PostgreSQL", "COPY into a table partitioned by time (7-day partitions)"
            with fresh(bench, dialect, "raw") as (store, _, _):
                for name, per_tx in (("tx10k", 10_000), ("tx100k", 100_000)):
                    figures[name] = _raw_postgres(store.url, fleet, ticks, per_tx, seconds)
        RAW[label] = figures
        print(f"\n{label}: {how}, key (datastream, time); {_load()}")
        for name, rows in (("10,000", figures["tx10k"]), ("100,000", figures["tx100k"])):
            print(f"  {rows:>12,.0f} rows/s  in {name}-row transactions")
        for name, title in (("tx10k", "10,000"), ("tx100k", "100,000")):
            _record(
                "raw",
                label,
                f"{'executemany' if dialect == 'sqlite' else 'COPY'}, {title}-row transactions",
                f"{figures[name]:,.0f} rows/s",
                "(engine limit)",
            )


# --------------------------------------------------------------------------- part: in-process


def part_inprocess(bench: Bench) -> None:
    """Time services.ingest.ingest with 10,000-item batches in the benchmark's own process."""
    seconds = bench.args.seconds
    print(f"\n== In-process: services.ingest.ingest, 10,000-item batches, {seconds:.0f} s ==")
    for dialect in bench.stores():
        with fresh(bench, dialect, "inprocess") as (store, fleet, data_dir):
            _inprocess_store(bench, store, fleet, data_dir)


def _inprocess_store(bench: Bench, store: Store, fleet: Fleet, data_dir: Path) -> None:
    """Run the inprocess part on one store."""
    seconds = bench.args.seconds
    print(f"\n{store.label}: {_load()}")
    services = _services(store, data_dir)
    principal = Principal.system("bench")
    ticks = _ingest_ticks(bench)
    templates = ingest_data.http_templates(fleet, ingest_data.value_sets(fleet, VALUE_SETS))

    def items(tick: int) -> list[Any]:
        body = templates[tick % VALUE_SETS].replace(PLACEHOLDER, ticks.iso(tick).encode())
        return list(orjson.loads(body))

    warm = services.ingest.ingest(principal, items(0))  # registry, partitions, caches
    services.rollups.fold()
    services.rollup_fold.start()  # the background fold, as in `cityops serve`
    counter = StoreCounter(store)
    latencies: list[float] = []
    accepted, refused, cpu, tick = 0, 0, 0.0, 1
    pg = _pg_meter(store)
    began = time.perf_counter()
    while time.perf_counter() - began < seconds:
        batch = items(tick)
        tick += 1
        started, cpu0 = time.perf_counter(), time.process_time()
        report = services.ingest.ingest(principal, batch)
        cpu += time.process_time() - cpu0
        latencies.append(time.perf_counter() - started)
        accepted += report.accepted
        refused += report.rejected
    wall = time.perf_counter() - began
    backlog = counter.queued()
    drain = counter.drain(below=FOLD_MIN_READINGS)
    empty = drain + counter.drain()
    pg_cpu = _cpu_text(pg)
    services.close()
    stored = counter.count()
    counter.close()
    spent = sum(latencies)
    rate = accepted / spent
    print(
        f"  {len(latencies)} batches: {rate:>10,.0f} obs/s in ingest() "
        f"({accepted / wall:,.0f}/s of wall time with the generator)  batch p50 "
        f"{_pct(latencies, 50) * 1e3:.0f} ms, p99 {_pct(latencies, 99) * 1e3:.0f} ms"
    )
    print(
        f"  fold queue at the end {backlog:,} readings, caught up {drain:.1f} s later"
        f" (empty {empty:.1f} s); stored and folded: {accepted / (wall + drain):,.0f} obs/s"
    )
    print(
        f"  CPU: this process {cpu:.1f} s in ingest() ({cpu / len(latencies) * 1e3:.0f} ms"
        f" per batch, {cpu / max(spent, 1e-9):.0%} of its wall time); PostgreSQL server"
        f" {pg_cpu}"
    )
    print(f"  {_raw_line(store)}; cityops = {_ratio(store, rate)}")
    check = warm.accepted + accepted
    print(
        f"  refused {refused}; store count {stored:,} (expected {check:,}: "
        f"{'ok' if stored == check else 'MISMATCH'}); {_load()}"
    )
    _record(
        "inprocess",
        store.label,
        "ingest() obs/s (10,000-item batches); stored and folded",
        f"{rate:,.0f}/s; {accepted / (wall + drain):,.0f}/s",
        "",
        None,
    )
    _record(
        "inprocess",
        store.label,
        "batch p50 / p99; process CPU per batch; PG server CPU",
        f"{_pct(latencies, 50) * 1e3:.0f} / {_pct(latencies, 99) * 1e3:.0f} ms; "
        f"{cpu / len(latencies) * 1e3:.0f} ms; {pg_cpu}",
    )


# --------------------------------------------------------------------------- part: HTTP


def part_http(bench: Bench) -> None:
    """Post to /api/v1/observations of a cityops serve process from client threads."""
    seconds, clients = bench.args.seconds, bench.args.http_clients
    print(
        f"\n== HTTP: POST /api/v1/observations, 10,000-item bodies, {clients} httpx client "
        f"threads, {seconds:.0f} s =="
    )
    for dialect in bench.stores():
        with fresh(bench, dialect, "http") as (store, fleet, data_dir):
            _http_store(bench, store, fleet, data_dir)


def _http_store(bench: Bench, store: Store, fleet: Fleet, data_dir: Path) -> None:
    """Run the http part on one store."""
    import httpx

    seconds, clients = bench.args.seconds, bench.args.http_clients
    print(f"\n{store.label}: {_load()}")
    key = _api_key(store, data_dir)
    ticks = _ingest_ticks(bench)
    templates = ingest_data.http_templates(fleet, ingest_data.value_sets(fleet, VALUE_SETS))
    headers = {"X-API-Key": key, "Content-Type": "application/json"}
    with _server(store, data_dir, data_dir / "serve.log") as (base, server):
        sessions = [
            httpx.Client(base_url=base, headers=headers, timeout=300) for _ in range(clients)
        ]
        warm = sessions[0].post(
            "/api/v1/observations",
            content=templates[0].replace(PLACEHOLDER, ticks.iso(0).encode()),
        )
        warm.raise_for_status()
        warm_accepted = int(warm.json()["accepted"])
        counter = itertools.count(1)
        lock = threading.Lock()
        latencies: list[float] = []
        errors: list[str] = []
        totals = [0, 0]  # accepted, rejected
        deadline = [0.0]

        def run(session: httpx.Client) -> None:
            mine: list[float] = []
            accepted = rejected = 0
            while time.perf_counter() < deadline[0]:
                tick = next(counter)
                body = templates[tick % VALUE_SETS].replace(PLACEHOLDER, ticks.iso(tick).encode())
                started = time.perf_counter()
                try:
                    response = session.post("/api/v1/observations", content=body)
                except httpx.HTTPError as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}"[:200])
                    continue
                mine.append(time.perf_counter() - started)
                if response.status_code != 200:
                    with lock:
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                    continue
                answer = orjson.loads(response.content)
                accepted += int(answer["accepted"])
                rejected += int(answer["rejected"])
            with lock:
                latencies.extend(mine)
                totals[0] += accepted
                totals[1] += rejected

        threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
        server_cpu = CpuMeter(lambda: [server.pid]).start()
        pg = _pg_meter(store)
        cpu0 = time.process_time()
        began = time.perf_counter()
        deadline[0] = began + seconds
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        counter_db = StoreCounter(store)
        backlog = counter_db.queued()
        drain = counter_db.drain(below=FOLD_MIN_READINGS)  # the server's background fold
        empty = drain + counter_db.drain()
        client_cpu = time.process_time() - cpu0
        served = server_cpu.stop()
        pg_cpu = _cpu_text(pg)
        for session in sessions:
            session.close()
    stored = counter_db.count()
    counter_db.close()
    accepted = totals[0]
    rate = accepted / (wall + drain)
    print(
        f"  {len(latencies)} requests: {rate:>10,.0f} obs/s stored and folded (accepted "
        f"{accepted / wall:,.0f}/s; fold queue at the end {backlog:,}, caught up {drain:.1f} s "
        f"later, empty {empty:.1f} s)  request p50 "
        f"{_pct(latencies, 50) * 1e3:.0f} ms, p99 {_pct(latencies, 99) * 1e3:.0f} ms"
    )
    print(
        f"  CPU over {wall + drain:.1f} s: server {served:.1f} s ({served / wall:.0%} of a core),"
        f" client threads {client_cpu:.1f} s, PostgreSQL server {pg_cpu}"
    )
    print(f"  {_raw_line(store)}; cityops = {_ratio(store, rate)}")
    check = warm_accepted + accepted
    print(
        f"  rejected {totals[1]}, errors {len(errors)} {errors[:2]}; store count "
        f"{stored:,} (expected {check:,} from the responses: "
        f"{'ok' if stored == check else 'MISMATCH'}); {_load()}"
    )
    target, ok = _rate_target(store, rate)
    _record(
        "http",
        store.label,
        f"obs/s stored and folded ({clients} clients, 10,000-item POSTs)",
        f"{rate:,.0f}/s",
        target,
        ok and stored == check and not errors,
    )
    _record(
        "http",
        store.label,
        "request p50 / p99; server CPU per request",
        f"{_pct(latencies, 50) * 1e3:.0f} / {_pct(latencies, 99) * 1e3:.0f} ms; "
        f"{served / max(len(latencies), 1) * 1e3:.0f} ms",
    )


# --------------------------------------------------------------------------- part: MQTT


@dataclass
class Rig:
    """A throwaway broker and MQTT ingest workers for one store."""

    url: str
    broker_pid: int
    workers: list[subprocess.Popen[bytes]]
    logs: list[Path]
    counter: StoreCounter
    publisher: str = "lean"  # the load generator: mqtt_lean_publisher, or paho (ingest_data)


@contextlib.contextmanager
def _mqtt_rig(store: Store, data_dir: Path, workers: int, publisher: str = "lean") -> Iterator[Rig]:
    """Start Mosquitto and ``workers`` ``cityops ts mqtt`` processes; stop them after."""
    tag = uuid.uuid4().hex[:8]
    # Not under the work dir: Mosquitto drops root to its own user, who must reach its log.
    broker_dir = Path(tempfile.gettempdir()) / f"ib-mqtt-{tag}"
    script = str(ROOT / "scripts" / "mqtt-throwaway.sh")
    url = subprocess.run(
        ["bash", script, "start", str(broker_dir)], capture_output=True, text=True, check=True
    ).stdout.strip()
    pid_text = (broker_dir / "pid").read_text().strip()
    processes: list[subprocess.Popen[bytes]] = []
    counter = StoreCounter(store)
    try:
        group = f"bench{tag}"
        ids = [f"{group}-w{i}" for i in range(workers)]
        for i, client_id in enumerate(ids):
            with (data_dir / f"mqtt-worker-{i}.log").open("w") as out:
                processes.append(
                    subprocess.Popen(
                        [cityops_command(), "ts", "mqtt", "--url", url, "--client-id", client_id,
                         "--group", group],
                        env=_env(store, data_dir),
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )
                )  # fmt: skip
        deadline = time.monotonic() + 90
        log = broker_dir / "mosquitto.log"
        while True:
            text = log.read_text(errors="replace") if log.exists() else ""
            if all(f" as {c} " in text for c in ids):
                break
            for i, process in enumerate(processes):
                if process.poll() is not None:
                    worker_log = (data_dir / f"mqtt-worker-{i}.log").read_text()[-2000:]
                    raise RuntimeError(f"MQTT worker {i} exited: {worker_log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"MQTT workers did not connect in 90 s: {text[-1000:]}")
            time.sleep(0.2)
        time.sleep(0.5)  # the SUBACKs
        logs = [data_dir / f"mqtt-worker-{i}.log" for i in range(workers)]
        yield Rig(url, int(pid_text or 0), processes, logs, counter, publisher)
    finally:
        codes = [stop(process) for process in processes]
        if any(code not in (0, None) for code in codes):
            print(f"  worker exit codes: {codes}")
        counter.close()
        subprocess.run(["bash", script, "stop", str(broker_dir)], check=False)


@dataclass
class MqttRun:
    """What one timed MQTT run did."""

    published: int  # readings the broker acknowledged
    messages: int
    stored: int  # readings stored during the run
    began: float  # wall time of the first publish
    publish_end: float  # wall time all publishes were acknowledged
    complete: float  # wall time the store held every published reading (or the last poll)
    lags: list[float]
    publisher_cpu: float
    worker_cpu: float
    broker_cpu: float
    pg_cpu: str
    last_tick: int
    rss: list[tuple[float, list[int]]] = field(default_factory=list)  # (t, VmRSS KiB per worker)

    @property
    def end_to_end(self) -> float:
        """Stored readings per second from the first publish to the last reading stored."""
        return self.stored / max(self.complete - self.began, 1e-9)

    @property
    def publish_rate(self) -> float:
        """Readings per second the broker acknowledged."""
        return self.published / max(self.publish_end - self.began, 1e-9)


def _first_reaching(timeline: list[tuple[float, int]], count: int) -> float | None:
    """Return the time the publishers' acknowledged total first reached ``count``."""
    for (t0, c0), (t1, c1) in itertools.pairwise(timeline):
        if c1 >= count:
            if c1 == c0:
                return t1
            return t0 + (t1 - t0) * (count - c0) / (c1 - c0)
    return None


def _merged(samples: list[list[tuple[float, int]]]) -> list[tuple[float, int]]:
    """Return the sum of several publishers' (time, acknowledged) samples on one timeline."""
    times = sorted({t for one in samples for t, _ in one})
    merged = []
    for t in times:
        total = 0
        for one in samples:
            total += max((c for s, c in one if s <= t), default=0)
        merged.append((t, total))
    return merged


def _mqtt_run(
    rig: Rig,
    ticks: Ticks,
    messages: list[list[tuple[str, bytes, int]]],
    *,
    first_tick: int,
    seconds: float,
    publishers: int,
    rate: float | None = None,
    max_ticks: int | None = None,
    backlog: int | None = None,
    pg: Store | None = None,
    sample_rss: bool = False,
) -> MqttRun:
    """Publish for ``seconds`` and poll the store until it holds what was published.

    ``backlog``: readings published but not yet stored at which the publishers wait (None: no
    bound); ``rate``: readings/s to publish at (None: as fast as the bound allows).
    """
    context = multiprocessing.get_context("spawn")
    ready, results, go = context.Queue(), context.Queue(), context.Event()
    shared = context.Value("q", 0, lock=False)
    tag = uuid.uuid4().hex[:6]
    processes = []
    for i in range(publishers):
        share = [variant[i::publishers] for variant in messages]
        spec = PublishSpec(
            url=rig.url,
            client_id=f"benchpub-{tag}-{i}",
            messages=share,
            ticks=ticks,
            first_tick=first_tick,
            seconds=seconds,
            rate=None if rate is None else rate / publishers,
            max_ticks=max_ticks,
            backlog=None if backlog is None else backlog // publishers,
            share=publishers,
        )
        target = mqtt_lean_publisher.publish if rig.publisher == "lean" else ingest_data.publish
        process = context.Process(target=target, args=(spec, ready, go, shared, results))
        process.start()
        processes.append(process)
    for _ in range(publishers):
        ready.get(timeout=120)
    base = rig.counter.stored()
    worker_pids = [w.pid for w in rig.workers]
    workers_cpu = CpuMeter(lambda: worker_pids).start()
    broker_cpu = CpuMeter(lambda: [rig.broker_pid] if rig.broker_pid else []).start()
    pg_meter = _pg_meter(pg) if pg else None
    go.set()
    polls: list[tuple[float, int]] = []
    rss: list[tuple[float, list[int]]] = []
    reports: list[dict[str, Any]] = []
    next_rss = 0.0
    last_progress = time.monotonic()
    while True:
        now = time.time()
        stored = rig.counter.stored() - base
        shared.value = stored
        if polls and stored > polls[-1][1]:
            last_progress = time.monotonic()
        polls.append((now, stored))
        if sample_rss and time.monotonic() >= next_rss:
            rss.append((now, [_proc_kib(pid, "VmRSS") for pid in worker_pids]))
            next_rss = time.monotonic() + RSS_EVERY
        with contextlib.suppress(queue.Empty):
            while True:
                reports.append(results.get_nowait())
        if len(reports) == publishers:
            published = sum(r["acked_readings"] for r in reports)
            if stored >= published:
                break
            if time.monotonic() - last_progress > 60:
                print(f"  no progress for 60 s: stored {stored:,} of {published:,}")
                for i, worker in enumerate(rig.workers):
                    tail = rig.logs[i].read_text(errors="replace")[-1500:]
                    print(f"  worker {i} (pid {worker.pid}) log:\n{tail}")
                break
        for process in processes:
            if process.exitcode not in (None, 0) and len(reports) < publishers:
                raise RuntimeError(f"publisher exited with {process.exitcode}")
        for i, worker in enumerate(rig.workers):
            if worker.poll() is not None:
                raise RuntimeError(f"MQTT worker {i} exited with {worker.returncode}")
        time.sleep(0.25)
    rig.counter.drain(below=FOLD_MIN_READINGS)  # committed, and the fold has caught up
    caught_up = time.time()
    for process in processes:
        process.join(30)
    timeline = _merged([r["samples"] for r in reports])
    lags = []
    for t, stored in polls:
        if stored > 0:
            reached = _first_reaching(timeline, stored)
            if reached is not None:
                lags.append(max(0.0, t - reached))
    return MqttRun(
        published=sum(r["acked_readings"] for r in reports),
        messages=sum(r["acked_messages"] for r in reports),
        stored=polls[-1][1],
        began=min(r["began"] for r in reports),
        publish_end=max(r["acked"] for r in reports),
        complete=max(polls[-1][0], caught_up),
        lags=lags,
        publisher_cpu=sum(r["cpu"] for r in reports),
        worker_cpu=workers_cpu.stop(),
        broker_cpu=broker_cpu.stop(),
        pg_cpu=_cpu_text(pg_meter),
        last_tick=max(r["last_tick"] for r in reports),
        rss=rss,
    )


def _warm_mqtt(rig: Rig, ticks: Ticks, fleet: Fleet, tick: int) -> None:
    """Publish one tick of device messages and wait until the store has it (warm-up)."""
    messages = ingest_data.device_messages(fleet, ingest_data.value_sets(fleet, 1))
    run = _mqtt_run(rig, ticks, messages, first_tick=tick, seconds=120.0, publishers=1, max_ticks=1)
    if run.stored < run.published:
        raise RuntimeError(f"warm-up: stored {run.stored} of {run.published}")


def _print_mqtt(label: str, run: MqttRun) -> None:
    wall = run.complete - run.began
    print(
        f"  {label}: {run.messages:,} messages, {run.published:,} readings acknowledged by the "
        f"broker at {run.publish_rate:,.0f}/s; stored {run.stored:,}"
    )
    print(
        f"    end to end {run.end_to_end:>10,.0f} obs/s (first publish → last reading stored, "
        f"{wall:.1f} s); the store caught up {run.complete - run.publish_end:.1f} s after the "
        f"last PUBACK"
    )
    print(
        f"    broker-to-store lag p50 {_pct(run.lags, 50):.2f} s, p99 {_pct(run.lags, 99):.2f} s, "
        f"max {max(run.lags, default=float('nan')):.2f} s"
    )
    print(
        f"    CPU over {wall:.1f} s: workers {run.worker_cpu:.1f} s, broker {run.broker_cpu:.1f} s,"
        f" publisher {run.publisher_cpu:.1f} s, PostgreSQL server {run.pg_cpu}"
    )


def part_mqtt(bench: Bench) -> None:
    """Send device messages and 500-item batches over MQTT through cityops ts mqtt workers."""
    args = bench.args
    print(
        f"\n== MQTT: {args.publisher} QoS 1 publisher → Mosquitto → {args.mqtt_workers} "
        "`cityops ts mqtt` worker(s), "
        f"{args.seconds:.0f} s per shape =="
    )
    for dialect in bench.stores():
        with fresh(bench, dialect, "mqtt") as (store, fleet, data_dir):
            _mqtt_store(bench, store, fleet, data_dir)


def _mqtt_store(bench: Bench, store: Store, fleet: Fleet, data_dir: Path) -> None:
    """Run the mqtt part on one store."""
    args = bench.args
    print(f"\n{store.label}: {_load()}")
    ticks = _ingest_ticks(bench)
    values = ingest_data.value_sets(fleet, VALUE_SETS)
    device = ingest_data.device_messages(fleet, values)
    shapes = (
        ("one device message per publish (10 readings)", "device", device),
        ("batched messages of 500 items", "batch500",
         ingest_data.batched_messages(fleet, values, 500)),
    )  # fmt: skip
    pg = store if store.dialect == "postgresql" else None
    count = 0
    with _mqtt_rig(store, data_dir, args.mqtt_workers, args.publisher) as rig:
        _warm_mqtt(rig, ticks, fleet, 0)
        tick = 1
        print(
            f"  saturated: publishing as fast as the store takes it (at most "
            f"{args.mqtt_backlog:,} readings published and not yet stored)"
        )
        for title, name, messages in shapes:
            run = _mqtt_run(
                rig,
                ticks,
                messages,
                first_tick=tick,
                seconds=args.seconds,
                publishers=args.publishers,
                backlog=args.mqtt_backlog,
                pg=pg,
            )
            tick = run.last_tick + 1
            _print_mqtt(title, run)
            if name == "device":
                CAPACITY[store.label] = run.end_to_end
            target, ok = _rate_target(store, run.end_to_end)
            _record(
                "mqtt",
                store.label,
                f"stored obs/s end to end, {title}",
                f"{run.end_to_end:,.0f}/s",
                target,
                ok and run.stored >= run.published,
            )
        rate = 0.7 * CAPACITY[store.label]
        print(f"  paced: device messages at 70 % of the capacity above, {rate:,.0f} readings/s")
        run = _mqtt_run(
            rig,
            ticks,
            device,
            first_tick=tick,
            seconds=args.seconds,
            publishers=args.publishers,
            rate=rate,
            backlog=args.mqtt_backlog,
            pg=pg,
        )
        _print_mqtt("device messages at 70 %", run)
        _record(
            "mqtt",
            store.label,
            f"broker-to-store lag p50 / p99 at 70 % ({run.end_to_end:,.0f} obs/s)",
            f"{_pct(run.lags, 50):.2f} / {_pct(run.lags, 99):.2f} s",
        )
        count = rig.counter.count()
    print(f"  {_raw_line(store)}")
    print(f"  store count {count:,} after the three runs and the warm-up; {_load()}")


# --------------------------------------------------------------------------- part: memory


def _slope_mib_per_min(points: Sequence[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    times = np.asarray([t for t, _ in points])
    values = np.asarray([v for _, v in points])
    if float(times.max() - times.min()) <= 0:
        return 0.0
    return float(np.polyfit(times - times[0], values, 1)[0]) * 60 / 1024


def _bare_rss(store: Store) -> int:
    """VmRSS (KiB) of a bare interpreter holding the worker's imports and a store connection."""
    script = (
        "import sys, sqlite3, psycopg, paho.mqtt.client, orjson, sqlalchemy, cityops.bootstrap\n"
        "c = sqlite3.connect(':memory:') if sys.argv[1] == 'sqlite' else psycopg.connect("
        "sys.argv[2])\n"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')][0])"
    )
    argv = [store.dialect, store.libpq if store.dialect == "postgresql" else ""]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
    )
    return int(done.stdout.strip())


def part_memory(bench: Bench) -> None:
    """Sample the RSS of MQTT workers over a sustained run at 70 % of their capacity."""
    args = bench.args
    sustain = args.sustain_seconds
    print(
        f"\n== Memory: {args.mqtt_workers} MQTT worker(s) at 70 % of capacity for {sustain:.0f} s, "
        f"VmRSS every {RSS_EVERY:.0f} s =="
    )
    for dialect in bench.stores():
        with fresh(bench, dialect, "memory") as (store, fleet, data_dir):
            _memory_store(bench, store, fleet, data_dir)


def _memory_store(bench: Bench, store: Store, fleet: Fleet, data_dir: Path) -> None:
    """Run the memory part on one store."""
    args = bench.args
    sustain = args.sustain_seconds
    print(f"\n{store.label}: {_load()}")
    ticks = _ingest_ticks(bench)
    messages = ingest_data.device_messages(fleet, ingest_data.value_sets(fleet, VALUE_SETS))
    pg = store if store.dialect == "postgresql" else None
    with _mqtt_rig(store, data_dir, args.mqtt_workers, args.publisher) as rig:
        _warm_mqtt(rig, ticks, fleet, 0)
        tick = 1
        capacity = CAPACITY.get(store.label)
        if capacity is None:
            calibrate = min(args.seconds, 15.0)
            run = _mqtt_run(
                rig,
                ticks,
                messages,
                first_tick=tick,
                seconds=calibrate,
                publishers=args.publishers,
                backlog=args.mqtt_backlog,
                pg=pg,
            )
            tick = run.last_tick + 1
            capacity = run.end_to_end
            print(f"  capacity measured now ({calibrate:.0f} s saturated): "
                  f"{capacity:,.0f} obs/s")  # fmt: skip
        else:
            print(f"  capacity from the mqtt part: {capacity:,.0f} obs/s")
        rate = 0.7 * capacity
        print(f"  sustaining {rate:,.0f} obs/s ({rate / 10:,.0f} device messages/s) …")
        run = _mqtt_run(
            rig,
            ticks,
            messages,
            first_tick=tick,
            seconds=sustain,
            publishers=args.publishers,
            rate=rate,
            backlog=args.mqtt_backlog,
            pg=pg,
            sample_rss=True,
        )
        peaks = [_proc_kib(w.pid, "VmHWM") for w in rig.workers]
    _print_mqtt(f"sustained {sustain:.0f} s", run)
    if store.dialect == "sqlite":  # kept bounded by the workers' WAL checkpoint
        log = store.sqlite_path.with_name(store.sqlite_path.name + "-wal")
        size = log.stat().st_size if log.exists() else 0
        print(f"  SQLite write-ahead log at the end: {size / 2**20:,.1f} MiB")
    bare = _bare_rss(store)
    for i in range(len(peaks)):
        points = [(t, float(kib[i])) for t, kib in run.rss if kib[i]]
        if not points:
            continue
        first, last = points[0][1], points[-1][1]
        peak = max(max(v for _, v in points), float(peaks[i]))
        half = points[len(points) // 2 :]
        slope = _slope_mib_per_min(points)
        late = _slope_mib_per_min(half)
        growth = (last - first) / first
        steady = late * (sustain / 60) * 1024 < 0.1 * first
        flat = growth < 0.10 and steady
        judged = sustain >= MIN_JUDGED_SECONDS
        shown = " ".join(f"{v / 1024:.0f}" for _, v in points)
        print(
            f"  worker {i}: VmRSS first {first / 1024:.0f} MiB, peak {peak / 1024:.0f} "
            f"MiB (VmHWM), last {last / 1024:.0f} MiB; growth {growth:+.1%}; slope "
            f"{slope:+.2f} MiB/min overall, {late:+.2f} MiB/min over the second half"
        )
        print(f"    samples (MiB): {shown}")
        _record(
            "memory",
            store.label,
            f"worker {i} VmRSS first / peak / last; slope (2nd half)",
            f"{first / 1024:.0f} / {peak / 1024:.0f} / {last / 1024:.0f} MiB; {late:+.2f} MiB/min",
            "flat (< +10 %, no growth)" if judged else "flat (needs ≥ 120 s to judge)",
            flat if judged else None,
        )
    print(
        f"  reference: a bare interpreter with the worker's imports and a connection: "
        f"VmRSS {bare / 1024:.0f} MiB; {_load()}"
    )
    _record(
        "memory",
        store.label,
        f"sustained obs/s (asked {rate:,.0f}); lag p99",
        f"{run.end_to_end:,.0f}/s; {_pct(run.lags, 99):.2f} s",
    )


# --------------------------------------------------------------------------- part: queries


def _timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def _ms(seconds: float) -> str:
    milliseconds = seconds * 1e3
    return f"{milliseconds:,.2f}" if milliseconds < 10 else f"{milliseconds:,.1f}"


def _time_runs(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm-up
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


class BareReader:
    """Runs the statements cityops' reads send, through the bare driver."""

    def __init__(self, store: Store) -> None:
        self.store = store
        if store.dialect == "sqlite":
            self._sqlite = sqlite3.connect(store.sqlite_path)
        else:
            import psycopg

            self._pg = psycopg.connect(store.libpq, autocommit=True)

    def run(self, sql: str, ids: Sequence[int], *extra: int) -> int:
        """Run ``sql`` with ``{ids}`` expanded to one placeholder per id; return the rows."""
        mark = "?" if self.store.dialect == "sqlite" else "%s"
        text = sql.format(ids=", ".join([mark] * len(ids)), p=mark)
        if self.store.dialect == "sqlite":
            return len(self._sqlite.execute(text, (*ids, *extra)).fetchall())
        return len(self._pg.execute(text, (*ids, *extra)).fetchall())  # type: ignore[arg-type]

    def close(self) -> None:
        """Close the connection."""
        if self.store.dialect == "sqlite":
            self._sqlite.close()
        else:
            self._pg.close()


def part_queries(bench: Bench) -> None:
    """Time latest values and hourly aggregates over a store of --observations readings."""
    args = bench.args
    runs = args.query_runs
    print(f"\n== Queries over {args.observations:,} stored observations ({runs} runs each) ==")
    for dialect in bench.stores():
        with fresh(bench, dialect, "queries") as (store, fleet, data_dir):
            _queries_store(bench, store, fleet, data_dir)


def _queries_store(bench: Bench, store: Store, fleet: Fleet, data_dir: Path) -> None:
    """Run the queries part on one store."""
    args = bench.args
    runs = args.query_runs
    print(f"\n{store.label}: {_load()}")
    services = _services(store, data_dir)
    n_ticks = max(1, math.ceil(args.observations / fleet.streams))
    span = 8 * DAY_MS  # a week and a day, ending now
    step = max(STEP_MS, span // n_ticks // 1000 * 1000)
    now = int(time.time() * 1000)
    now -= now % STEP_MS
    ticks = Ticks(now - n_ticks * step, step, bench.zone)
    values = ingest_data.value_sets(fleet, VALUE_SETS)
    print(
        f"  fill: {n_ticks:,} ticks × {fleet.streams:,} datastreams, one reading every "
        f"{step / 60_000:.1f} min per datastream, through services.ingest.store "
        f"({FILL_TICKS * fleet.streams:,}-reading batches) …"
    )
    spent, stored = 0.0, 0
    began = time.perf_counter()
    pg = _pg_meter(store)
    for first in range(0, n_ticks, FILL_TICKS):
        batch = ingest_data.batch_of_ticks(
            fleet, ticks, first, min(FILL_TICKS, n_ticks - first), values
        )
        started = time.perf_counter()
        stored += services.ingest.store(batch).inserted
        spent += time.perf_counter() - started
        if (first // FILL_TICKS) % 10 == 9:
            spent += _timed(services.rollups.fold)  # as the background fold would
    spent += _timed(services.rollups.fold)  # the fill's rollups complete before any query
    wall = time.perf_counter() - began
    pg_cpu = _cpu_text(pg)
    fill_rate = stored / spent
    analyse = ""
    if store.dialect == "postgresql":
        started = time.perf_counter()
        with _admin(store.url) as connection:
            connection.execute("VACUUM ANALYZE")
        analyse = f"; VACUUM ANALYZE {time.perf_counter() - started:.1f} s"
    counter = StoreCounter(store)
    count = counter.count()
    counter.close()
    print(
        f"  filled {stored:,} readings in {spent:.1f} s of store() and folds ({wall:.1f} s wall): "
        f"{fill_rate:,.0f} obs/s; PostgreSQL server CPU {pg_cpu}{analyse}; "
        f"store count {count:,}"
    )
    print(f"  {_raw_line(store)}; fill = {_ratio(store, fill_rate)}")
    _record(
        "queries",
        store.label,
        f"fill {stored:,} readings (store(), 100,000-reading batches)",
        f"{spent:.1f} s, {fill_rate:,.0f} obs/s",
    )
    principal = Principal.system("bench")
    end = datetime.fromtimestamp(now / 1000, UTC)
    day, week = end - timedelta(days=1), end - timedelta(days=7)
    one_key = fleet.stream_keys[0]
    one_id = fleet.stream_ids[0]
    pm25 = [i for i, m in zip(fleet.stream_ids, fleet.stream_metrics, strict=True)
            if m == "pm25"]  # fmt: skip
    ts = services.timeseries
    every = Selection(datastreams=tuple(fleet.stream_keys))
    one = Selection(datastreams=(one_key,))
    metric = Selection(metric="pm25")
    end_ms, day_ms, week_ms = now, now - DAY_MS, now - WEEK_MS
    latest_some = (
        "SELECT datastream_id, phenomenon_time, result, quality FROM stream_latest "
        "WHERE datastream_id IN ({ids})"
    )
    hours = (
        "SELECT datastream_id, bucket, n, total, minimum, maximum, first_time, "
        "first_value, last_time, last_value, aux_a, aux_b FROM rollups_hour "
        "WHERE datastream_id IN ({ids}) AND bucket >= {p} AND bucket < {p} "
        "ORDER BY datastream_id, bucket"
    )
    raw_range = (
        "SELECT datastream_id, phenomenon_time, result, quality FROM observations "
        "WHERE datastream_id IN ({ids}) AND phenomenon_time >= {p} AND "
        "phenomenon_time < {p} ORDER BY datastream_id, phenomenon_time ASC LIMIT {p}"
    )
    bare = BareReader(store)
    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (
            f"latest, all {fleet.streams:,} datastreams (by key)",
            lambda: ts.latest(principal, every),
            lambda: bare.run(latest_some, fleet.stream_ids),
        ),
        (
            f"latest, one metric (pm25: {len(pm25):,} datastreams)",
            lambda: ts.latest(principal, metric),
            lambda: bare.run(latest_some, pm25),
        ),
        (
            "1h avg,min,max of one datastream, a day",
            lambda: ts.query(
                principal,
                one,
                start=day,
                end=end,
                interval="1h",
                functions=["avg", "min", "max"],
            ),
            lambda: bare.run(hours, [one_id], day_ms, end_ms),
        ),  # fmt: skip
        (
            "1h avg,min,max of one datastream, a week",
            lambda: ts.query(
                principal,
                one,
                start=week,
                end=end,
                interval="1h",
                functions=["avg", "min", "max"],
            ),
            lambda: bare.run(hours, [one_id], week_ms, end_ms),
        ),  # fmt: skip
        (
            "1h avg of pm25 pooled by street, a day",
            lambda: ts.query(
                principal, metric, start=day, end=end, interval="1h", group_by="street"
            ),
            lambda: bare.run(hours, pm25, day_ms, end_ms),
        ),  # fmt: skip
        (
            "1h avg of pm25 pooled by street, a week",
            lambda: ts.query(
                principal, metric, start=week, end=end, interval="1h", group_by="street"
            ),
            lambda: bare.run(hours, pm25, week_ms, end_ms),
        ),  # fmt: skip
        (
            "1m avg of one datastream, a day (minutes from raw)",
            lambda: ts.query(principal, one, start=day, end=end, interval="1m", functions=["avg"]),
            lambda: bare.run(raw_range, [one_id], day_ms, end_ms, 1_000_000),
        ),  # fmt: skip
        (
            "1h p95 of one datastream, a day (raw readings)",
            lambda: ts.query(principal, one, start=day, end=end, interval="1h", functions=["p95"]),
            lambda: bare.run(raw_range, [one_id], day_ms, end_ms, 1_000_000),
        ),  # fmt: skip
    ]
    print(f"\n  {'query':<52}{'cityops p50 / p95':>22}{'bare driver p50 / p95':>26}")
    for title, ours, theirs in cases:
        mine = _time_runs(ours, runs)
        raw = _time_runs(theirs, runs)

        def pair(samples: list[float]) -> str:
            return f"{_ms(_pct(samples, 50))} / {_ms(_pct(samples, 95))} ms"

        print(f"  {title:<52}{pair(mine):>22}{pair(raw):>26}")
        _record(
            "queries",
            store.label,
            f"{title}: cityops (bare driver) p50 / p95",
            f"{pair(mine)} ({pair(raw)})",
        )
    bare.close()
    services.close()
    print(f"  {_load()}")


# --------------------------------------------------------------------------- main


def _versions(args: argparse.Namespace) -> None:
    from importlib.metadata import version

    import sqlalchemy

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    print(
        f"{os.cpu_count()} cores, {memory:.0f} GiB; {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, SQLAlchemy "
        f"{sqlalchemy.__version__}, psycopg {version('psycopg')}, uvicorn {version('uvicorn')}, "
        f"httpx {version('httpx')}, paho-mqtt {version('paho-mqtt')}, orjson {version('orjson')}"
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with contextlib.suppress(OSError):
        done = subprocess.run([mosquitto, "-h"], capture_output=True, text=True, check=False)
        print(f"Mosquitto: {(done.stdout or done.stderr).splitlines()[0]}")
    if args.postgres:
        import psycopg

        url = make_url(args.postgres).set(drivername="postgresql").render_as_string(False)
        with psycopg.connect(url) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            settings = connection.execute(
                "SELECT name, setting FROM pg_settings WHERE name IN ('fsync',"
                " 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'work_mem',"
                " 'max_wal_size', 'wal_level') ORDER BY name"
            ).fetchall()
        shown = ", ".join(f"{n}={v}" for n, v in settings)
        print(f"PostgreSQL {row[0] if row else '?'} at {make_url(args.postgres).host}: {shown}")
    print("SQLite store: WAL, synchronous=NORMAL (the store's settings)")
    print(_load())


def main() -> None:
    """Parse arguments, run the parts, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (bench databases are made there)")
    parser.add_argument(
        "--only", help=f"comma-separated parts: {', '.join(PARTS)} (raw runs with the others)"
    )
    parser.add_argument(
        "--stores",
        help="comma-separated: sqlite, postgresql (default: SQLite, and PostgreSQL "
        "with --postgres)",
    )
    parser.add_argument("--seconds", type=float, default=30.0, help="each timed part")
    parser.add_argument("--observations", type=int, default=10_000_000, help="queries part")
    parser.add_argument("--sustain-seconds", type=float, default=600.0, help="memory part")
    parser.add_argument("--devices", type=int, default=1000, help="devices (× 10 metrics)")
    parser.add_argument("--http-clients", type=int, default=4)
    parser.add_argument("--mqtt-workers", type=int, default=2)
    parser.add_argument("--publishers", type=int, default=1, help="MQTT publisher processes")
    parser.add_argument(
        "--publisher",
        choices=("lean", "paho"),
        default="lean",
        help="MQTT load generator: a lean pipelined MQTT 5 client (mqtt_lean_publisher.py) or paho",
    )
    parser.add_argument(
        "--mqtt-backlog",
        type=int,
        default=200_000,
        help="readings published but not yet stored at which publishers wait",
    )
    parser.add_argument("--query-runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, help="keep files here (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep each part's store")
    args = parser.parse_args()
    if not 1 <= args.devices <= BATCH_ITEMS // len(ingest_data.METRICS):
        parser.error(f"--devices is 1 to {BATCH_ITEMS // len(ingest_data.METRICS)}")
    parts = list(PARTS)
    if args.only:
        parts = [p.strip() for p in args.only.split(",") if p.strip()]
        unknown = set(parts) - set(PARTS)
        if unknown:
            parser.error(f"unknown parts {sorted(unknown)}; choose from {', '.join(PARTS)}")
        if "raw" not in parts and set(parts) & {"inprocess", "http", "mqtt", "queries"}:
            parts.insert(0, "raw")
        parts = [p for p in PARTS if p in parts]
    _versions(args)
    zone = Settings(mode="dev", secret_key=SECRET).timezone
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ib-")))
        workdir.mkdir(parents=True, exist_ok=True)
        bench = Bench(args, workdir, zone)
        if args.postgres:
            stack.callback(_drop_database, args.postgres, _db_name(bench, "template"))
        began = time.perf_counter()
        for part in parts:
            started = time.perf_counter()
            {
                "raw": part_raw,
                "inprocess": part_inprocess,
                "http": part_http,
                "mqtt": part_mqtt,
                "queries": part_queries,
                "memory": part_memory,
            }[part](bench)
            print(f"\n[{part}: {time.perf_counter() - started:.0f} s; {_load()}]")
        print(f"\n== Summary ({time.perf_counter() - began:.0f} s; {_load()}) ==")
        print("alert latency, publish → alert event: benchmarks/alert_latency.py")
        header = ("part", "store", "figure", "value", "target", "verdict")
        widths = [max(len(str(row[i])) for row in [header, *RESULTS]) for i in range(6)]
        for row in [header, *RESULTS]:
            print("  " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
