"""The MQTT door through a real Mosquitto broker, published to by a real paho client.

Each test uses topics and a shared-subscription group of its own, so tests running side by side
on one broker never take each other's messages.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit
from uuid import uuid4

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from cityops.adapters.mqtt_ingest import MqttIngestWorker, MqttOptions, clock_ms
from cityops.bootstrap import bootstrap
from cityops.kernel.clock import SystemClock
from cityops.settings import Settings
from cityops.storage import migrate
from tests.conftest import TEST_SECRET


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


class Publisher:
    """A real MQTT 5 client publishing with QoS 1 (each publish acknowledged by the broker)."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"pub-{uuid4().hex[:8]}", protocol=mqtt.MQTTv5
        )
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        self.received: list[tuple[str, bytes]] = []
        self.client.on_message = lambda _c, _u, m: self.received.append((m.topic, m.payload))

    def publish(self, topic: str, payload: object) -> None:
        data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
        self.client.publish(topic, data, qos=1).wait_for_publish(10)

    def listen(self, topic: str) -> None:
        self.client.subscribe(topic, qos=0)[0]
        time.sleep(0.2)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def publisher(mqtt_broker: str) -> Iterator[Publisher]:
    client = Publisher(mqtt_broker)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid4().hex[:10]}"


def _worker(
    services,
    url: str,
    prefix: str,
    client_id: str | None = None,
    *,
    max_wait: float = 0.05,
    max_batch_bytes: int = 4_000_000,
) -> MqttIngestWorker:
    options = MqttOptions(
        url=url,
        topics=(f"{prefix}/telemetry/#", f"{prefix}/v1.1/#"),
        group=prefix,
        client_id=client_id or f"{prefix}-w",
        error_topic=f"{prefix}/errors",
        max_wait=max_wait,
        max_batch_bytes=max_batch_bytes,
    )
    return MqttIngestWorker(
        services.ingest, services.decoder, options, clock_ms(services.clock.now)
    )


@pytest.fixture
def station(services, system):
    thing = services.devices.register_thing(system, {"key": "AQ-1"})
    pm25 = services.devices.add_datastream(system, thing.id, {"metric": "pm25"})
    services.devices.add_datastream(system, thing.id, {"metric": "pm10"})
    return pm25


def _stored(services, key: str) -> list[float]:
    with services.store.unit_of_work(read_only=True) as uow:
        stream = uow.datastreams.by_key(key)
        readings = uow.observation_reads.readings([stream.id], 0, 2**62, limit=100_000)
    return [r.value for r in readings]


def test_device_readings_sta_observations_and_csv_lines_are_stored(
    services, station, mqtt_broker, publisher, prefix, clock
):
    worker = _worker(services, mqtt_broker, prefix)
    worker.start()
    try:
        assert worker.wait_connected()
        time.sleep(0.3)  # the SUBACK
        at = [(clock.now() - timedelta(minutes=m)).isoformat() for m in range(4)]
        publisher.publish(
            f"{prefix}/telemetry/AQ-1", {"time": at[0], "values": {"pm25": 35, "pm10": 70}}
        )
        publisher.publish(
            f"{prefix}/v1.1/Datastreams({station.id})/Observations",
            {"phenomenonTime": at[1], "result": 36},
        )
        publisher.publish(f"{prefix}/telemetry/csv", f"AQ-1/pm25,{at[2]},37\n".encode())
        _wait(lambda: len(_stored(services, "AQ-1/pm25")) == 3)
        assert sorted(_stored(services, "AQ-1/pm25")) == [35, 36, 37]
        assert _stored(services, "AQ-1/pm10") == [70]
        _wait(lambda: worker.stats.acknowledged == 3)
    finally:
        worker.stop()


@pytest.mark.parametrize("capped", [False, True])
def test_payload_bytes_bound_what_one_transaction_gathers(
    services, station, mqtt_broker, publisher, prefix, clock, capped
):
    worker = _worker(
        services, mqtt_broker, prefix, max_wait=0.5, max_batch_bytes=1 if capped else 4_000_000
    )
    worker.start()
    try:
        assert worker.wait_connected()
        time.sleep(0.3)  # the SUBACK
        sent = [
            publisher.client.publish(
                f"{prefix}/telemetry/AQ-1",
                json.dumps(
                    {
                        "time": (clock.now() - timedelta(minutes=m)).isoformat(),
                        "values": {"pm25": 30 + m},
                    }
                ),
                qos=1,
            )
            for m in range(5)
        ]
        for message in sent:
            message.wait_for_publish(10)
        _wait(lambda: worker.stats.acknowledged == 5)
        assert len(_stored(services, "AQ-1/pm25")) == 5
        if capped:  # a message over the byte bound is a transaction of its own
            assert worker.stats.transactions == 5
        else:  # five quick messages share one 0.5 s gathering window
            assert worker.stats.transactions < 5
    finally:
        worker.stop()


def test_refused_readings_are_published_on_the_error_topic(
    services, station, mqtt_broker, publisher, prefix, clock
):
    publisher.listen(f"{prefix}/errors/#")
    worker = _worker(services, mqtt_broker, prefix)
    worker.start()
    try:
        assert worker.wait_connected()
        time.sleep(0.3)
        topic = f"{prefix}/telemetry/AQ-1"
        publisher.publish(topic, {"time": clock.now().isoformat(), "values": {"pm25": -1}})
        publisher.publish(topic, b"{not json")
        _wait(lambda: len(publisher.received) == 2)
        reasons = [json.loads(payload) for _, payload in publisher.received]
        assert reasons[0]["topic"] == topic
        assert reasons[0]["errors"][0]["field"] == "payload[0].values.pm25"
        assert reasons[0]["errors"][0]["rule"] == "in_range"
        assert reasons[1]["errors"][0]["rule"] == "json"
        assert _stored(services, "AQ-1/pm25") == []
    finally:
        worker.stop()


def test_two_workers_of_one_group_split_the_messages_and_store_each_once(
    services, station, mqtt_broker, publisher, prefix, clock
):
    workers = [_worker(services, mqtt_broker, prefix, f"{prefix}-{n}") for n in range(2)]
    for worker in workers:
        worker.start()
    try:
        assert all(w.wait_connected() for w in workers)
        time.sleep(0.3)
        start = clock.now() - timedelta(hours=2)
        for n in range(200):
            at = (start + timedelta(seconds=n)).isoformat()
            publisher.publish(f"{prefix}/telemetry/AQ-1", {"time": at, "values": {"pm25": n}})
        _wait(lambda: sum(w.stats.messages for w in workers) == 200)
        assert sorted(_stored(services, "AQ-1/pm25")) == list(range(200))
        assert all(w.stats.messages > 0 for w in workers)  # the broker shared them out
    finally:
        for worker in workers:
            worker.stop()


# --------------------------------------------------------------------------- kill -9


def _count(url: str, data_dir: Path) -> int:
    services = bootstrap(Settings(mode="dev", database_url=url, data_dir=data_dir))
    try:
        with services.store.unit_of_work(read_only=True) as uow:
            return uow.observation_reads.count()
    finally:
        services.close()


def _start_worker(url: str, data_dir: Path, broker: str, prefix: str, log: Path):
    env = {
        **os.environ,
        "CITYOPS_MODE": "dev",
        "CITYOPS_SECRET_KEY": TEST_SECRET,
        "CITYOPS_DATABASE_URL": url,
        "CITYOPS_DATA_DIR": str(data_dir),
        "CITYOPS_MQTT_TOPICS": f"{prefix}/telemetry/#",
        "CITYOPS_MQTT_GROUP": prefix,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "cityops", "ts", "mqtt", "--url", broker, "--client-id", prefix],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
    )


def test_a_worker_killed_mid_stream_loses_nothing_it_acknowledged(
    mqtt_broker, publisher, prefix, tmp_path
):
    url, data_dir = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "var"
    setup = bootstrap(Settings(mode="dev", database_url=url, data_dir=data_dir))
    migrate.upgrade(setup.store.engine)
    from cityops.auth.model import Principal

    system = Principal.system("test")
    thing = setup.devices.register_thing(system, {"key": "K-1"})
    setup.devices.add_datastream(system, thing.id, {"metric": "pm25"})
    setup.close()

    log = tmp_path / "worker.log"
    worker = _start_worker(url, data_dir, mqtt_broker, prefix, log)
    _wait(lambda: "subscribed to" in log.read_text(errors="replace"), 30)
    time.sleep(0.3)
    total = 3000
    start = SystemClock().now() - timedelta(days=1)
    stop_publishing = threading.Event()

    def publish_all() -> None:
        for n in range(total):
            at = (start + timedelta(seconds=n)).isoformat()
            publisher.publish(f"{prefix}/telemetry/K-1", {"time": at, "values": {"pm25": n % 500}})
        stop_publishing.set()

    thread = threading.Thread(target=publish_all)
    thread.start()
    _wait(lambda: _count(url, data_dir) > 200, 60)
    worker.send_signal(signal.SIGKILL)  # mid-stream: no chance to store or acknowledge more
    worker.wait(10)
    killed_at = _count(url, data_dir)
    thread.join(120)
    assert stop_publishing.is_set()
    assert killed_at < total, "the worker was killed after it had stored everything"

    restarted = _start_worker(url, data_dir, mqtt_broker, prefix, log)
    try:
        _wait(lambda: _count(url, data_dir) == total, 90)
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(20)
    assert _count(url, data_dir) == total  # every reading the broker accepted, each once
