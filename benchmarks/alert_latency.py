"""Benchmark alert latency (issue 7): MQTT publish → AlertRaised on the live feed, p50/p99.

Per store (SQLite; PostgreSQL too with ``--postgres``), with real processes throughout:
  * setup: a fresh store, migrated; ``--devices`` devices × 10 metrics registered through
    ``services.devices`` (``ingest_data.build_fleet``); one rule imported with ``cityops alerts
    rules import`` (threshold ``pm25 > 300``, no duration, no suppression); an ``events:read``
    API key from ``cityops apikeys create``;
  * ``cityops serve`` on a loopback port takes readings from Mosquitto through its own MQTT door
    (``CITYOPS_MQTT_URL``; a throwaway broker from scripts/mqtt-throwaway.sh, or ``--mqtt``); the
    benchmark follows ``GET /api/v1/events/stream`` once per ``--polls`` value (the feed's outbox
    poll: 0.25 s is the default a browser gets, 0.05 s the least allowed);
  * a trigger: paho publishes (QoS 1) ``{"time": now, "values": {"pm25": v}}`` to
    ``cityops/telemetry/ST-0000``, ``v`` over the limit and unique to the trigger; the latency is
    ``time.perf_counter()`` when the feed delivers the AlertRaised of ``v`` minus just before the
    publish. A clearing reading (pm25 = 20) follows and its AlertResolved is awaited, so the next
    trigger raises a new alert: each must raise exactly one (counted on the feeds and in the
    alerts table). Triggers are ``--spacing`` s apart plus a random 0…max(poll) s, so they do not
    fall in step with the feed's polling. The event's ``occurred_at`` (server clock at commit)
    gives publish → commit too: the MQTT door's wait for more messages to share a transaction
    (``MqttOptions.max_wait``, 0.2 s) is in it, the feed's poll is not;
  * phases: ``idle``, then ``load`` when ``--load-rate R`` > 0: another process publishes R
    readings/s (QoS 1, 500 per message) for the other devices, under the limit, one reading per
    datastream a second apart from a day ago, while the triggers run.

Usage:
  .venv/bin/python benchmarks/alert_latency.py                   # SQLite, idle and 10,000/s load
  .venv/bin/python benchmarks/alert_latency.py --postgres URL    # and PostgreSQL: a database
                                                                 #   <db>_bench_alerts_* is made
                                                                 #   there, and dropped
  .venv/bin/python benchmarks/alert_latency.py --triggers 500 --load-rate 20000 --mqtt URL
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import platform
import queue
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import numpy as np
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ingest_data  # noqa: E402
from bench_server import cityops_command, server_env, serving  # noqa: E402
from ingest_data import PLACEHOLDER, Fleet, Ticks  # noqa: E402

from cityops.bootstrap import bootstrap  # noqa: E402
from cityops.settings import Settings  # noqa: E402
from cityops.storage import migrate  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECRET = "x" * 40
RULE, LIMIT, CLEAR = "bench-pm25", 300, 20.0
RULES_YAML = f"""rules:
  - {{key: {RULE}, kind: threshold, metric: pm25, level: III, suppress_minutes: 0,
     condition: {{above: {LIMIT}}}}}
"""


@dataclass
class Phase:
    """What one phase measured (latencies in seconds, per feed poll)."""

    name: str
    polls: list[float]
    triggers: int = 0
    latencies: dict[float, list[float]] = field(default_factory=dict)
    commit: list[float] = field(default_factory=list)  # publish → event occurred_at
    raised: dict[float, int] = field(default_factory=dict)  # AlertRaised seen per feed
    load: str = ""
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.latencies = {poll: [] for poll in self.polls}


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1/5 min)"


def _ms(samples: Sequence[float]) -> str:
    if not samples:
        return "p50 / p90 / p99 / max: none"
    p50, p90, p99, top = np.percentile(np.asarray(samples) * 1000, [50, 90, 99, 100])
    return f"p50 / p90 / p99 / max {p50:.0f} / {p90:.0f} / {p99:.0f} / {top:.0f} ms"


def _admin(url: str) -> Any:
    import psycopg

    libpq = make_url(url).set(drivername="postgresql").render_as_string(False)
    return psycopg.connect(libpq, autocommit=True)


@contextlib.contextmanager
def _store(dialect: str, postgres: str | None, workdir: Path) -> Iterator[str]:
    """Yield the URL of a fresh, empty store; remove the store afterwards."""
    if dialect == "sqlite":
        files = [workdir / f"alerts.db{suffix}" for suffix in ("", "-wal", "-shm")]
        for one in files:
            one.unlink(missing_ok=True)
        try:
            yield f"sqlite:///{files[0]}"
        finally:
            for one in files:
                one.unlink(missing_ok=True)
        return
    assert postgres is not None
    name = f"{make_url(postgres).database or 'cityops'}_bench_alerts_{uuid.uuid4().hex[:6]}"
    with _admin(postgres) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(postgres).set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin(postgres) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.contextmanager
def _broker(given: str | None) -> Iterator[str]:
    """Yield the broker URL: ``given``, or a throwaway Mosquitto's, stopped afterwards."""
    if given:
        yield given
        return
    # Not under the work dir: Mosquitto drops root to its own user, who must reach its log.
    folder = Path(tempfile.gettempdir()) / f"al-mqtt-{uuid.uuid4().hex[:8]}"
    script = str(ROOT / "scripts" / "mqtt-throwaway.sh")
    try:
        started = subprocess.run(
            ["bash", script, "start", str(folder)], capture_output=True, text=True, check=True
        )
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", script, "stop", str(folder)], check=False)


def _env(url: str, data_dir: Path, mqtt_url: str | None = None) -> dict[str, str]:
    env = server_env(url, data_dir, SECRET)
    if mqtt_url:  # a group and client id of our own: no one else shares the subscription
        tag = uuid.uuid4().hex[:8]
        env.update(
            CITYOPS_MQTT_URL=mqtt_url,
            CITYOPS_MQTT_GROUP=f"alertbench{tag}",
            CITYOPS_MQTT_CLIENT_ID=f"alertbench-{tag}",
        )
    return env


def _cityops(url: str, data_dir: Path, *arguments: str) -> str:
    command = [cityops_command(), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, env=_env(url, data_dir))
    if done.returncode:
        raise RuntimeError(f"cityops {' '.join(arguments)}: {done.stdout}{done.stderr}")
    return done.stdout + done.stderr


def _prepare(url: str, data_dir: Path, devices: int) -> tuple[Fleet, str]:
    """Migrate, register the fleet, import the rule, issue a key; return (fleet, key)."""
    started = time.perf_counter()
    settings = Settings(
        mode="dev", database_url=url, data_dir=data_dir, secret_key=SECRET, case_sweep_seconds=0
    )
    services = bootstrap(settings)
    try:
        migrate.upgrade(services.store.engine)
        fleet = ingest_data.build_fleet(services, devices)
    finally:
        services.close()
    (data_dir / "rules.yaml").write_text(RULES_YAML, encoding="utf-8")
    _cityops(url, data_dir, "alerts", "rules", "import", str(data_dir / "rules.yaml"))
    out = _cityops(url, data_dir, "apikeys", "create", "bench-alerts", "--permission",
                   "events:read", "--permission", "alerts:read")  # fmt: skip
    key = re.search(r"^key: (\S+)", out, re.MULTILINE)
    if not key:
        raise RuntimeError(f"no key in: {out}")
    print(
        f"  {len(fleet.thing_keys)} devices × {len(ingest_data.METRICS)} metrics registered, rule "
        f"{RULE} (pm25 > {LIMIT}) imported, key issued: {time.perf_counter() - started:.1f} s"
    )
    return fleet, key.group(1)


class Feed(threading.Thread):
    """Follows the live feed; notes when each alert event arrives (``time.perf_counter``)."""

    def __init__(self, base: str, key: str, poll: float, after: int) -> None:
        super().__init__(name=f"feed-{poll}", daemon=True)
        self.poll = poll
        self._request = (f"{base}/api/v1/events/stream", {"after": after, "poll": poll}, key)
        self.changed = threading.Condition()
        self.raised: dict[float, tuple[float, int, str]] = {}  # value → arrival, id, occurred_at
        self.resolved: dict[float, tuple[float, int, str]] = {}  # alert id → the same
        self.error: str | None = None
        self.stopping = False

    def run(self) -> None:
        """Read frames until the server goes away or ``stopping`` is set."""
        url, params, key = self._request
        event = ""
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10.0, read=None)) as client,
                client.stream("GET", url, params=params, headers={"X-API-Key": key}) as response,
            ):
                response.raise_for_status()
                for line in response.iter_lines():
                    arrived = time.perf_counter()
                    if self.stopping:
                        return
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event in ("AlertRaised", "AlertResolved"):
                        data = orjson.loads(line[6:])
                        found = (arrived, int(data["payload"]["alert_id"]), data["occurred_at"])
                        with self.changed:
                            if event == "AlertRaised":
                                self.raised[round(float(data["payload"]["value"]), 2)] = found
                            else:
                                self.resolved[found[1]] = found
                            self.changed.notify_all()
        except Exception as error:  # noqa: BLE001 - reported with the figures
            if not self.stopping:
                self.error = repr(error)
        finally:
            with self.changed:
                self.changed.notify_all()

    def wait(
        self, seen: dict[float, tuple[float, int, str]], key: float, until: float
    ) -> tuple[float, int, str] | None:
        """Wait until ``seen`` (raised or resolved) holds ``key``, or ``until`` (perf_counter)."""
        with self.changed:
            while key not in seen and self.error is None and self.is_alive():
                left = until - time.perf_counter()
                if left <= 0:
                    break
                self.changed.wait(left)
            return seen.get(key)


def _client(url: str, client_id: str) -> mqtt.Client:
    parts = urlsplit(url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    if parts.username:
        client.username_pw_set(parts.username, parts.password)
    client.max_inflight_messages_set(1000)
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
    client.loop_start()
    return client


def _publish_load(
    url: str, messages: list[list[tuple[str, bytes, int]]], ticks: Ticks, rate: float,
    stop: Any, results: Any,
) -> None:  # fmt: skip
    """Publish ``rate`` readings/s (QoS 1) until ``stop`` is set; put what was acknowledged."""
    client = _client(url, f"alertbench-load-{uuid.uuid4().hex[:8]}")
    done: deque[int] = deque()  # mids the broker acknowledged (appended by paho's thread)
    sizes: dict[int, int] = {}
    client.on_publish = lambda _c, _u, mid, _r, _p: done.append(mid)
    began, readings, acked, tick = time.perf_counter(), 0, 0, 0
    while not stop.is_set():
        iso = ticks.iso(tick).encode()
        for topic, template, n in messages[tick % len(messages)]:
            if (due := began + readings / rate) > time.perf_counter():
                time.sleep(max(0.0, due - time.perf_counter()))
            if stop.is_set():
                break
            sizes[client.publish(topic, template.replace(PLACEHOLDER, iso), qos=1).mid] = n
            readings += n
        tick += 1
    seconds, give_up = time.perf_counter() - began, time.perf_counter() + 30
    while acked < readings and time.perf_counter() < give_up:
        time.sleep(0.05)
        while done:
            acked += sizes.pop(done.popleft(), 0)
    client.disconnect()
    client.loop_stop()
    results.put({"readings": readings, "acked": acked, "seconds": seconds})


def _count(url: str, sql: str) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(sql)).scalar() or 0)
    finally:
        engine.dispose()


def _settled(url: str, expected: int) -> int:
    """Return the observations count once it reaches ``expected`` or stays put for 2 s."""
    count, since, give_up = -1, time.monotonic(), time.monotonic() + 60
    while time.monotonic() < give_up:
        now = _count(url, "SELECT count(*) FROM observations")
        if now >= expected or (now == count and time.monotonic() - since > 2.0):
            return now
        if now != count:
            count, since = now, time.monotonic()
        time.sleep(0.2)
    return count


class Trigger:
    """Publishes ST-0000's pm25 readings (QoS 1): times strictly increasing, values unique."""

    def __init__(self, client: mqtt.Client) -> None:
        self.client, self.last_ms, self.sent = client, 0, 0

    def send(self, value: float) -> float:
        """Publish one reading timed now; return ``perf_counter()`` read just before."""
        self.last_ms = max(int(time.time() * 1000), self.last_ms + 1)
        moment = datetime.fromtimestamp(self.last_ms / 1000, UTC).isoformat(timespec="milliseconds")
        payload = orjson.dumps({"time": moment, "values": {"pm25": value}})
        began = time.perf_counter()
        self.client.publish(f"{ingest_data.TOPIC_PREFIX}/ST-0000", payload, qos=1)
        return began


def _phase(
    name: str, triggers: int, warmup: int, args: Any, pub: Trigger, feeds: list[Feed]
) -> Phase:
    """Run ``warmup`` then ``triggers`` measured triggers, each one cleared after its alert."""
    phase = Phase(name, [f.poll for f in feeds])
    before = {f.poll: len(f.raised) for f in feeds}
    for i in range(-warmup, triggers):
        if i == 0:
            before = {f.poll: len(f.raised) for f in feeds}
        pub.sent += 1
        value, wall = 400.0 + (pub.sent % 100_000) / 100, time.time()  # unique to the trigger
        began = pub.send(value)
        got = {f.poll: f.wait(f.raised, round(value, 2), began + args.timeout) for f in feeds}
        if i >= 0:
            phase.triggers += 1
            for poll, found in got.items():
                if found is not None:
                    phase.latencies[poll].append(found[0] - began)
            if first := next((g for g in got.values() if g is not None), None):
                phase.commit.append(datetime.fromisoformat(first[2]).timestamp() - wall)
        pub.send(CLEAR)  # resolves the alert: the next trigger raises a new one
        until = time.perf_counter() + args.timeout
        for alert_id in {g[1] for g in got.values() if g is not None}:
            if any(f.wait(f.resolved, alert_id, until) is None for f in feeds):
                phase.problems.append(f"alert {alert_id} not seen resolved")
        time.sleep(args.spacing + random.uniform(0, max(args.polls)))
    phase.raised = {f.poll: len(f.raised) - before[f.poll] for f in feeds}
    return phase


def _background(url: str, fleet: Fleet, rate: float) -> tuple[Any, Any, Any]:
    """Start a process publishing ``rate`` readings/s for the devices but ST-0000."""
    skip = len(ingest_data.METRICS)
    others = Fleet(fleet.thing_keys[1:], fleet.stream_keys[skip:], fleet.stream_ids[skip:],
                   fleet.stream_metrics[skip:])  # fmt: skip
    messages = ingest_data.batched_messages(others, ingest_data.value_sets(others, 4), 500)
    zone = Settings(mode="dev", secret_key=SECRET).timezone
    ticks = Ticks(int(time.time() * 1000) - 86_400_000, 1000, zone)  # from a day ago, 1 s apart
    context = multiprocessing.get_context("spawn")
    stop, results = context.Event(), context.Queue()
    process = context.Process(
        target=_publish_load, args=(url, messages, ticks, rate, stop, results), daemon=True
    )
    process.start()
    return process, stop, results


def _run_store(dialect: str, args: Any, workdir: Path) -> list[Phase]:
    """Measure one store: setup, broker, server, feeds, then the idle and load phases."""
    data_dir = workdir / f"data-{dialect}"
    data_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(_store(dialect, args.postgres, workdir))
        print(f"\n{'SQLite' if dialect == 'sqlite' else 'PostgreSQL'}: a fresh store … {_load()}")
        fleet, key = _prepare(url, data_dir, args.devices)
        broker = stack.enter_context(_broker(args.mqtt))
        base, _ = stack.enter_context(serving(_env(url, data_dir, broker), data_dir / "serve.log"))
        after = _count(url, "SELECT coalesce(max(id), 0) FROM outbox_events")
        feeds = [Feed(base, key, poll, after) for poll in args.polls]
        for feed in feeds:
            feed.start()
            stack.callback(setattr, feed, "stopping", True)
        client = _client(broker, f"alertbench-trigger-{uuid.uuid4().hex[:8]}")
        stack.callback(client.loop_stop)
        stack.callback(client.disconnect)
        pub = Trigger(client)
        print(f"  cityops serve at {base}, broker {broker}, feeds with poll {args.polls} s")
        # The door subscribes once the server is up (what comes before is lost): try until
        # an alert comes back.
        deadline, quick = time.monotonic() + 60, argparse.Namespace(**{**vars(args), "timeout": 2})
        while not any(_phase("connect", 0, 1, quick, pub, feeds).raised.values()):
            if time.monotonic() > deadline or any(f.error for f in feeds):
                errors = [f.error for f in feeds if f.error]
                raise RuntimeError(f"no alert came back in 60 s {errors}; see {data_dir}")
        known, sent = _count(url, "SELECT coalesce(max(id), 0) FROM alerts"), pub.sent
        phases = [_phase("idle", args.triggers, args.warmup, args, pub, feeds)]
        if args.load_rate > 0:
            stored, before = _count(url, "SELECT count(*) FROM observations"), pub.sent
            process, stop, results = _background(broker, fleet, args.load_rate)
            try:
                time.sleep(3.0)  # the load settles
                phases.append(_phase("load", args.triggers, args.warmup, args, pub, feeds))
            finally:
                stop.set()
                with contextlib.suppress(queue.Empty):
                    got = results.get(timeout=60)
                    expected = got["acked"] + 2 * (pub.sent - before)  # and triggers, clears
                    gained = _settled(url, stored + expected) - stored
                    phases[-1].load = (
                        f"{got['readings'] / got['seconds']:,.0f} readings/s published for "
                        f"{got['seconds']:.0f} s, {got['acked']:,} of {got['readings']:,} "
                        f"acknowledged by the broker; the store gained {gained:,} readings "
                        f"({expected:,} expected)"
                    )
                process.join(10)
                if process.is_alive():
                    process.kill()
        total, sent = (
            _count(url, f"SELECT count(*) FROM alerts WHERE id > {known}"),
            pub.sent - sent,
        )
        print(f"  alerts table: {total} new alerts for {sent} triggers (warm-ups included)")
        if total != sent:
            phases[-1].problems.append(f"{total} alerts in the table for {sent} triggers")
        phases[-1].problems.extend(f"feed {f.poll}: {f.error}" for f in feeds if f.error)
    return phases


def _report(label: str, phases: list[Phase]) -> bool:
    """Print a store's figures; return whether every trigger raised exactly one alert."""
    ok = True
    for phase in phases:
        print(f"\n{label}, {phase.name}: {phase.triggers} triggers")
        if phase.load:
            print(f"  background load: {phase.load}")
        print(f"  publish → commit (event's occurred_at, wall clock):    {_ms(phase.commit)}")
        for poll, samples in phase.latencies.items():
            missed = phase.triggers - len(samples)
            print(f"  publish → AlertRaised on the feed, poll {poll:<4g} s: {_ms(samples)}; "
                  f"{phase.raised[poll]} alerts received, {missed} missed")  # fmt: skip
            ok = ok and not missed and phase.raised[poll] == phase.triggers
        for problem in phase.problems:
            print(f"  PROBLEM: {problem}")
        ok = ok and not phase.problems
    return ok


def _versions(postgres: str | None) -> None:
    import sqlalchemy

    print(
        f"{os.cpu_count()} cores; {platform.python_implementation()} {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}, psycopg "
        f"{version('psycopg')}, uvicorn {version('uvicorn')}, httpx {version('httpx')}, "
        f"paho-mqtt {version('paho-mqtt')}, cityops {version('cityops')}"
    )
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    with contextlib.suppress(OSError, IndexError):
        done = subprocess.run([mosquitto, "-h"], capture_output=True, text=True, check=False)
        print(f"Mosquitto: {(done.stdout or done.stderr).splitlines()[0]}")
    if postgres:
        with _admin(postgres) as connection:
            row = connection.execute("SHOW server_version").fetchone()
            print(f"PostgreSQL {row[0] if row else '?'} at {make_url(postgres).host}")
    print(_load())


def main() -> int:
    """Measure each store and print its figures; 0 when every trigger raised one alert."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--postgres", help="a PostgreSQL URL (a bench database is made there)")
    parser.add_argument("--mqtt", help="use this broker (mqtt://host:port), not a new one")
    parser.add_argument("--triggers", type=int, default=200, help="measured triggers per phase")
    parser.add_argument("--warmup", type=int, default=5, help="unmeasured triggers per phase")
    parser.add_argument("--spacing", type=float, default=0.05, help="least seconds between")
    parser.add_argument("--load-rate", type=float, default=10_000, help="readings/s; 0: no load")
    parser.add_argument("--devices", type=int, default=100, help="devices (× 10 metrics)")
    parser.add_argument("--polls", default="0.25,0.05", help="the feeds' poll, seconds")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for an alert")
    parser.add_argument("--workdir", type=Path, help="keep the logs here (default: a temp dir)")
    args = parser.parse_args()
    args.polls = [float(p) for p in args.polls.split(",") if p.strip()]
    if args.devices < 2 or args.triggers < 1 or not args.polls:
        parser.error("--devices ≥ 2, --triggers ≥ 1 and at least one poll are needed")
    _versions(args.postgres)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on a kill as on Ctrl-C
    ok = True
    with contextlib.ExitStack() as stack:
        workdir = args.workdir
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="al-")))
        workdir.mkdir(parents=True, exist_ok=True)
        for dialect in ["sqlite", "postgresql"] if args.postgres else ["sqlite"]:
            phases = _run_store(dialect, args, workdir)
            label = "SQLite" if dialect == "sqlite" else "PostgreSQL"
            print(f"\n== {label}: alert latency, MQTT publish → AlertRaised event ({_load()}) ==")
            ok = _report(label, phases) and ok
    print("\nresult: " + ("every trigger raised one alert" if ok else "MISSES or PROBLEMS above"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
