"""Benchmark the cases domain (issue 5): intake, KPIs over a year of cases, classifier, memory.

Each part prints cityops' figure next to the raw engine's limit measured in the same run:
  * intake: 8 concurrent clients calling ``services.intake.accept`` (classify + locate + dedupe +
    route + write + event), cases/s and p50/p99 latency and CPU per case, on SQLite and
    PostgreSQL; one client alone; the same 8 clients over HTTP against a ``cityops serve``
    process; next to 8 threads inserting and committing single rows into a scratch table with
    the bare driver (sqlite3 / psycopg);
  * kpis: ``case_lists.kpis`` grouped by department and by street over a year of 1,000,000 bulk-
    generated cases (20 runs after a warm-up, p50/p95), answered from the KPI day cells, next to
    the bare driver reading the same cells, cityops' query over the case rows (what a scoped
    reader gets) and that statement run by the bare driver, as sent and without its three
    median columns (and, on PostgreSQL, its EXPLAIN ANALYZE); the time to build the cells, and
    a query right after a day's cases changed;
  * classifier: top-1/top-3 and the auto-dispatch share (helpers of benchmarks/classifier.py);
  * memory: peak RSS (VmHWM) of a ``cityops serve`` process serving the 1,000,000-case store
    while lists, KPIs, the command queue and a month's CSV export are requested, next to a bare
    driver process fetching that month's rows.

Usage:
  python benchmarks/cases.py                                 # SQLite only
  python benchmarks/cases.py --postgres URL                  # also PostgreSQL: the databases
                                                             #   <db>_bench_intake and
                                                             #   <db>_bench_year on its server
                                                             #   are dropped and re-created
  python benchmarks/cases.py --cases 100000 --only kpis      # one part, a smaller year
  python benchmarks/cases.py --workdir /tmp/cb --reuse       # keep the year store, reuse it
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from sqlalchemy import event
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases_data  # noqa: E402
from bench_server import serving  # noqa: E402
from cases_data import Geography  # noqa: E402

from cityops.auth.model import Principal  # noqa: E402
from cityops.bootstrap import Services, bootstrap  # noqa: E402
from cityops.cases.intake import IntakeRequest  # noqa: E402
from cityops.settings import Settings  # noqa: E402
from cityops.storage import migrate  # noqa: E402

TARGETS = {
    "intake_rate": 500.0,  # cases/s, each store
    "intake_p99_ms": 50.0,
    "kpi_p95_ms": {"sqlite": 1000.0, "postgresql": 300.0},
    "memory_bytes": 1 << 30,
}
ADMIN = ("benchadmin", "bench-Admin-password-2026")
SECRET = "x" * 40
RESULTS: list[tuple[str, str, str, str, str]] = []  # part, figure, value, target, verdict


# --------------------------------------------------------------------------- small helpers


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1/5 min)"


def _pct(samples: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(samples), q)) if samples else float("nan")


def _verdict(ok: bool) -> str:
    return "pass" if ok else "MISS"


def _record(part: str, figure: str, value: str, target: str, ok: bool | None) -> None:
    RESULTS.append((part, figure, value, target, "" if ok is None else _verdict(ok)))


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


def _pg_database(url: str, name: str, *, fresh: bool) -> str:
    """Create (or re-create) a database on the server of ``url``; return its URL."""
    import psycopg

    with psycopg.connect(cases_data.psycopg_url(url), autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if exists and fresh:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _stores(args: argparse.Namespace, kind: str, *, fresh: bool) -> list[Store]:
    """Return the stores of a part: ``kind`` is "intake" or "year"."""
    found = [Store("SQLite", f"sqlite:///{args.workdir / f'{kind}.db'}", "sqlite")]
    if fresh:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{args.workdir / f'{kind}.db'}{suffix}").unlink(missing_ok=True)
    if args.postgres:
        base = make_url(args.postgres).database
        url = _pg_database(args.postgres, f"{base}_bench_{kind}", fresh=fresh)
        found.append(Store("PostgreSQL", url, "postgresql"))
    return found


def _settings(store: Store, data_dir: Path) -> Settings:
    return Settings(
        mode="dev",
        database_url=store.url,
        data_dir=data_dir,
        secret_key=SECRET,
        case_sweep_seconds=0,
    )


def _services(store: Store, data_dir: Path) -> Services:
    services = bootstrap(_settings(store, data_dir))
    migrate.upgrade(services.store.engine)
    return services


def _pg_settings(url: str) -> str:
    import psycopg

    with psycopg.connect(cases_data.psycopg_url(url)) as connection:
        rows = connection.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('synchronous_commit', 'fsync',"
            " 'full_page_writes', 'shared_buffers', 'work_mem', 'max_parallel_workers_per_gather')"
            " ORDER BY name"
        ).fetchall()
        version = connection.execute("SHOW server_version").fetchone()
    shown = ", ".join(f"{n}={v}" for n, v in rows)
    return f"PostgreSQL {version[0] if version else '?'}: {shown}"


def _proc_kib(pid: int, key: str) -> int:
    """Return a /proc/<pid>/status value in KiB (VmHWM, VmRSS), 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except FileNotFoundError:
        return 0
    return 0


def _cpu_seconds(pid: int) -> float:
    """Return the user + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(FileNotFoundError):
            for child in (task / "children").read_text().split():
                found.append(int(child))
                found.extend(_children(int(child)))
    return found


def _env(store: Store, data_dir: Path, sweep: bool) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CITYOPS_DATABASE_URL=store.url,
        CITYOPS_MODE="dev",
        CITYOPS_SECRET_KEY=SECRET,
        CITYOPS_DATA_DIR=str(data_dir),
        CITYOPS_LOG_LEVEL="WARNING",
    )
    if not sweep:
        env["CITYOPS_CASE_SWEEP_SECONDS"] = "0"
    return env


def _cli(store: Store, data_dir: Path, *arguments: str, stdin: str | None = None) -> str:
    command = [str(Path(sys.executable).parent / "cityops"), *arguments]
    done = subprocess.run(
        command,
        input=stdin,
        capture_output=True,
        text=True,
        env=_env(store, data_dir, sweep=False),
        check=False,
    )
    return done.stdout + done.stderr


@contextlib.contextmanager
def _server(store: Store, data_dir: Path, log: Path, *, sweep: bool) -> Iterator[Any]:
    """Run ``cityops serve`` on a free loopback port; yield (base URL, process)."""
    with serving(_env(store, data_dir, sweep), log) as started:
        yield started


def _sign_in(store: Store, data_dir: Path, base: str) -> dict[str, str]:
    """Create the benchmark admin (CLI) if missing and return bearer headers."""
    import httpx

    _cli(
        store,
        data_dir,
        "users",
        "create",
        ADMIN[0],
        "--role",
        "admin",
        "--password-stdin",
        stdin=ADMIN[1] + "\n",
    )
    response = httpx.post(
        base + "/api/v1/auth/login",
        json={"username": ADMIN[0], "password": ADMIN[1]},
        timeout=30,
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


# --------------------------------------------------------------------------- part 1: intake


@dataclass
class LoadResult:
    """What concurrent clients did in a timed window."""

    seconds: float
    latencies: list[float] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    exhausted: int = 0
    cpu_seconds: float = 0.0  # CPU time of this (the client) process in the window
    server_cpu_seconds: float = 0.0  # CPU time of the server process (HTTP only)

    @property
    def rate(self) -> float:
        """Completed calls per second."""
        return len(self.latencies) / self.seconds

    def summary(self) -> str:
        """Rate and latency, one line."""
        return (
            f"{self.rate:>8,.0f}/s  p50 {_pct(self.latencies, 50) * 1e3:7.2f} ms  "
            f"p99 {_pct(self.latencies, 99) * 1e3:7.2f} ms  (n={len(self.latencies):,})"
        )

    @property
    def cpu_ms_per_call(self) -> float:
        """CPU milliseconds per completed call."""
        return self.cpu_seconds / max(len(self.latencies), 1) * 1e3


def _concurrent(
    clients: int, seconds: float, make_worker: Callable[[int], Callable[[], str | None]]
) -> LoadResult:
    """Run ``clients`` threads calling their worker until ``seconds`` pass; time each call.

    A worker returns an outcome label (or None when it has nothing left to send).
    """
    workers = [make_worker(i) for i in range(clients)]
    start = threading.Barrier(clients + 1)
    result = LoadResult(seconds)
    lock = threading.Lock()
    deadline = [0.0]

    def run(work: Callable[[], str | None]) -> None:
        latencies: list[float] = []
        outcomes: Counter[str] = Counter()
        start.wait()
        while time.perf_counter() < deadline[0]:
            began = time.perf_counter()
            try:
                outcome = work()
            except Exception as error:  # keep going; report at the end
                with lock:
                    result.errors.append(f"{type(error).__name__}: {error}"[:300])
                continue
            if outcome is None:
                with lock:
                    result.exhausted += 1
                break
            latencies.append(time.perf_counter() - began)
            outcomes[outcome] += 1
        with lock:
            result.latencies.extend(latencies)
            result.outcomes.update(outcomes)

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    began, cpu = time.perf_counter(), time.process_time()
    start.wait()
    for thread in threads:
        thread.join()
    result.seconds = max(time.perf_counter() - began, seconds)
    result.cpu_seconds = time.process_time() - cpu
    return result


def _in_process_intake(
    services: Services, queues: list[list[IntakeRequest]], seconds: float
) -> LoadResult:
    principal = Principal.system("bench")

    def make_worker(i: int) -> Callable[[], str | None]:
        items = iter(queues[i])

        def work() -> str | None:
            request = next(items, None)
            if request is None:
                return None
            result = services.intake.accept(principal, request)
            if not result.created:
                return "repeat (idempotent)"
            return "created, duplicate found" if result.duplicates else "created"

        return work

    return _concurrent(len(queues), seconds, make_worker)


def _raw_inserts(store: Store, clients: int, seconds: float) -> LoadResult:
    """8 threads, each its own bare connection, one INSERT + COMMIT per row."""
    payload = "某路口有井盖破损，请尽快处理" * 4
    if store.dialect == "sqlite":
        path = store.sqlite_path
        with sqlite3.connect(path) as setup:
            setup.execute("DROP TABLE IF EXISTS bench_raw_inserts")
            setup.execute(
                "CREATE TABLE bench_raw_inserts (id INTEGER PRIMARY KEY, client INTEGER,"
                " payload TEXT, at TEXT)"
            )

        def make_worker(i: int) -> Callable[[], str | None]:
            connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA busy_timeout=30000")

            def work() -> str:
                connection.execute("BEGIN IMMEDIATE")
                connection.execute(
                    "INSERT INTO bench_raw_inserts (client, payload, at) VALUES (?, ?, ?)",
                    (i, payload, datetime.now(UTC).isoformat()),
                )
                connection.execute("COMMIT")
                return "row"

            return work

        result = _concurrent(clients, seconds, make_worker)
        with sqlite3.connect(path) as cleanup:
            cleanup.execute("DROP TABLE bench_raw_inserts")
        return result

    import psycopg

    url = cases_data.psycopg_url(store.url)
    with psycopg.connect(url, autocommit=True) as setup:
        setup.execute("DROP TABLE IF EXISTS bench_raw_inserts")
        setup.execute(
            "CREATE TABLE bench_raw_inserts (id bigserial PRIMARY KEY, client int,"
            " payload text, at timestamptz)"
        )
    connections = []

    def make_pg_worker(i: int) -> Callable[[], str | None]:
        connection = psycopg.connect(url, autocommit=True)
        connections.append(connection)

        def work() -> str:
            connection.execute(
                "INSERT INTO bench_raw_inserts (client, payload, at) VALUES (%s, %s, now())",
                (i, payload),
            )
            return "row"

        return work

    result = _concurrent(clients, seconds, make_pg_worker)
    for connection in connections:
        connection.close()
    with psycopg.connect(url, autocommit=True) as cleanup:
        cleanup.execute("DROP TABLE bench_raw_inserts")
    return result


def _http_intake(
    store: Store,
    data_dir: Path,
    queues: list[list[IntakeRequest]],
    seconds: float,
    warmup: list[list[IntakeRequest]],
) -> LoadResult:
    import httpx

    with _server(store, data_dir, data_dir / "serve-intake.log", sweep=False) as (base, server):
        headers = _sign_in(store, data_dir, base)

        def body(request: IntakeRequest) -> dict[str, Any]:
            return {
                name: getattr(request, name)
                for name in (
                    "channel",
                    "description",
                    "appeal_type",
                    "urgency",
                    "lon",
                    "lat",
                    "reporter_name",
                    "reporter_phone",
                    "external_ref",
                )
            }

        clients = [httpx.Client(base_url=base, headers=headers, timeout=60) for _ in queues]
        for client, items in zip(clients, warmup, strict=True):
            for request in items:
                client.post("/api/v1/cases", json=body(request)).raise_for_status()

        def make_worker(i: int) -> Callable[[], str | None]:
            items = iter(queues[i])
            client = clients[i]

            def work() -> str | None:
                request = next(items, None)
                if request is None:
                    return None
                response = client.post("/api/v1/cases", json=body(request))
                response.raise_for_status()
                return {201: "created", 200: "repeat (idempotent)"}.get(
                    response.status_code, str(response.status_code)
                )

            return work

        cpu = _cpu_seconds(server.pid)
        result = _concurrent(len(queues), seconds, make_worker)
        result.server_cpu_seconds = _cpu_seconds(server.pid) - cpu
        for client in clients:
            client.close()
    return result


def part_intake(args: argparse.Namespace) -> None:
    """Intake throughput and latency with concurrent clients, next to raw single-row commits."""
    print("\n== Intake: classify + locate + dedupe + route + write + event ==")
    clients, seconds = args.clients, args.intake_seconds
    texts = cases_data.texts_by_class(30)
    per_client = max(2000, int(seconds * 300))
    for store in _stores(args, "intake", fresh=True):
        data_dir = args.workdir / f"data-intake-{store.dialect}"
        print(f"\n{store.label}: setting up (migrate + demo geography) … {_load()}")
        if store.dialect == "postgresql":
            print(f"  {_pg_settings(store.url)}")
        started = time.perf_counter()
        services = _services(store, data_dir)
        geo = cases_data.setup_geography(services, data_dir)
        print(
            f"  geography: {len(geo.grid_codes):,} grids, {len(geo.rule_department)} city rules "
            f"({geo.keyword_rules} with keywords), {len(geo.workers):,} grids with a worker, "
            f"source: {geo.source}; {time.perf_counter() - started:.1f} s"
        )
        services.bus.start()
        queues = [
            cases_data.intake_requests(geo, texts, per_client, seed=100 + i, tag=f"c{i}")
            for i in range(clients)
        ]
        warm = [
            cases_data.intake_requests(geo, texts, 25, seed=900 + i, tag=f"w{i}")
            for i in range(clients)
        ]
        started = time.perf_counter()
        services.classification.suggest("人行道上的井盖坏了")  # loads jieba and the model
        principal = Principal.system("bench")
        for items in warm:
            for request in items:
                services.intake.accept(principal, request)
        print(
            f"  warm-up (jieba, model, locator, {clients * 25} cases): "
            f"{time.perf_counter() - started:.1f} s"
        )
        print(f"  timing {clients} clients for {seconds:.0f} s … {_load()}")
        ours = _in_process_intake(services, queues, seconds)
        after = _load()
        single = cases_data.intake_requests(geo, texts, per_client, seed=99, tag="one")
        one = _in_process_intake(services, [single], min(seconds, 10.0))
        services.close()
        raw_seconds = min(seconds, 10.0)
        raw = _raw_inserts(store, clients, raw_seconds)
        http = None
        if not args.no_http:
            http_queues = [
                cases_data.intake_requests(geo, texts, per_client, seed=500 + i, tag=f"h{i}")
                for i in range(clients)
            ]
            http_warm = [
                cases_data.intake_requests(geo, texts, 10, seed=950 + i, tag=f"hw{i}")
                for i in range(clients)
            ]
            http = _http_intake(store, data_dir, http_queues, seconds, http_warm)
        print(f"  after: {after}")
        print(f"\n  {'path (' + str(clients) + ' concurrent clients)':<52} {'rate, latency'}")
        print(f"  {'cityops intake.accept, in-process threads':<52} {ours.summary()}")
        if http is not None:
            print(f"  {'cityops POST /api/v1/cases over HTTP (httpx)':<52} {http.summary()}")
        print(f"  {'cityops intake.accept, ONE client (no contention)':<52} {one.summary()}")
        print(f"  {'raw engine: INSERT + COMMIT of one row, bare driver':<52} {raw.summary()}")
        print(
            f"  CPU per case: in-process {ours.cpu_ms_per_call:.2f} ms with {clients} clients, "
            f"{one.cpu_ms_per_call:.2f} ms with one"
            + (
                f"; HTTP: server {http.server_cpu_seconds / max(len(http.latencies), 1) * 1e3:.2f}"
                f" ms + clients {http.cpu_ms_per_call:.2f} ms"
                if http is not None
                else ""
            )
            + f" ({os.cpu_count()} cores; the GIL runs one thread of a process at a time)"
        )
        print(f"  outcomes: {dict(ours.outcomes)}")
        if http is not None:
            print(f"  HTTP outcomes: {dict(http.outcomes)}")
        for label, run in (("in-process", ours), ("HTTP", http), ("raw", raw)):
            if run is not None and (run.errors or run.exhausted):
                print(
                    f"  {label}: {len(run.errors)} errors {run.errors[:3]}; "
                    f"{run.exhausted} clients ran out of requests"
                )
        ratio = ours.rate / raw.rate
        print(f"  cityops in-process = {ratio:.1%} of the raw single-row commit rate")
        p99 = _pct(ours.latencies, 99) * 1e3
        _record(
            "intake",
            f"{store.label} cases/s (in-process, {clients} clients)",
            f"{ours.rate:,.0f}",
            "≥ 500",
            ours.rate >= TARGETS["intake_rate"],
        )
        _record(
            "intake",
            f"{store.label} p50 / p99 latency (in-process)",
            f"{_pct(ours.latencies, 50) * 1e3:.1f} / {p99:.1f} ms",
            "p99 ≤ 50 ms",
            p99 <= TARGETS["intake_p99_ms"],
        )
        _record(
            "intake",
            f"{store.label} one client: cases/s, p50 / p99; CPU per case (1 / {clients} clients)",
            f"{one.rate:,.0f}; {_pct(one.latencies, 50) * 1e3:.1f} / "
            f"{_pct(one.latencies, 99) * 1e3:.1f} ms; "
            f"{one.cpu_ms_per_call:.1f} / {ours.cpu_ms_per_call:.1f} ms",
            "",
            None,
        )
        if http is not None:
            hp99 = _pct(http.latencies, 99) * 1e3
            _record(
                "intake",
                f"{store.label} cases/s, p50 / p99 (HTTP)",
                f"{http.rate:,.0f}; {_pct(http.latencies, 50) * 1e3:.1f} / {hp99:.1f} ms",
                "≥ 500; p99 ≤ 50 ms",
                http.rate >= TARGETS["intake_rate"] and hp99 <= TARGETS["intake_p99_ms"],
            )
        _record(
            "intake",
            f"{store.label} raw single-row commits/s, p50 / p99",
            f"{raw.rate:,.0f}; {_pct(raw.latencies, 50) * 1e3:.2f} / "
            f"{_pct(raw.latencies, 99) * 1e3:.2f} ms",
            "(engine limit)",
            None,
        )


# --------------------------------------------------------------------------- part 2: KPIs


def _year(zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Return the year that ends at the start of today, local time (as UTC-aware datetimes)."""
    today = datetime.combine(datetime.now(zone).date(), datetime.min.time(), zone)
    return (today - timedelta(days=365)).astimezone(UTC), today.astimezone(UTC)


def _count_cases(store: Store) -> int:
    try:
        if store.dialect == "sqlite":
            if not store.sqlite_path.exists():
                return 0
            with sqlite3.connect(store.sqlite_path) as connection:
                return int(connection.execute("SELECT count(*) FROM cases").fetchone()[0])
        import psycopg

        with psycopg.connect(cases_data.psycopg_url(store.url)) as connection:
            row = connection.execute("SELECT count(*) FROM cases").fetchone()
            return int(row[0]) if row else 0
    except Exception:
        return 0


def year_store(args: argparse.Namespace, store: Store) -> tuple[Services, Geography]:
    """Return services on the year store, building it (geography + bulk cases) unless reused."""
    data_dir = args.workdir / f"data-year-{store.dialect}"
    start, end = _year(ZoneInfo(Settings(mode="dev", secret_key=SECRET).timezone))
    if store.label in args.built_year:
        services = _services(store, data_dir)
        return services, cases_data.read_geography(services)
    have = _count_cases(store)
    if args.reuse and have == args.cases:
        print(f"  reusing {store.label} year store with {have:,} cases")
        services = _services(store, data_dir)
        args.built_year.add(store.label)
        return services, cases_data.read_geography(services)
    if have:  # a different size: start again
        if store.dialect == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{store.sqlite_path}{suffix}").unlink(missing_ok=True)
        else:
            _pg_database(args.postgres, make_url(store.url).database or "", fresh=True)
    services = _services(store, data_dir)
    started = time.perf_counter()
    geo = cases_data.setup_geography(services, data_dir)
    print(f"  geography ({geo.source}): {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    year = cases_data.generate_year(geo, args.cases, start, end)
    generated = time.perf_counter() - started
    started = time.perf_counter()
    if store.dialect == "sqlite":
        engine_s = cases_data.load_year_sqlite(store.sqlite_path, year)
        how = "executemany in batches of 50,000, one transaction"
        after = "ANALYZE"
    else:
        engine_s = cases_data.load_year_postgres(store.url, year)
        how = "COPY in one transaction"
        after = "VACUUM ANALYZE"
    loaded = time.perf_counter() - started
    statuses = Counter(year.columns["status"].tolist())
    print(
        f"  {args.cases:,} cases: columns generated in {generated:.1f} s; written in "
        f"{loaded:.1f} s ({args.cases / loaded:,.0f} rows/s) of which {engine_s['insert']:.1f} s "
        f"in the driver ({how}), {engine_s['after']:.1f} s {after}, the rest turning columns "
        f"into driver rows; {_load()}"
    )
    print(f"  statuses: {dict(statuses.most_common())}")
    _record(
        "kpis",
        f"{store.label} load of {args.cases:,} cases: generate + write (driver)",
        f"{generated:.1f} s + {loaded:.1f} s ({engine_s['insert']:.1f} s)",
        "",
        None,
    )
    args.built_year.add(store.label)
    return services, geo


def _kpis_into(
    services: Services,
    principal: Principal,
    group: str,
    start: datetime,
    end: datetime,
    result: dict[str, Any],
) -> None:
    result.update(services.case_lists.kpis(principal, group_by=group, start=start, end=end))


def _time_runs(call: Callable[[], object], runs: int) -> list[float]:
    call()  # warm-up
    samples = []
    for _ in range(runs):
        began = time.perf_counter()
        call()
        samples.append(time.perf_counter() - began)
    return samples


_MEDIAN = re.compile(
    r",\s*(?:median|percentile_cont)\((?:[^()]|\([^()]*\))*\)"
    r"(?:\s+WITHIN GROUP \(ORDER BY [^)]*\))?\s+AS\s+median_\w+"
)


def _kpi_statement(
    services: Services, group: str, start: datetime, end: datetime
) -> tuple[str, Any]:
    """Return the SQL and parameters of cityops' KPI query over the case rows."""
    captured: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "median_seconds_to_close" in statement:
            captured.append((statement, parameters))

    engine = services.store.engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        _raw_path(services, group, start, end)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return captured[-1]


def _raw_kpis(
    store: Store, statement: str, parameters: Any, medians: bool, runs: int
) -> list[float]:
    """Time cityops' own KPI statement through the bare driver (optionally without medians)."""
    if not medians:
        statement, removed = _MEDIAN.subn("", statement)
        assert removed == 3, statement
    if store.dialect == "sqlite":
        from cityops.storage.engine import _Median

        connection = sqlite3.connect(store.sqlite_path)
        connection.create_aggregate("median", 1, _Median)  # the aggregate cityops registers
        samples = _time_runs(lambda: connection.execute(statement, parameters).fetchall(), runs)
        connection.close()
        return samples
    import psycopg

    with psycopg.connect(cases_data.psycopg_url(store.url)) as connection:
        return _time_runs(lambda: connection.execute(statement, parameters).fetchall(), runs)


def _explain(services: Services, statement: str, parameters: Any) -> list[str]:
    """EXPLAIN ANALYZE the statement cityops' kpis() sends (PostgreSQL)."""
    with services.store.engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        ).all()
    return [row[0] for row in rows]


def _fold_cells(services: Services) -> tuple[float, int]:
    """Fold the cases into the KPI day cells; return seconds taken and days recomputed."""
    began = time.perf_counter()
    with services.store.unit_of_work() as uow:
        days = uow.kpi_cells.fold(services.case_policy.zone, datetime.now(UTC))
        uow.commit()
    return time.perf_counter() - began, days


def _raw_path(services: Services, group: str, start: datetime, end: datetime) -> None:
    """Run the KPI query over the case rows: what a scoped reader or an extra filter gets."""
    from cityops.cases.queries import CaseFilter, Visibility

    with services.store.unit_of_work(read_only=True) as uow:
        uow.cases.kpi_counters(
            CaseFilter(accepted_from=start, accepted_to=end),
            Visibility(everything=True),
            group,
            datetime.now(UTC),
            services.case_policy.zone,
        )


def _bare_cells(store: Store, group: str, start: datetime, end: datetime, runs: int) -> list[float]:
    """Time the bare driver reading the day cells the KPI query reads (their engine limit)."""
    zone = ZoneInfo(Settings(mode="dev", secret_key=SECRET).timezone)
    first, last = start.astimezone(zone).date(), end.astimezone(zone).date()
    sql = "SELECT * FROM case_kpi_cells WHERE dimension = {0} AND day >= {0} AND day < {0}"
    if store.dialect == "sqlite":
        connection = sqlite3.connect(store.sqlite_path)
        query = sql.format("?")
        parameters: tuple[Any, ...] = (group, first.isoformat(), last.isoformat())
        samples = _time_runs(lambda: connection.execute(query, parameters).fetchall(), runs)
        connection.close()
        return samples
    import psycopg

    with psycopg.connect(cases_data.psycopg_url(store.url)) as connection:
        query = sql.format("%s")
        return _time_runs(
            lambda: connection.execute(query, (group, first, last)).fetchall(),  # type: ignore[arg-type]
            runs,
        )


def _touch_last_day(services: Services, end: datetime) -> int:
    """Stamp every case of the year's last day as changed now (as the live loop would)."""
    from sqlalchemy import update

    from cityops.storage.schema import cases

    with services.store.unit_of_work() as uow:
        changed = uow.connection.execute(
            update(cases)
            .where(cases.c.accepted_at >= end - timedelta(days=1), cases.c.accepted_at < end)
            .values(updated_at=datetime.now(UTC))
        ).rowcount
        uow.commit()
    return int(changed)


def part_kpis(args: argparse.Namespace) -> None:
    """KPIs over a year of cases (from the day cells), next to the engine's limits."""
    print(f"\n== KPIs over a year of {args.cases:,} cases ==")
    runs = args.kpi_runs
    raw_runs = max(5, runs // 4)
    for store in _stores(args, "year", fresh=False):
        print(f"\n{store.label}: year store … {_load()}")
        if store.dialect == "postgresql":
            print(f"  {_pg_settings(store.url)}")
        services, _ = year_store(args, store)
        build_s, built_days = _fold_cells(services)
        print(f"  KPI day cells folded: {built_days} days in {build_s:.1f} s; {_load()}")
        if built_days:
            _record(
                "kpis",
                f"{store.label} build of the KPI day cells ({built_days} days)",
                f"{build_s:.1f} s",
                "",
                None,
            )
        start, end = _year(services.case_policy.zone)
        principal = Principal.system("bench")
        target = TARGETS["kpi_p95_ms"][store.dialect]
        print(
            f"  period {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC; "
            f"{runs} runs after one warm-up (rows: {raw_runs}); {_load()}"
        )
        print(
            "\n  kpis(): from the day cells, as an admin or the command center asks;"
            " bare cells: the driver reading the same cells;\n  cityops rows: the same KPIs"
            " computed from the case rows (what a scoped reader or an extra filter gets);"
            "\n  bare rows: that statement run by sqlite3/psycopg, without and with its 3 medians;"
            " p50 / p95 in ms"
        )
        print(
            f"\n  {'group_by':<12}{'groups':>7}  {'kpis()':>15}  {'bare cells':>13}  "
            f"{'cityops rows':>15}  {'bare rows, no medians':>21}  {'bare rows':>15}"
        )
        for group in ("department", "street"):
            result: dict[str, Any] = {}
            ours = _time_runs(
                functools.partial(_kpis_into, services, principal, group, start, end, result),
                runs,
            )
            cells = _bare_cells(store, group, start, end, runs)
            rows = _time_runs(functools.partial(_raw_path, services, group, start, end), raw_runs)
            statement, parameters = _kpi_statement(services, group, start, end)
            plain = _raw_kpis(store, statement, parameters, False, raw_runs)
            median = _raw_kpis(store, statement, parameters, True, raw_runs)

            def pair(samples: list[float]) -> str:
                return f"{_pct(samples, 50) * 1e3:,.0f} / {_pct(samples, 95) * 1e3:,.0f}"

            print(
                f"  {group:<12}{len(result['groups']):>7}  {pair(ours):>15}  {pair(cells):>13}  "
                f"{pair(rows):>15}  {pair(plain):>21}  {pair(median):>15}"
            )
            p95 = _pct(ours, 95) * 1e3
            _record(
                "kpis",
                f"{store.label} kpis by {group}, p50 / p95",
                f"{pair(ours)} ms",
                f"p95 ≤ {target:,.0f} ms",
                p95 <= target,
            )
            _record(
                "kpis",
                f"{store.label} by {group}: bare cells / cityops rows / bare rows (no medians) p50",
                f"{_pct(cells, 50) * 1e3:,.0f} / {_pct(rows, 50) * 1e3:,.0f} / "
                f"{_pct(median, 50) * 1e3:,.0f} ({_pct(plain, 50) * 1e3:,.0f}) ms",
                "(engine limit)",
                None,
            )
        live = []
        for _ in range(5):
            touched = _touch_last_day(services, end)
            began = time.perf_counter()
            _kpis_into(services, principal, "street", start, end, {})
            live.append(time.perf_counter() - began)
        print(
            f"\n  kpis(by street) right after the {touched:,} cases of the last day changed"
            f" (their day is folded first): p50 {_pct(live, 50) * 1e3:,.0f} ms of 5; {_load()}"
        )
        _record(
            "kpis",
            f"{store.label} kpis by street after a day's {touched:,} cases changed, p50",
            f"{_pct(live, 50) * 1e3:,.0f} ms",
            "",
            None,
        )
        if store.dialect == "postgresql":
            print(
                "\n  EXPLAIN (ANALYZE, BUFFERS) of cityops' statement over the case rows (street):"
            )
            statement, parameters = _kpi_statement(services, "street", start, end)
            for line in _explain(services, statement, parameters):
                print(f"    {line}")
        services.close()


# --------------------------------------------------------------------------- part 3: classifier


def part_classifier(args: argparse.Namespace) -> None:
    """Classifier figures, through benchmarks/classifier.py's helpers."""
    import classifier as classifier_bench

    from cityops.cases.classifier import KeywordRule, classify, seed_model
    from cityops.cases.corpus import (
        DEFAULT_PER_CLASS,
        DEFAULT_SEED,
        build_seed_model,
        generate,
        holdout_appeals,
        split,
    )

    print("\n== Classifier (helpers of benchmarks/classifier.py) ==")
    threshold = Settings(mode="dev", secret_key=SECRET).case_auto_dispatch_confidence
    if args.retrain_classifier:
        started = time.perf_counter()
        model = build_seed_model(seed=DEFAULT_SEED, per_class=DEFAULT_PER_CLASS)
        print(f"model: retrained with the seed settings in {time.perf_counter() - started:.1f} s")
    else:
        model = seed_model()
        print("model: the shipped seed model (what intake uses until a city trains its own)")
    _, heldout = split(generate(DEFAULT_SEED, DEFAULT_PER_CLASS))
    appeals = holdout_appeals()
    rules: list[KeywordRule] = []
    with contextlib.suppress(Exception):
        from cityops.cases.rules import read_rules_csv
        from cityops.demo.load import demo_rules_csv

        rules = [
            KeywordRule(r.matter_code, r.keywords)
            for r in read_rules_csv(demo_rules_csv())
            if r.keywords
        ]
    print(f"auto-dispatch threshold: {threshold} (CITYOPS_CASE_AUTO_DISPATCH_CONFIDENCE default)")
    print(f"\n{'hold-out':<34}{'n':>6}{'top-1':>8}{'top-3':>8}   auto-dispatch")
    for name, pairs in (("generated held-out", heldout), ("hand-written appeals", appeals)):
        figures = model.evaluate([t for t, _ in pairs], [c for _, c in pairs])
        confident, correct = classifier_bench._auto_dispatch(model, pairs, threshold)
        right = correct / confident if confident else float("nan")
        print(
            f"{name + ', model':<34}{len(pairs):>6}{figures['top1']:>8.3f}{figures['top3']:>8.3f}"
            f"   {confident / len(pairs):.1%} of texts, {right:.1%} of those right "
            f"({correct}/{confident})"
        )
        _record(
            "classifier",
            f"{name}: top-1 / top-3 (model)",
            f"{figures['top1']:.3f} / {figures['top3']:.3f}",
            "",
            None,
        )
        _record(
            "classifier",
            f"{name}: auto-dispatch share, right",
            f"{confident / len(pairs):.1%}, {right:.1%} ({correct}/{confident})",
            f"confidence ≥ {threshold}",
            None,
        )
        if rules:
            top1 = top3 = auto = auto_right = 0
            for text_, code in pairs:
                found = classify(text_, model, rules, 3)
                top1 += bool(found) and found[0].code == code
                top3 += code in [s.code for s in found]
                if found and (found[0].source == "rule" or found[0].confidence >= threshold):
                    auto += 1
                    auto_right += found[0].code == code
            n = len(pairs)
            print(
                f"{name + ', rules + model':<34}{n:>6}{top1 / n:>8.3f}{top3 / n:>8.3f}   "
                f"{auto / n:.1%} of texts, {auto_right / max(auto, 1):.1%} of those right "
                f"({auto_right}/{auto})"
            )
            _record(
                "classifier",
                f"{name}: top-1 / top-3, auto share (demo keyword rules + model)",
                f"{top1 / n:.3f} / {top3 / n:.3f}; {auto / n:.1%}, "
                f"{auto_right / max(auto, 1):.1%} right",
                "",
                None,
            )
    texts = [t for t, _ in appeals] + [t for t, _ in heldout[:500]]
    latency = classifier_bench._latency(lambda t: model.suggest(t), texts, 1)
    print(
        f"\nsuggest(k=3) over {len(texts)} texts: wall p50 {latency['wall_p50']:.3f} ms, "
        f"p99 {latency['wall_p99']:.3f} ms (cpu p50 {latency['cpu_p50']:.3f} ms)"
    )
    _record(
        "classifier",
        "suggest(k=3) wall p50 / p99",
        f"{latency['wall_p50']:.2f} / {latency['wall_p99']:.2f} ms",
        "",
        None,
    )


# --------------------------------------------------------------------------- part 4: memory


def _raw_fetch_peak(store: Store, start: datetime, end: datetime) -> tuple[int, int]:
    """Peak RSS (KiB) of a bare-driver process fetching the period's rows, and the row count."""
    if store.dialect == "sqlite":
        script = (
            "import sqlite3,sys;c=sqlite3.connect(sys.argv[1]);"
            "r=c.execute('SELECT * FROM cases WHERE accepted_at >= ? AND accepted_at < ?',"
            "(sys.argv[2],sys.argv[3])).fetchall();"
            "print(len(r), [l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0])"
        )
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        argv = [str(store.sqlite_path), start.strftime(fmt), end.strftime(fmt)]
    else:
        script = (
            "import psycopg,sys;c=psycopg.connect(sys.argv[1]);"
            "r=c.execute('SELECT * FROM cases WHERE accepted_at >= %s AND accepted_at < %s',"
            "(sys.argv[2],sys.argv[3])).fetchall();"
            "print(len(r), [l.split()[1] for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0])"
        )
        argv = [cases_data.psycopg_url(store.url), start.isoformat(), end.isoformat()]
    done = subprocess.run(
        [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
    )
    rows, peak = done.stdout.split()
    return int(peak), int(rows)


def part_memory(args: argparse.Namespace) -> None:
    """Peak RSS of ``cityops serve`` on the year store while it answers heavy reads."""
    import httpx

    print(f"\n== Memory of the API process serving {args.cases:,} cases ==")
    for store in _stores(args, "year", fresh=False):
        print(f"\n{store.label}: {_load()}")
        services, _ = year_store(args, store)
        zone = services.case_policy.zone
        services.close()
        data_dir = args.workdir / f"data-year-{store.dialect}"
        today = datetime.now(zone).date()
        month_end = today.replace(day=1)
        month_start = (month_end - timedelta(days=1)).replace(day=1)
        requests = [
            ("cases?limit=500", "/api/v1/cases", {"limit": 500}),
            ("cases/kpis?by=street", "/api/v1/cases/kpis", {"by": "street"}),
            ("cases/queue?queue=command", "/api/v1/cases/queue", {"queue": "command"}),
            (
                f"cases/export?format=csv (a month: {month_start} → {month_end})",
                "/api/v1/cases/export",
                {"format": "csv", "from": str(month_start), "to": str(month_end)},
            ),
        ]
        log = data_dir / "serve-memory.log"
        with _server(store, data_dir, log, sweep=True) as (base, process):
            headers = _sign_in(store, data_dir, base)
            started_rss = _proc_kib(process.pid, "VmRSS")
            print(
                f"  cityops serve pid {process.pid}: VmRSS after start-up and sign-in "
                f"{started_rss / 1024:,.0f} MiB"
            )
            print(f"  {'request':<58}{'status':>7}{'seconds (each run)':>30}{'size':>12}")
            with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
                for label, path, params in requests:
                    took, sizes, codes = [], [], set()
                    for _ in range(args.memory_repeats):
                        began = time.perf_counter()
                        response = client.get(path, params=params)
                        took.append(time.perf_counter() - began)
                        sizes.append(len(response.content))
                        codes.add(response.status_code)
                    shown = " · ".join(f"{t:.2f}" for t in took)
                    print(
                        f"  {label:<58}{'/'.join(map(str, sorted(codes))):>7}{shown:>30}"
                        f"{max(sizes) / 1e6:>10.1f} MB"
                    )
                    _record(
                        "memory",
                        f"{store.label} GET {label}",
                        f"{statistics.median(took):.2f} s (median of "
                        f"{args.memory_repeats}); {max(sizes) / 1e6:.1f} MB",
                        "",
                        None,
                    )
            pids = [process.pid, *_children(process.pid)]
            peaks = {pid: _proc_kib(pid, "VmHWM") for pid in pids}
            rss_end = _proc_kib(process.pid, "VmRSS")
        peak = max(peaks.values()) * 1024
        shown = ", ".join(f"pid {p}: {k / 1024:,.0f} MiB" for p, k in peaks.items())
        print(f"  VmHWM (peak RSS): {shown}; VmRSS at the end {rss_end / 1024:,.0f} MiB")
        export_start = datetime.combine(month_start, datetime.min.time(), zone).astimezone(UTC)
        export_end = datetime.combine(month_end, datetime.min.time(), zone).astimezone(UTC)
        raw_peak, rows = _raw_fetch_peak(store, export_start, export_end)
        print(
            f"  raw engine: a bare {store.dialect} process fetching the month's {rows:,} rows "
            f"(SELECT *, fetchall): VmHWM {raw_peak / 1024:,.0f} MiB"
        )
        _record(
            "memory",
            f"{store.label} VmHWM of cityops serve",
            f"{peak / 2**20:,.0f} MiB",
            "≤ 1024 MiB",
            peak <= TARGETS["memory_bytes"],
        )
        _record(
            "memory",
            f"{store.label} raw: bare driver fetching the month ({rows:,} rows)",
            f"{raw_peak / 1024:,.0f} MiB",
            "(engine reference)",
            None,
        )


# --------------------------------------------------------------------------- main


def main() -> None:
    """Parse arguments, run the parts, print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (its server gets two bench DBs)")
    parser.add_argument("--cases", type=int, default=1_000_000, help="cases in the year store")
    parser.add_argument("--intake-seconds", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--kpi-runs", type=int, default=20)
    parser.add_argument("--memory-repeats", type=int, default=3)
    parser.add_argument("--skip-classifier", action="store_true")
    parser.add_argument(
        "--retrain-classifier",
        action="store_true",
        help="train the seed model afresh (~1 min) instead of the shipped one",
    )
    parser.add_argument("--no-http", action="store_true", help="skip intake over HTTP")
    parser.add_argument("--only", choices=("intake", "kpis", "memory", "classifier"))
    parser.add_argument("--workdir", type=Path, help="keep stores here (default: a temp dir)")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="reuse a year store in --workdir / PostgreSQL of the same size",
    )
    args = parser.parse_args()
    args.built_year = set()

    import sqlalchemy

    print(
        f"{os.cpu_count()} cores, {platform.python_implementation()} {platform.python_version()},"
        f" SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}; {_load()}"
    )
    parts = [args.only] if args.only else ["classifier", "intake", "kpis", "memory"]
    if args.skip_classifier and "classifier" in parts:
        parts.remove("classifier")
    with contextlib.ExitStack() as stack:
        if args.workdir is None:
            args.workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cb-")))
        args.workdir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        for part in parts:
            started = time.perf_counter()
            {
                "intake": part_intake,
                "kpis": part_kpis,
                "memory": part_memory,
                "classifier": part_classifier,
            }[part](args)
            print(f"\n[{part}: {time.perf_counter() - started:.0f} s; {_load()}]")
        print(f"\n== Summary ({time.perf_counter() - began:.0f} s; {_load()}) ==")
        print(f"  {'part':<11}{'figure':<84}{'measured':<34}{'target':<20}")
        for part, figure, value, target, verdict in RESULTS:
            print(f"  {part:<11}{figure:<84}{value:<34}{target:<20}{verdict}")


if __name__ == "__main__":
    main()
