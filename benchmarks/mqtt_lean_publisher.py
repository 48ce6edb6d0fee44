"""A lean MQTT 5 QoS 1 publisher: the ingest benchmark's load generator for the MQTT part.

The issue counts the load generator's CPU on the same two cores. paho-mqtt spends about 84 µs
of CPU per message (a thread, a lock, a wake-up and a socket write each), a third of the machine
at 150,000 messages in 20 s, so the paho publisher measured paho as much as cityops. Devices do
not run on the server; this publisher speaks the same protocol over TCP to the same broker with
little of that cost: one connection, packets encoded ahead from templates, many PUBLISHes per
``send``, PUBACKs read in bulk, a window of unacknowledged messages (as paho's
``max_inflight_messages``). Every message is still a QoS 1 PUBLISH that the broker acknowledges
only once it holds it, and the readings count only when acknowledged.

Same contract as :func:`ingest_data.publish` (``--publisher paho`` keeps that one).
"""

from __future__ import annotations

import select
import socket
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from ingest_data import PLACEHOLDER, PublishSpec

CONNECT, CONNACK, PUBLISH_QOS1, PUBACK, DISCONNECT = 0x10, 0x20, 0x32, 0x40, 0xE0
SEND_EVERY = 64  # messages gathered into one send


def _varint(n: int) -> bytes:
    """Return MQTT's variable byte integer."""
    out = bytearray()
    while True:
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _text(value: str) -> bytes:
    raw = value.encode()
    return struct.pack("!H", len(raw)) + raw


def _connect(client_id: str) -> bytes:
    """CONNECT, MQTT 5, clean start, keep-alive 60 s, no properties."""
    body = _text("MQTT") + bytes([5, 0x02]) + struct.pack("!H", 60) + b"\x00" + _text(client_id)
    return bytes([CONNECT]) + _varint(len(body)) + body


class _Packets:
    """Reads whole packets from the socket's bytes: (type, body)."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self.buffer += data
        found = []
        position = 0
        buffer = self.buffer
        while True:
            if len(buffer) - position < 2:
                break
            length, shift, cursor = 0, 0, position + 1
            while cursor < len(buffer):
                byte = buffer[cursor]
                length |= (byte & 0x7F) << shift
                shift += 7
                cursor += 1
                if not byte & 0x80:
                    break
            else:
                break
            if len(buffer) - cursor < length:
                break
            found.append((buffer[position] & 0xF0, bytes(buffer[cursor : cursor + length])))
            position = cursor + length
        del buffer[:position]
        return found


def publish(spec: PublishSpec, ready: Any, go: Any, stored: Any, results: Any) -> None:
    """Publish with QoS 1 for ``spec.seconds``; put a result dict on ``results``."""
    parts = urlsplit(spec.url)
    sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    packets = _Packets()
    sock.sendall(_connect(spec.client_id))
    while True:
        got = packets.feed(sock.recv(4096))
        if got:
            kind, body = got[0]
            if kind != CONNACK or body[1] != 0:
                raise RuntimeError(f"broker refused the connection: {kind:#x} {body!r}")
            break
    sock.setblocking(False)
    sizes: dict[int, int] = {}  # packet id → readings, until acknowledged
    acked = [0, 0]  # messages, readings

    def drain(wait: float = 0.0) -> int:
        if wait:
            select.select([sock], [], [], wait)
        while True:
            try:
                data = sock.recv(262_144)
            except BlockingIOError:
                return acked[1]
            if not data:
                raise RuntimeError("the broker closed the connection")
            for kind, body in packets.feed(data):
                if kind == PUBACK:
                    acked[1] += sizes.pop(struct.unpack_from("!H", body)[0], 0)
                    acked[0] += 1

    # Each (topic, template) as the PUBLISH's fixed parts: the payload differs by its time only.
    encoded = [
        [(_text(topic), template.split(PLACEHOLDER), n) for topic, template, n in variant]
        for variant in spec.messages
    ]
    ready.put(spec.client_id)
    go.wait(300)
    sent = readings = 0
    next_id = 1
    pending = bytearray()
    samples: list[tuple[float, int]] = []
    began_wall, began, cpu = time.time(), time.perf_counter(), time.process_time()
    deadline = began + spec.seconds
    next_sample = began
    tick = spec.first_tick
    stop = False

    def flush() -> None:
        data = bytes(pending)
        pending.clear()
        view = memoryview(data)
        while view:
            try:
                view = view[sock.send(view) :]
            except BlockingIOError:
                drain(0.001)  # the broker reads as we read its acknowledgements

    while not stop:
        iso = spec.ticks.iso(tick).encode()
        for topic, pieces, n in encoded[tick % len(encoded)]:
            now = time.perf_counter()
            if now >= next_sample:
                flush()
                samples.append((time.time(), drain()))
                next_sample = now + 0.1
                if now >= deadline:
                    stop = True
                    break
            if spec.rate is not None:  # paced: readings due by now
                due = began + readings / spec.rate
                if due > now:
                    flush()
                    time.sleep(due - now)
            if sent - acked[0] >= spec.window:
                flush()
                while sent - acked[0] >= spec.window:
                    drain(0.01)
            if spec.backlog is not None:
                while readings - stored.value // spec.share > spec.backlog:
                    flush()
                    drain(0.002)
                    if time.perf_counter() >= next_sample:
                        samples.append((time.time(), acked[1]))
                        next_sample = time.perf_counter() + 0.1
            payload = iso.join(pieces)
            while next_id in sizes:  # an id still unacknowledged is not reused
                next_id = next_id % 65_535 + 1
            packet_id = next_id
            next_id = next_id % 65_535 + 1
            length = len(topic) + 3 + len(payload)
            pending += bytes([PUBLISH_QOS1]) + _varint(length) + topic
            pending += struct.pack("!HB", packet_id, 0) + payload
            sizes[packet_id] = n
            sent += 1
            readings += n
            if sent % SEND_EVERY == 0:
                flush()
                drain()
        else:
            tick += 1
            if spec.max_ticks is not None and tick - spec.first_tick >= spec.max_ticks:
                stop = True
    flush()
    published_wall = time.time()
    give_up = time.perf_counter() + 120
    while drain(0.01) < readings and time.perf_counter() < give_up:
        if time.perf_counter() >= next_sample:
            samples.append((time.time(), acked[1]))
            next_sample = time.perf_counter() + 0.1
    samples.append((time.time(), drain()))
    acked_wall = time.time()
    sock.setblocking(True)
    sock.sendall(bytes([DISCONNECT, 0]))
    sock.close()
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
