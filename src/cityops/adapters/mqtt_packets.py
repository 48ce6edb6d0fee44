"""MQTT 5 packets for the ingest worker: the few it sends, and a reader for what a broker sends.

Only what a subscribing ingest worker needs (MQTT 5.0, OASIS Standard, 7 March 2019): CONNECT,
SUBSCRIBE, PUBACK, PINGREQ, DISCONNECT and QoS 0 PUBLISH out; CONNACK, SUBACK, PUBLISH, PINGRESP
and DISCONNECT in. Pure functions over bytes, no sockets: :mod:`cityops.adapters.mqtt_session`
does the I/O. The reader takes a byte stream cut anywhere and yields whole packets, many per
``feed`` — one ``recv`` of 256 KiB holds hundreds of PUBLISH packets, which is what makes this
cheaper than a general client that reads a packet with three or four system calls.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NamedTuple

CONNECT, CONNACK, PUBLISH, PUBACK = 0x10, 0x20, 0x30, 0x40
SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = 0x80, 0x90, 0xC0, 0xD0, 0xE0
MAX_REMAINING_LENGTH = 268_435_455  # the largest a four-byte variable integer holds

# Property identifiers (§2.2.2.2) grouped by how their values are encoded, to skip or read them.
_BYTE_PROPERTIES = frozenset({0x01, 0x17, 0x19, 0x24, 0x25, 0x28, 0x29, 0x2A})
_TWO_BYTE_PROPERTIES = frozenset({0x13, 0x21, 0x22, 0x23})
_FOUR_BYTE_PROPERTIES = frozenset({0x02, 0x11, 0x18, 0x27})
_VARINT_PROPERTIES = frozenset({0x0B})
_TEXT_PROPERTIES = frozenset({0x03, 0x08, 0x12, 0x15, 0x1A, 0x1C, 0x1F, 0x09, 0x16})
_PAIR_PROPERTIES = frozenset({0x26})
SESSION_EXPIRY, RECEIVE_MAXIMUM, SERVER_KEEP_ALIVE, TOPIC_ALIAS = 0x11, 0x21, 0x13, 0x23
REASON_STRING = 0x1F

# CONNACK and DISCONNECT reason codes a person may meet (§3.2.2.2, §3.14.2.1).
REASONS = {
    0x00: "success",
    0x04: "disconnect with will message",
    0x80: "unspecified error",
    0x81: "malformed packet",
    0x82: "protocol error",
    0x83: "implementation specific error",
    0x84: "unsupported protocol version",
    0x85: "client identifier not valid",
    0x86: "bad user name or password",
    0x87: "not authorized",
    0x88: "server unavailable",
    0x89: "server busy",
    0x8A: "banned",
    0x8B: "server shutting down",
    0x8D: "keep alive timeout",
    0x8E: "session taken over",
    0x8F: "topic filter invalid",
    0x90: "topic name invalid",
    0x93: "receive maximum exceeded",
    0x95: "packet too large",
    0x97: "quota exceeded",
    0x9C: "use another server",
    0x9D: "server moved",
    0x9E: "shared subscriptions not supported",
    0x9F: "connection rate exceeded",
    0xA2: "wildcard subscriptions not supported",
}


class ProtocolError(Exception):
    """The broker sent something MQTT 5 does not allow here (the connection is dropped)."""


def reason_text(code: int) -> str:
    """Return a reason code as ``0x87 not authorized``."""
    return f"{code:#04x} {REASONS.get(code, 'reason')}"


def varint(value: int) -> bytes:
    """Encode a variable byte integer (§1.5.5)."""
    if not 0 <= value <= MAX_REMAINING_LENGTH:
        raise ValueError(f"variable byte integer out of range: {value}")
    out = bytearray()
    while True:
        value, byte = divmod(value, 128)
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_varint(data: bytes | bytearray, at: int) -> tuple[int, int]:
    """Decode a variable byte integer at ``at``: (value, position after it)."""
    value = shift = 0
    for cursor in range(at, min(at + 4, len(data))):
        byte = data[cursor]
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, cursor + 1
        shift += 7
    raise ProtocolError("malformed variable byte integer")


def _text(value: str) -> bytes:
    raw = value.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise ValueError("an MQTT string holds at most 65,535 bytes")
    return struct.pack("!H", len(raw)) + raw


def _binary(value: bytes) -> bytes:
    if len(value) > 0xFFFF:
        raise ValueError("MQTT binary data holds at most 65,535 bytes")
    return struct.pack("!H", len(value)) + value


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes([first_byte]) + varint(len(body)) + body


def connect(
    client_id: str,
    *,
    keepalive: int,
    clean_start: bool,
    session_expiry: int,
    receive_maximum: int,
    username: str | None = None,
    password: str | None = None,
) -> bytes:
    """CONNECT (§3.1) with a session expiry and a Receive Maximum, no will."""
    flags = (0x02 if clean_start else 0) | (0x80 if username is not None else 0)
    flags |= 0x40 if password is not None else 0
    properties = bytes([SESSION_EXPIRY]) + struct.pack("!I", session_expiry)
    properties += bytes([RECEIVE_MAXIMUM]) + struct.pack("!H", receive_maximum)
    body = _text("MQTT") + bytes([5, flags]) + struct.pack("!H", keepalive)
    body += varint(len(properties)) + properties + _text(client_id)
    if username is not None:
        body += _text(username)
    if password is not None:
        body += _binary(password.encode("utf-8"))
    return _packet(CONNECT, body)


def subscribe(packet_id: int, topic_filters: tuple[str, ...], qos: int) -> bytes:
    """SUBSCRIBE (§3.8) to each filter with a maximum QoS, no properties."""
    body = struct.pack("!H", packet_id) + b"\x00"
    for topic_filter in topic_filters:
        body += _text(topic_filter) + bytes([qos])
    return _packet(SUBSCRIBE | 0x02, body)


def pubacks(packet_ids: list[int]) -> bytes:
    """PUBACKs (§3.4) for these packet ids, in order: success, so no reason code or properties."""
    return b"".join([struct.pack("!BBH", PUBACK, 2, packet_id) for packet_id in packet_ids])


def publish_qos0(topic: str, payload: bytes) -> bytes:
    """Encode a QoS 0 PUBLISH (§3.3) without properties."""
    return _packet(PUBLISH, _text(topic) + b"\x00" + payload)


def pingreq() -> bytes:
    """PINGREQ (§3.12)."""
    return bytes([PINGREQ, 0])


def disconnect() -> bytes:
    """DISCONNECT (§3.14), normal: the session stays for its expiry interval."""
    return bytes([DISCONNECT, 0])


class Delivery(NamedTuple):
    """A PUBLISH the broker delivered; ``connection`` numbers the connection it came on."""

    topic: str
    payload: bytes
    packet_id: int  # 0 for QoS 0
    qos: int
    connection: int


@dataclass(frozen=True, slots=True)
class Packet:
    """A packet other than PUBLISH: its type (high nibble), flags and body."""

    kind: int
    flags: int
    body: bytes


@dataclass(frozen=True, slots=True)
class ConnAck:
    """What the broker answered to CONNECT."""

    session_present: bool
    reason: int
    server_keep_alive: int | None
    reason_string: str | None


def properties(body: bytes, at: int) -> tuple[dict[int, int | str], int]:
    """Read a property list at ``at``: ({identifier: value} for numbers and strings, end)."""
    length, cursor = read_varint(body, at)
    end = cursor + length
    if end > len(body):
        raise ProtocolError("properties run past the packet")
    try:
        found, cursor = _property_values(body, cursor, end)
    except (IndexError, struct.error) as error:
        raise ProtocolError("a property runs past the packet") from error
    if cursor != end:
        raise ProtocolError("a property runs past its list")
    return found, end


def _property_values(body: bytes, cursor: int, end: int) -> tuple[dict[int, int | str], int]:
    found: dict[int, int | str] = {}
    while cursor < end:
        identifier, cursor = read_varint(body, cursor)
        if identifier in _BYTE_PROPERTIES:
            found[identifier], cursor = body[cursor], cursor + 1
        elif identifier in _TWO_BYTE_PROPERTIES:
            found[identifier], cursor = struct.unpack_from("!H", body, cursor)[0], cursor + 2
        elif identifier in _FOUR_BYTE_PROPERTIES:
            found[identifier], cursor = struct.unpack_from("!I", body, cursor)[0], cursor + 4
        elif identifier in _VARINT_PROPERTIES:
            found[identifier], cursor = read_varint(body, cursor)
        elif identifier in _TEXT_PROPERTIES:
            size = struct.unpack_from("!H", body, cursor)[0]
            raw = body[cursor + 2 : cursor + 2 + size]
            found[identifier] = raw.decode("utf-8", "replace")
            cursor += 2 + size
        elif identifier in _PAIR_PROPERTIES:
            for _ in range(2):
                cursor += 2 + struct.unpack_from("!H", body, cursor)[0]
        else:
            raise ProtocolError(f"unknown property {identifier:#04x}")
    return found, cursor


def connack(body: bytes) -> ConnAck:
    """Decode CONNACK's body (§3.2)."""
    if len(body) < 2:
        raise ProtocolError("CONNACK too short")
    found, _ = properties(body, 2) if len(body) > 2 else ({}, 2)
    keep_alive = found.get(SERVER_KEEP_ALIVE)
    reason_string = found.get(REASON_STRING)
    return ConnAck(
        session_present=bool(body[0] & 0x01),
        reason=body[1],
        server_keep_alive=keep_alive if isinstance(keep_alive, int) else None,
        reason_string=reason_string if isinstance(reason_string, str) else None,
    )


def suback_reasons(body: bytes) -> tuple[int, list[int]]:
    """Decode SUBACK's body (§3.9): (packet id, a reason code per filter)."""
    packet_id = struct.unpack_from("!H", body, 0)[0]
    _, end = properties(body, 2)
    return packet_id, list(body[end:])


def disconnect_reason(body: bytes) -> int:
    """Return the reason code of a DISCONNECT the broker sent (none means normal)."""
    return body[0] if body else 0


class PacketReader:
    """Cuts a byte stream into packets: PUBLISH as :class:`Delivery`, others as :class:`Packet`."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._topics: dict[bytes, str] = {}  # devices publish on few topics, each many times

    def feed(self, data: bytes, connection: int) -> tuple[list[Delivery], list[Packet]]:
        """Take bytes; return the whole packets they complete, in stream order per kind."""
        buffer = self._buffer
        buffer += data
        deliveries: list[Delivery] = []
        others: list[Packet] = []
        position, size = 0, len(buffer)
        while size - position >= 2:
            length = shift = 0
            cursor = position + 1
            complete = False
            while cursor < size:
                byte = buffer[cursor]
                cursor += 1
                length |= (byte & 0x7F) << shift
                if not byte & 0x80:
                    complete = True
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("malformed remaining length")
            if not complete:
                break  # the length has not all arrived
            end = cursor + length
            if end > size:
                break  # the body has not all arrived
            first = buffer[position]
            if first & 0xF0 == PUBLISH:
                deliveries.append(self._publish(first, buffer, cursor, end, connection))
            else:
                others.append(Packet(first & 0xF0, first & 0x0F, bytes(buffer[cursor:end])))
            position = end
        del buffer[:position]
        return deliveries, others

    def _publish(
        self, first: int, buffer: bytearray, cursor: int, end: int, connection: int
    ) -> Delivery:
        qos = (first >> 1) & 0x03
        if qos == 3:
            raise ProtocolError("PUBLISH with QoS 3")
        if end - cursor < 3:
            raise ProtocolError("PUBLISH shorter than its headers")
        topic_length = (buffer[cursor] << 8) | buffer[cursor + 1]
        at = cursor + 2 + topic_length
        if at + (3 if qos else 1) > end:
            raise ProtocolError("PUBLISH shorter than its headers")
        raw_topic = bytes(buffer[cursor + 2 : at])
        packet_id = 0
        if qos:
            packet_id = (buffer[at] << 8) | buffer[at + 1]
            at += 2
        if buffer[at] == 0:  # no properties: the usual case, read without a parser
            at += 1
        else:
            _, used = properties(bytes(buffer[at:end]), 0)
            at += used
        topic = self._topics.get(raw_topic)
        if topic is None:
            if not raw_topic:
                raise ProtocolError("PUBLISH with a topic alias, which this client never allows")
            try:
                topic = raw_topic.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ProtocolError("PUBLISH topic is not UTF-8") from error
            if len(self._topics) < 100_000:
                self._topics[raw_topic] = topic
        return Delivery(topic, bytes(buffer[at:end]), packet_id, qos, connection)
