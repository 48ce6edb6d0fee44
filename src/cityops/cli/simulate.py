"""``cityops simulate``: the demo city's sensors reporting live, from the telemetry simulator.

Why: a demo needs devices that report while people watch — readings on the dashboard, episodes
that should raise alerts — and a load test needs a steady stream through the real doors. The
readings come from :mod:`cityops.sensing.simulate` and go out through one door: MQTT (a device
message per thing on ``cityops/telemetry/<key>``, QoS 1), HTTP (``POST /api/v1/observations``
batches with an API key) or straight into the store through the ingest service (``--direct``).

Time runs ``--speed`` times faster than the wall clock. A reading is never sent before its
moment has come (the doors refuse readings from the future), so ``--start now`` places the
simulated window to end when the run ends: it starts ``duration × (1 − 1/speed)`` ago, the
first minutes replay the recent past quickly and the last readings are live.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any
from urllib.parse import urlsplit
from uuid import uuid4

import click
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from cityops.cli.context import AppContext, handle_errors, operator, pass_app
from cityops.demo.sensors import SensorSpec, demo_sensors, register_sensors, sim_streams
from cityops.kernel.errors import ValidationFailed
from cityops.sensing.simulate import SCENARIOS, Episode, Simulation

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
PROGRESS_SECONDS = 10.0
BATCH_ITEMS = 1000  # device items per HTTP or ingest batch, well under MAX_BATCH


@dataclass
class Tally:
    """What was sent, and what the receiving end said about it."""

    readings: int = 0
    messages: int = 0
    accepted: int = 0
    duplicates: int = 0
    refused: int = 0


Send = Callable[[list[dict[str, Any]], Tally], None]


def parse_duration(text: str) -> timedelta:
    """Return ``1h``, ``30m``, ``1h30m``, ``2d`` or ``90s`` as a timedelta."""
    cleaned = text.strip().lower()
    parts = _DURATION.findall(cleaned)
    if not parts or "".join(n + u for n, u in parts) != cleaned:
        raise ValidationFailed.single("duration", "duration", f"{text!r} is not like 1h, 30m, 2d")
    seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValidationFailed.single("duration", "positive", "the duration must be positive")
    return timedelta(seconds=seconds)


def parse_start(
    text: str, now: datetime, duration: timedelta, speed: float, zone: tzinfo
) -> datetime:
    """Return the simulated start: ``now`` (ending live, see the module) or an ISO 8601 time."""
    if text.strip().lower() == "now":
        return now - duration * (1 - 1 / speed)
    try:
        start = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValidationFailed.single(
            "start", "iso8601", f"{text!r} is not now or ISO 8601"
        ) from None
    return start if start.tzinfo is not None else start.replace(tzinfo=zone)


def parse_scenarios(text: str | None) -> list[tuple[str, timedelta]]:
    """Return ``pollution,flooding@2h``: episodes starting with the run, or that long after."""
    episodes: list[tuple[str, timedelta]] = []
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, _, offset = part.strip().partition("@")
        if name not in SCENARIOS:
            raise ValidationFailed.single(
                "scenario", "one_of", f"unknown scenario {name!r}; one of {', '.join(SCENARIOS)}"
            )
        episodes.append((name, parse_duration(offset) if offset else timedelta(0)))
    return episodes


def _direct(app: AppContext) -> Send:
    services = app.services()
    principal = operator()

    def send(items: list[dict[str, Any]], tally: Tally) -> None:
        report = services.ingest.ingest(principal, items)
        tally.accepted += report.accepted
        tally.duplicates += report.duplicates
        tally.refused += report.rejected

    return send


def _http_call(url: str, api_key: str, body: Any) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json", "X-API-Key": api_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return int(response.status), json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")
    except (urllib.error.URLError, OSError) as error:
        raise click.ClickException(f"cannot reach {url}: {error}") from None


def _http(base: str, api_key: str, specs: Sequence[SensorSpec], register: bool) -> Send:
    api = base.rstrip("/") + "/api/v1"
    if register:  # through the API: a 409 means the device or the datastream is there already
        for spec in specs:
            status, answer = _http_call(f"{api}/things", api_key, spec.thing_json())
            if status not in (201, 409):
                raise click.ClickException(f"registering {spec.key}: HTTP {status} {answer}")
            for metric in spec.metrics:
                body = {"metric": metric, "interval_seconds": spec.interval_seconds}
                status, answer = _http_call(f"{api}/things/{spec.key}/datastreams", api_key, body)
                if status not in (201, 409):
                    raise click.ClickException(f"adding {spec.key}/{metric}: HTTP {status}")

    def send(items: list[dict[str, Any]], tally: Tally) -> None:
        status, answer = _http_call(f"{api}/observations", api_key, items)
        if status == 200:
            tally.accepted += answer["accepted"]
            tally.duplicates += answer["duplicates"]
            tally.refused += answer["rejected"]
        elif status == 422:
            tally.refused += len(items)
        else:
            raise click.ClickException(f"POST {api}/observations: HTTP {status} {answer}")

    return send


class _Publisher:
    """A paho MQTT 5 client publishing each device item with QoS 1."""

    def __init__(self, url: str, prefix: str, client_id: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise click.ClickException(f"unsupported broker URL {url!r} (use mqtt://host:port)")
        self._prefix = prefix.rstrip("/")
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
        )
        if parts.username:
            self._client.username_pw_set(parts.username, parts.password)
        self._client.max_inflight_messages_set(1000)
        try:
            self._client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=30)
        except OSError as error:
            raise click.ClickException(f"cannot reach the broker {url}: {error}") from None
        self._client.loop_start()

    def send(self, items: list[dict[str, Any]], tally: Tally) -> None:
        pending = []
        for item in items:
            payload = json.dumps({"time": item["time"], "values": item["values"]})
            pending.append(self._client.publish(f"{self._prefix}/{item['thing']}", payload, qos=1))
        for info in pending:  # the broker has each one before the next chunk goes out
            info.wait_for_publish(30)
        tally.messages += len(pending)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()


@click.command("simulate")
@click.option("--mqtt", "mqtt_url", help="Publish to this broker (mqtt://host:port).")
@click.option("--http", "http_base", help="POST to this server (http://host:8000).")
@click.option("--api-key", envvar="CITYOPS_API_KEY", help="The API key for --http.")
@click.option("--direct", is_flag=True, help="Store through the ingest service (the default).")
@click.option(
    "--speed",
    type=click.FloatRange(min=1),
    default=60.0,
    show_default=True,
    help="Simulated seconds per real second.",
)
@click.option("--duration", default="1h", show_default=True, help="Simulated time: 30m, 1h, 2d.")
@click.option(
    "--start",
    "start_text",
    default="now",
    show_default=True,
    help="Simulated start: now (the run ends live) or an ISO 8601 time.",
)
@click.option(
    "--scenario", help=f"Episodes NAME[@OFFSET], comma-separated: {', '.join(SCENARIOS)}."
)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--topic-prefix", default="cityops/telemetry", show_default=True)
@click.option("--client-id", default=None, help="The MQTT client id (default: random).")
@click.option(
    "--register/--no-register",
    default=True,
    show_default=True,
    help="Register the demo sensors first (in the local store, or through --http).",
)
@pass_app
@handle_errors
def simulate(
    app: AppContext,
    mqtt_url: str | None,
    http_base: str | None,
    api_key: str | None,
    direct: bool,
    speed: float,
    duration: str,
    start_text: str,
    scenario: str | None,
    seed: int,
    topic_prefix: str,
    client_id: str | None,
    register: bool,
) -> None:
    """Send the demo city's sensors' simulated readings in (sped-up) real time until done."""
    if sum((bool(mqtt_url), bool(http_base), direct)) > 1:
        raise ValidationFailed.single("door", "one_of", "choose one of --mqtt, --http, --direct")
    if http_base and not api_key:
        raise ValidationFailed.single("api_key", "required", "--http needs --api-key")
    zone = app.settings.zone
    length = parse_duration(duration)
    scenarios = parse_scenarios(scenario)
    specs = demo_sensors()
    if register and not http_base:
        try:
            loaded = register_sensors(app.services(), operator(), specs)
        except click.ClickException as error:
            if not mqtt_url:
                raise
            # The broker's ingest may write to another store: say so, and publish anyway.
            click.echo(f"warning: demo sensors not registered locally: {error.message}", err=True)
        else:
            click.echo(
                f"demo sensors: {loaded.things} devices, {loaded.datastreams} datastreams "
                f"({loaded.things_added} and {loaded.datastreams_added} new)"
            )
    now = app.services().clock.now() if not (mqtt_url or http_base) else datetime.now(UTC)
    start = parse_start(start_text, now, length, speed, zone)
    episodes = [Episode(name, start + after) for name, after in scenarios]
    simulation = Simulation(sim_streams(specs), seed=seed, episodes=episodes, zone=zone)
    publisher: _Publisher | None = None
    if mqtt_url:
        publisher = _Publisher(
            mqtt_url, topic_prefix, client_id or f"cityops-sim-{uuid4().hex[:8]}"
        )
        send: Send = publisher.send
        door = f"MQTT {mqtt_url} {topic_prefix}/<device>"
    elif http_base:
        send, door = _http(http_base, api_key or "", specs, register), f"HTTP {http_base}"
    else:
        send, door = _direct(app), "the store"
    click.echo(
        f"simulating {len(specs)} devices from {start.astimezone(zone).isoformat()} for "
        f"{duration} at {speed:g}× into {door}"
        + "".join(f"; {e.name} at {e.start.astimezone(zone):%m-%d %H:%M}" for e in episodes)
    )
    tally = Tally()
    try:
        _run(simulation, start, start + length, speed, send, tally, zone)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
    finally:
        if publisher is not None:
            publisher.close()
    click.echo(
        f"done: {tally.readings:,} readings sent"
        + (f" in {tally.messages:,} messages" if mqtt_url else "")
        + ("" if mqtt_url else f", {tally.accepted:,} stored, {tally.duplicates:,} duplicates")
        + ("" if mqtt_url else f", {tally.refused:,} refused")
    )


def _run(
    simulation: Simulation,
    start: datetime,
    end: datetime,
    speed: float,
    send: Send,
    tally: Tally,
    zone: tzinfo,
) -> None:
    """Send window after window of simulated time, each once its end has come."""
    # About one window per real second, but between a minute and an hour of simulated time.
    window = timedelta(seconds=min(3600.0, max(60.0, speed)))
    began, shown = time.monotonic(), time.monotonic()
    moment = start
    while moment < end:
        until = min(end, moment + window)
        due = max(
            (until - start).total_seconds() / speed - (time.monotonic() - began),
            (until - datetime.now(UTC)).total_seconds(),  # never a reading from the future
        )
        if due > 0:
            time.sleep(due)
        items = list(simulation.items(moment, until, per_device=True))
        for offset in range(0, len(items), BATCH_ITEMS):
            chunk = items[offset : offset + BATCH_ITEMS]
            send(chunk, tally)
            tally.readings += sum(len(i["values"]) for i in chunk)
        moment = until
        if time.monotonic() - shown >= PROGRESS_SECONDS:
            shown = time.monotonic()
            click.echo(
                f"{until.astimezone(zone):%Y-%m-%d %H:%M} {tally.readings:,} readings sent, "
                f"{tally.refused:,} refused"
            )
