"""Load-generation helpers for ``benchmarks/ingest.py``: the fleet, the readings, the publisher.

Nothing here times cityops. The fleet is registered through the public services (the demo
city's divisions first, so devices are placed on real grids and can be pooled by division); the
readings move forward in time in ticks (every datastream once per tick); HTTP bodies and MQTT
payloads are pre-serialised templates in which only the time is replaced, so the load
generator costs little next to what it measures. The MQTT publisher runs in a process of its
own (``multiprocessing`` spawn) and reports what the broker acknowledged, and when.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from cityops.auth.model import Principal
from cityops.sensing.model import ObservationBatch

# A city micro-station: the six GB 3095 pollutants, noise (energy mean), weather, wind
# direction (vector mean): every rollup rule but the counters is exercised.
METRICS: tuple[str, ...] = (
    "pm25",
    "pm10",
    "so2",
    "no2",
    "o3",
    "co",
    "noise_laeq",
    "temperature",
    "humidity",
    "wind_direction",
)
# Plausible values (canonical units), well inside each metric's valid range.
VALUE_RANGES: dict[str, tuple[float, float]] = {
    "pm25": (5.0, 150.0),
    "pm10": (10.0, 250.0),
    "so2": (2.0, 40.0),
    "no2": (5.0, 80.0),
    "o3": (10.0, 200.0),
    "co": (0.2, 2.5),
    "noise_laeq": (40.0, 80.0),
    "temperature": (-5.0, 35.0),
    "humidity": (20.0, 95.0),
    "wind_direction": (0.0, 359.0),
}
PLACEHOLDER = b"@TIME@"  # replaced by the tick's ISO 8601 time in every template
TOPIC_PREFIX = "cityops/telemetry"


@dataclass
class Fleet:
    """The registered devices and datastreams, in registration order."""

    thing_keys: list[str]
    stream_keys: list[str]  # thing-major: thing 0's metrics, then thing 1's …
    stream_ids: list[int]
    stream_metrics: list[str]
    divisions: dict[str, int] = field(default_factory=dict)  # street code → things placed

    @property
    def streams(self) -> int:
        """How many datastreams (readings per tick)."""
        return len(self.stream_keys)


@dataclass(frozen=True)
class Ticks:
    """Times of the readings: tick k is at ``start_ms + k * step_ms`` (UTC epoch ms)."""

    start_ms: int
    step_ms: int
    zone: str

    def ms(self, tick: int) -> int:
        """Return tick ``tick``'s time in epoch ms."""
        return self.start_ms + tick * self.step_ms

    def iso(self, tick: int) -> str:
        """Return tick ``tick``'s time as ISO 8601 with the city's offset (what devices send)."""
        moment = datetime.fromtimestamp(self.ms(tick) / 1000, ZoneInfo(self.zone))
        return moment.isoformat(timespec="seconds")


def build_fleet(services: Any, devices: int, seed: int = 7) -> Fleet:
    """Import the demo city's divisions and register ``devices`` things × ``METRICS``.

    Every registration goes through ``services.devices`` (placed on the grid, audited).
    """
    from cityops.demo.city import generate

    system = Principal.system("bench")
    city = generate()
    report = services.divisions.import_divisions(system, city.divisions())
    if not report.written:
        raise RuntimeError(f"the demo city's divisions did not import: {report.issues[:3]}")
    rng = random.Random(seed)
    grids = list(city.grids)
    fleet = Fleet([], [], [], [])
    for i in range(devices):
        point = rng.choice(grids).geometry.representative_point()
        thing = services.devices.register_thing(
            system, {"key": f"ST-{i:04d}", "name": f"微站 {i:04d}", "lon": point.x, "lat": point.y}
        )
        fleet.thing_keys.append(thing.key)
        street = thing.placement.street_code or "-"
        fleet.divisions[street] = fleet.divisions.get(street, 0) + 1
        for metric in METRICS:
            stream = services.devices.add_datastream(
                system, thing.id, {"metric": metric, "interval_seconds": 60}
            )
            fleet.stream_keys.append(stream.key)
            fleet.stream_ids.append(stream.id)
            fleet.stream_metrics.append(metric)
    return fleet


def value_sets(fleet: Fleet, variants: int, seed: int = 11) -> list[list[float]]:
    """Return ``variants`` lists of one plausible value per datastream."""
    rng = random.Random(seed)
    found = []
    for _ in range(variants):
        values = []
        for metric in fleet.stream_metrics:
            low, high = VALUE_RANGES[metric]
            values.append(round(rng.uniform(low, high), 2))
        found.append(values)
    return found


def http_templates(fleet: Fleet, values: Sequence[Sequence[float]]) -> list[bytes]:
    """Return JSON array bodies, one item per datastream (our item shape), time = PLACEHOLDER."""
    marker = PLACEHOLDER.decode()
    return [
        orjson.dumps(
            [
                {"datastream": key, "time": marker, "value": value}
                for key, value in zip(fleet.stream_keys, variant, strict=True)
            ]
        )
        for variant in values
    ]


def device_messages(
    fleet: Fleet, values: Sequence[Sequence[float]]
) -> list[list[tuple[str, bytes, int]]]:
    """Return per value set: (topic, payload template, readings) of each device's message."""
    marker = PLACEHOLDER.decode()
    per = len(METRICS)
    found = []
    for variant in values:
        messages = []
        for n, thing in enumerate(fleet.thing_keys):
            readings = dict(zip(METRICS, variant[n * per : (n + 1) * per], strict=True))
            payload = orjson.dumps({"time": marker, "values": readings})
            messages.append((f"{TOPIC_PREFIX}/{thing}", payload, per))
        found.append(messages)
    return found


def batched_messages(
    fleet: Fleet, values: Sequence[Sequence[float]], per_message: int
) -> list[list[tuple[str, bytes, int]]]:
    """Return per value set: messages of ``per_message`` items each (a gateway's batches)."""
    marker = PLACEHOLDER.decode()
    found = []
    for variant in values:
        messages = []
        for n, first in enumerate(range(0, fleet.streams, per_message)):
            keys = fleet.stream_keys[first : first + per_message]
            items = [
                {"datastream": key, "time": marker, "value": value}
                for key, value in zip(keys, variant[first : first + per_message], strict=True)
            ]
            messages.append((f"{TOPIC_PREFIX}/GW-{n:03d}", orjson.dumps(items), len(items)))
        found.append(messages)
    return found


def batch_of_ticks(
    fleet: Fleet, ticks: Ticks, first: int, count: int, values: Sequence[Sequence[float]]
) -> ObservationBatch:
    """Return checked readings of ``count`` ticks from ``first`` (for the store's own path)."""
    batch = ObservationBatch()
    n = fleet.streams
    for tick in range(first, first + count):
        millis = ticks.ms(tick)
        batch.streams.extend(fleet.stream_ids)
        batch.times.extend([millis] * n)
        batch.values.extend(values[tick % len(values)])
        batch.qualities.extend([0] * n)
    return batch


# --------------------------------------------------------------------------- MQTT publisher


@dataclass
class PublishSpec:
    """What one publisher process sends (picklable)."""

    url: str
    client_id: str
    messages: list[list[tuple[str, bytes, int]]]  # per value set, the messages of one tick
    ticks: Ticks
    first_tick: int
    seconds: float
    rate: float | None = None  # readings/s; None: as fast as the broker acknowledges
    window: int = 1000  # unacknowledged messages allowed in flight
    max_ticks: int | None = None  # stop after this many ticks (a warm-up)
    backlog: int | None = None  # readings sent but not yet stored that make it wait
    share: int = 1  # publishers sharing the load (each counts its share of ``stored``)


def publish(spec: PublishSpec, ready: Any, go: Any, stored: Any, results: Any) -> None:
    """Publish with QoS 1 for ``spec.seconds``; put a result dict on ``results``.

    Puts the client id on the queue ``ready`` once connected, then waits on the event ``go``.
    Progress samples are (wall time, readings the broker acknowledged) every 0.1 s: the
    benchmark matches them with the store's count. ``stored`` (a shared integer the benchmark
    keeps up to date, readings stored by all workers) bounds the backlog: while this publisher's
    share of the readings sent but not stored exceeds ``spec.backlog``, it waits, so a run
    measures what the store sustains instead of filling the broker's queue.
    """
    from urllib.parse import urlsplit

    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    parts = urlsplit(spec.url)
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=spec.client_id, protocol=mqtt.MQTTv5
    )
    client.max_inflight_messages_set(spec.window)
    client.max_queued_messages_set(0)
    done: deque[int] = deque()  # mids the broker acknowledged (appended by paho's thread)
    sizes: dict[int, int] = {}  # mid → readings, read and written by this thread only
    acked = [0, 0]  # messages, readings (readings summed by this thread from ``done``)

    def on_publish(_c: Any, _u: Any, mid: int, _reason: Any, _props: Any) -> None:
        done.append(mid)

    def drain() -> int:
        while done:
            acked[1] += sizes.pop(done.popleft(), 0)
            acked[0] += 1
        return acked[1]

    client.on_publish = on_publish
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, keepalive=60)
    client.loop_start()
    ready.put(spec.client_id)
    go.wait(300)
    sent = readings = 0
    samples: list[tuple[float, int]] = []
    began_wall, began, cpu = time.time(), time.perf_counter(), time.process_time()
    deadline = began + spec.seconds
    next_sample = began
    tick = spec.first_tick
    stop = False
    while not stop:
        iso = spec.ticks.iso(tick).encode()
        for topic, template, n in spec.messages[tick % len(spec.messages)]:
            now = time.perf_counter()
            if now >= next_sample:
                samples.append((time.time(), drain()))
                next_sample = now + 0.1
                if now >= deadline:
                    stop = True
                    break
            if spec.rate is not None:  # paced: readings due by now
                due = began + readings / spec.rate
                if due > now:
                    time.sleep(due - now)
            while sent - acked[0] - len(done) >= spec.window:
                time.sleep(0.0005)
            if spec.backlog is not None:
                while readings - stored.value // spec.share > spec.backlog:
                    time.sleep(0.002)
                    if time.perf_counter() >= next_sample:
                        samples.append((time.time(), drain()))
                        next_sample = time.perf_counter() + 0.1
            info = client.publish(topic, template.replace(PLACEHOLDER, iso), qos=1)
            sizes[info.mid] = n
            sent += 1
            readings += n
        else:
            tick += 1
            if spec.max_ticks is not None and tick - spec.first_tick >= spec.max_ticks:
                stop = True
    published_wall = time.time()
    give_up = time.perf_counter() + 120
    while drain() < readings and time.perf_counter() < give_up:
        time.sleep(0.01)
        if time.perf_counter() >= next_sample:
            samples.append((time.time(), acked[1]))
            next_sample = time.perf_counter() + 0.1
    samples.append((time.time(), drain()))
    acked_wall = time.time()
    client.disconnect()
    client.loop_stop()
    results.put(
        {
            "client_id": spec.client_id,
            "messages": sent,
            "readings": readings,
            "acked_messages": acked[0],
            "acked_readings": acked[1],
            "last_tick": tick,
            "began": began_wall,
            "published": published_wall,
            "acked": acked_wall,
            "cpu": time.process_time() - cpu,
            "samples": samples,
        }
    )
