"""The MQTT door's own connection against brokers started for each test: keep-alive, a broker
that restarts, and user names and passwords (refused, then accepted).

Each test runs a Mosquitto of its own on a free loopback port, so it can stop and start it, and
give it a password file, without touching the session's broker.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cityops.adapters.mqtt_session import MqttSession, SessionOptions
from tests.conftest import skip_or_fail
from tests.e2e.test_mqtt_ingest import Publisher


def _wait(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    """A Mosquitto process of the test's own, on a fixed port across restarts."""

    def __init__(self, workdir: Path, binary: str, password: tuple[str, str] | None) -> None:
        self.workdir = workdir
        self.binary = binary
        self.port = _free_port()
        lines = [f"listener {self.port} 127.0.0.1", "persistence false"]
        lines.append(f"log_dest file {workdir / 'mosquitto.log'}")
        if password is None:
            lines.append("allow_anonymous true")
        else:
            passwords = workdir / "passwords"
            subprocess.run(
                ["mosquitto_passwd", "-c", "-b", str(passwords), *password],
                check=True,
                capture_output=True,
            )
            lines += ["allow_anonymous false", f"password_file {passwords}"]
        if os.geteuid() == 0:  # else it drops to its own user, who cannot read pytest's tmp
            lines.append("user root")
        (workdir / "mosquitto.conf").write_text("\n".join(lines) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "-c", str(self.workdir / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not _wait(self._listening, 10):
            self.stop()
            raise AssertionError("the broker did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def _listening(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), 0.2).close()
            return True
        except OSError:
            return False


@pytest.fixture
def broker_factory(tmp_path: Path) -> Iterator[Callable[..., Broker]]:
    binary = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )
    if binary is None or shutil.which("mosquitto_passwd") is None:
        skip_or_fail("these MQTT tests need Mosquitto (apt-get install mosquitto)")
        raise AssertionError("unreachable")
    started: list[Broker] = []

    def make(password: tuple[str, str] | None = None) -> Broker:
        workdir = tmp_path / f"broker{len(started)}"
        workdir.mkdir()
        broker = Broker(workdir, binary, password)
        broker.start()
        started.append(broker)
        return broker

    yield make
    for broker in started:
        broker.stop()


def _session(url: str, **options: object) -> MqttSession:
    return MqttSession(
        SessionOptions(
            url=url,
            client_id="session-test",
            topic_filters=("$share/g/s/#",),
            min_delay=0.2,
            max_delay=0.5,
            **options,  # type: ignore[arg-type]
        )
    )


def _receive_one(session: MqttSession) -> list[tuple[str, bytes]]:
    chunk = session.receive(10.0)
    assert chunk is not None, "nothing arrived"
    session.ack(chunk)
    return [(d.topic, d.payload) for d in chunk]


def test_a_quiet_connection_is_kept_alive_by_pings(broker_factory) -> None:
    broker = broker_factory()
    session = _session(broker.url, keepalive=1)  # the broker drops it after 1.5 s of silence
    session.start()
    publisher = Publisher(broker.url)
    try:
        assert session.connected.wait(10)
        time.sleep(3.5)
        publisher.publish("s/quiet", b"still here")
        assert _receive_one(session) == [("s/quiet", b"still here")]
        assert session.connections == 1
    finally:
        publisher.close()
        session.close()


def test_the_session_reconnects_and_subscribes_again_after_the_broker_restarts(
    broker_factory, caplog
) -> None:
    broker = broker_factory()
    session = _session(broker.url)
    session.start()
    try:
        assert session.connected.wait(10)
        broker.stop()
        assert _wait(lambda: not session.connected.is_set(), 10)
        with caplog.at_level(logging.WARNING, "cityops.adapters.mqtt_session"):
            time.sleep(0.5)  # a reconnect or two fails while the broker is away
            broker.start()
            assert session.connected.wait(15)
        assert session.connections == 2
        assert "lost" in caplog.text
        publisher = Publisher(broker.url)
        try:
            publisher.publish("s/after", b"back")
            assert _receive_one(session) == [("s/after", b"back")]
        finally:
            publisher.close()
    finally:
        session.close()


def test_a_wrong_password_is_refused_with_the_brokers_reason_and_the_right_one_connects(
    broker_factory, caplog
) -> None:
    broker = broker_factory(password=("ingest", "s3cret:/@"))
    wrong = _session(broker.url.replace("mqtt://", "mqtt://ingest:nope@"))
    with caplog.at_level(logging.WARNING, "cityops.adapters.mqtt_session"):
        wrong.start()
        assert _wait(lambda: "refused" in caplog.text, 10)
    wrong.close()
    assert not wrong.connected.is_set()
    assert "0x86 bad user name or password" in caplog.text or "0x87 not authorized" in caplog.text
    right = _session(broker.url.replace("mqtt://", "mqtt://ingest:s3cret%3A%2F%40@"))
    right.start()
    try:
        assert right.connected.wait(10)
    finally:
        right.close()


def test_messages_kept_for_the_session_while_away_all_arrive_on_reconnect(broker_factory) -> None:
    broker = broker_factory()
    first = _session(broker.url)
    first.start()
    assert first.connected.wait(10)
    first.close()  # a normal DISCONNECT: the broker keeps the session and queues for it
    publisher = Publisher(broker.url)
    try:
        for n in range(300):
            publisher.publish(f"s/away/{n}", str(n).encode())
    finally:
        publisher.close()
    again = _session(broker.url)  # same client id: the broker sends the queue behind CONNACK
    again.start()
    received: list[bytes] = []
    try:
        while len(received) < 300:
            chunk = again.receive(10.0)
            assert chunk is not None, f"only {len(received)} of 300 arrived"
            again.ack(chunk)
            received += [d.payload for d in chunk]
    finally:
        again.close()
    assert received == [str(n).encode() for n in range(300)]
