"""What receiving an MQTT message costs the ingest worker, with no store behind it.

A pipelined QoS 1 publisher (:mod:`mqtt_lean_publisher`'s packets) sends ``--messages`` device
messages (10 readings each, as ``benchmarks/ingest.py`` does) to a real Mosquitto; a receiver in a
process of its own takes them through a shared QoS 1 subscription, gathers them into
transactions as the worker does (up to 2,000 messages or 0.2 s) and acknowledges each
transaction's messages. The figure is the receiver's CPU per message (``time.process_time``),
for:

* ``cityops`` — the worker's own client (:class:`cityops.adapters.mqtt_session.MqttSession`);
* ``paho`` — paho-mqtt 2 as the worker used it until 2026-11-23 (``manual_ack``, ``on_message``
  putting each message on a ``queue.Queue``, ``client.ack`` per message after the transaction);
* ``floor`` — the raw limit in the same run: a socket subscribed with QoS 0 that only receives
  the bytes (no parsing, no acknowledgements).

    .venv/bin/python benchmarks/mqtt_receive.py                 # starts a throwaway broker
    .venv/bin/python benchmarks/mqtt_receive.py --url mqtt://127.0.0.1:1883 --messages 400000
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import queue
import select
import socket
import struct
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mqtt_lean_publisher import _connect, _text, _varint

TOPIC_PREFIX = "bench-receive"
PAYLOAD = (
    b'{"time":"2026-11-23T10:00:00Z","values":{'
    + b",".join(b'"m%d":%d.5' % (i, i * 3) for i in range(10))
    + b"}}"
)
TRANSACTION, MAX_WAIT = 2_000, 0.2


def _cityops(url: str, total: int, ready: Any) -> float:
    from cityops.adapters.mqtt_session import MqttSession, SessionOptions

    session = MqttSession(
        SessionOptions(
            url, "bench-receive-cityops", (f"$share/cityops/{TOPIC_PREFIX}/#",), session_expiry=0
        )
    )
    session.start()
    session.connected.wait(10)
    ready.put("cityops")
    began, got = time.process_time(), 0
    while got < total:
        taken = session.receive(30.0) or []
        deadline = time.monotonic() + MAX_WAIT
        while len(taken) < TRANSACTION and (left := deadline - time.monotonic()) > 0:
            more = session.receive(left)
            if more is None:
                break
            taken += more
        session.ack(taken)
        got += len(taken)
    cpu = time.process_time() - began
    session.close()
    return cpu


def _paho(url: str, total: int, ready: Any) -> float:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties
    from paho.mqtt.subscribeoptions import SubscribeOptions

    parts = urlsplit(url)
    inbox: queue.Queue[tuple[str, bytes, int, int]] = queue.Queue(maxsize=TRANSACTION)
    subscribed = threading.Event()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id="bench-receive-paho",
        protocol=mqtt.MQTTv5,
        manual_ack=True,
    )
    client.on_subscribe = lambda *_: subscribed.set()
    client.on_message = lambda _c, _u, m: inbox.put((m.topic, bytes(m.payload), m.mid, m.qos))
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.ReceiveMaximum = TRANSACTION
    client.connect(parts.hostname or "127.0.0.1", parts.port or 1883, properties=properties)
    client.subscribe(f"$share/paho/{TOPIC_PREFIX}/#", options=SubscribeOptions(qos=1))
    client.loop_start()
    subscribed.wait(10)
    ready.put("paho")
    began, got = time.process_time(), 0
    while got < total:
        taken = [inbox.get(timeout=30.0)]
        deadline = time.monotonic() + MAX_WAIT
        while len(taken) < TRANSACTION and (left := deadline - time.monotonic()) > 0:
            try:
                taken.append(inbox.get(timeout=left))
            except queue.Empty:
                break
        for _topic, _payload, mid, qos in taken:
            client.ack(mid, qos)
        got += len(taken)
    cpu = time.process_time() - began
    client.disconnect()
    client.loop_stop()
    return cpu


def _floor(url: str, total: int, ready: Any) -> float:
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883))
    sock.sendall(_connect("bench-receive-floor"))
    sock.recv(4096)  # CONNACK
    topic_filter = _text(f"$share/floor/{TOPIC_PREFIX}/#")
    body = struct.pack("!HB", 1, 0) + topic_filter + b"\x00"  # QoS 0
    sock.sendall(b"\x82" + _varint(len(body)) + body)
    sock.recv(4096)  # SUBACK
    ready.put("floor")
    topic = _text(f"{TOPIC_PREFIX}/telemetry/AQ-0000")  # every topic has this length
    size = 1 + len(_varint(len(topic) + 1 + len(PAYLOAD))) + len(topic) + 1 + len(PAYLOAD)
    began, expected, got = time.process_time(), total * size, 0
    while got < expected:
        ready_to_read, _, _ = select.select([sock], [], [], 30.0)
        if not ready_to_read:
            break
        got += len(sock.recv(262_144))
    cpu = time.process_time() - began
    sock.close()
    return cpu


def _receive(kind: str, url: str, total: int, ready: Any, results: Any) -> None:
    began = time.perf_counter()
    cpu = {"cityops": _cityops, "paho": _paho, "floor": _floor}[kind](url, total, ready)
    results.put((kind, cpu, time.perf_counter() - began))


def _publish(url: str, total: int) -> float:
    """Publish ``total`` device messages with QoS 1, at most 1,000 unacknowledged; return secs."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883))
    sock.sendall(_connect("bench-receive-publisher"))
    sock.recv(4096)
    sock.setblocking(False)
    began = time.perf_counter()
    sent = acked = 0
    pending = bytearray()
    while acked < total:
        while sent < total and sent - acked < 1_000 and len(pending) < 65_536:
            topic = _text(f"{TOPIC_PREFIX}/telemetry/AQ-{sent % 1000:04d}")
            header = struct.pack("!HB", sent % 65_535 + 1, 0)
            pending += b"\x32" + _varint(len(topic) + 3 + len(PAYLOAD)) + topic + header + PAYLOAD
            sent += 1
        if pending:
            with contextlib.suppress(BlockingIOError):
                del pending[: sock.send(pending)]
        select.select([sock], [], [], 0.01)
        with contextlib.suppress(BlockingIOError):
            acked += len(sock.recv(262_144)) // 4  # PUBACK, success: four bytes
    return time.perf_counter() - began


def _broker(workdir: Path) -> str:
    script = Path(__file__).resolve().parents[1] / "scripts" / "mqtt-throwaway.sh"
    done = subprocess.run(["bash", str(script), "start", str(workdir)], capture_output=True)
    return done.stdout.decode().strip()


def main() -> None:
    """Run each receiver in turn against the same broker and print its CPU per message."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", help="a broker (default: a throwaway Mosquitto)")
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--kinds", default="floor,cityops,paho")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-receive-"))
    url = args.url or _broker(workdir)
    context = multiprocessing.get_context("spawn")
    print(f"broker {url}; {args.messages:,} device messages of {len(PAYLOAD)} payload bytes")
    print(f"{'receiver':<10} {'CPU s':>8} {'µs/message':>11} {'wall s':>8}")
    try:
        for kind in args.kinds.split(","):
            ready, results = context.Queue(), context.Queue()
            receiver = context.Process(
                target=_receive, args=(kind, url, args.messages, ready, results)
            )
            receiver.start()
            ready.get(timeout=60)
            time.sleep(0.3)
            _publish(url, args.messages)
            name, cpu, wall = results.get(timeout=300)
            receiver.join(30)
            print(f"{name:<10} {cpu:>8.2f} {cpu / args.messages * 1e6:>11.1f} {wall:>8.2f}")
    finally:
        if not args.url:
            script = Path(__file__).resolve().parents[1] / "scripts" / "mqtt-throwaway.sh"
            subprocess.run(["bash", str(script), "stop", str(workdir)], check=False)


if __name__ == "__main__":
    main()
