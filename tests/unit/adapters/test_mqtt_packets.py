"""MQTT 5 packets: encodings checked against the standard's examples and a stream cut anywhere."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cityops.adapters import mqtt_packets as packets
from cityops.adapters.mqtt_packets import Delivery, Packet, PacketReader, ProtocolError

# MQTT 5.0 §1.5.5, Table 1-1: the variable byte integer's edges.
SPEC_VARINTS = [
    (0, b"\x00"),
    (127, b"\x7f"),
    (128, b"\x80\x01"),
    (16_383, b"\xff\x7f"),
    (16_384, b"\x80\x80\x01"),
    (2_097_151, b"\xff\xff\x7f"),
    (2_097_152, b"\x80\x80\x80\x01"),
    (268_435_455, b"\xff\xff\xff\x7f"),
]


@pytest.mark.parametrize(("value", "encoded"), SPEC_VARINTS)
def test_variable_byte_integers_match_the_standards_table(value: int, encoded: bytes) -> None:
    assert packets.varint(value) == encoded


@pytest.mark.parametrize(("value", "encoded"), SPEC_VARINTS)
def test_variable_byte_integers_decode_to_the_standards_values(value: int, encoded: bytes) -> None:
    assert packets.read_varint(b"\xaa" + encoded, 1) == (value, 1 + len(encoded))


@pytest.mark.parametrize("value", [-1, 268_435_456])
def test_a_variable_byte_integer_out_of_range_is_refused(value: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        packets.varint(value)


def test_a_fifth_length_byte_is_malformed() -> None:
    with pytest.raises(ProtocolError, match="malformed"):
        packets.read_varint(b"\xff\xff\xff\xff\x01", 0)


def _string(value: bytes) -> bytes:
    return struct.pack("!H", len(value)) + value


def _publish(topic: bytes, payload: bytes, qos: int, packet_id: int, props: bytes) -> bytes:
    """A PUBLISH as a broker sends it, built here byte by byte from §3.3 (not with the codec)."""
    body = _string(topic) + (struct.pack("!H", packet_id) if qos else b"")
    body += packets.varint(len(props)) + props + payload
    return bytes([0x30 | qos << 1]) + packets.varint(len(body)) + body


# Properties a broker may forward on a PUBLISH (§3.3.2.3): a byte, a four-byte integer,
# strings, binary data and a user property (a string pair).
PROPERTY_VALUES = st.one_of(
    st.just(b""),
    st.builds(lambda b: b"\x01" + bytes([b]), st.integers(0, 1)),
    st.builds(lambda n: b"\x02" + struct.pack("!I", n), st.integers(0, 2**32 - 1)),
    st.builds(lambda s: b"\x03" + _string(s.encode()), st.text(max_size=20)),
    st.builds(lambda s: b"\x09" + _string(s), st.binary(max_size=20)),
    st.builds(
        lambda k, v: b"\x26" + _string(k.encode()) + _string(v.encode()),
        st.text(max_size=10),
        st.text(max_size=10),
    ),
)
TOPICS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=1,
    max_size=40,
)
PUBLISHES = st.tuples(
    TOPICS,
    st.binary(max_size=300),
    st.sampled_from([0, 1]),
    st.integers(1, 65_535),
    st.lists(PROPERTY_VALUES, max_size=3).map(b"".join),
)
CONTROLS = st.sampled_from(
    [
        (packets.PINGRESP, 0, b""),
        (packets.SUBACK, 0, b"\x00\x01\x00\x01\x01"),
        (packets.DISCONNECT, 0, b"\x8b"),
    ]
)


@given(
    st.lists(st.one_of(PUBLISHES, CONTROLS), max_size=25),
    st.lists(st.integers(0, 2_000), max_size=30),
)
def test_a_stream_cut_anywhere_gives_the_packets_that_were_sent(items, cuts) -> None:
    stream = b""
    sent_deliveries: list[Delivery] = []
    sent_others: list[Packet] = []
    for item in items:
        if len(item) == 5:
            topic, payload, qos, packet_id, props = item
            stream += _publish(topic.encode(), payload, qos, packet_id, props)
            sent_deliveries.append(Delivery(topic, payload, packet_id if qos else 0, qos, 7))
        else:
            kind, flags, body = item
            stream += bytes([kind | flags]) + packets.varint(len(body)) + body
            sent_others.append(Packet(kind, flags, body))
    reader = PacketReader()
    got_deliveries: list[Delivery] = []
    got_others: list[Packet] = []
    at = 0
    for cut in sorted({c % (len(stream) + 1) for c in cuts}) + [len(stream)]:
        deliveries, others = reader.feed(stream[at:cut], 7)
        got_deliveries += deliveries
        got_others += others
        at = cut
    assert (got_deliveries, got_others) == (sent_deliveries, sent_others)


def test_a_half_arrived_packet_waits_for_the_rest() -> None:
    whole = _publish(b"a/b", b"payload", 1, 9, b"")
    reader = PacketReader()
    assert reader.feed(whole[:5], 1) == ([], [])
    assert reader.feed(whole[5:], 1) == ([Delivery("a/b", b"payload", 9, 1, 1)], [])


@pytest.mark.parametrize(
    ("stream", "rule"),
    [
        (b"\x30\xff\xff\xff\xff\x01", "remaining length"),
        (_publish(b"", b"x", 0, 0, b"\x23\x00\x01"), "topic alias"),
        (b"\x36" + packets.varint(7) + _string(b"t") + b"\x00\x01\x00x", "QoS 3"),
        (_publish(b"t", b"", 0, 0, b"\x02\x00\x00"), "property"),
        (_publish(b"t", b"", 0, 0, b"\x7f"), "unknown property"),
        (_publish(b"\xff\xfe", b"", 0, 0, b""), "UTF-8"),
        (b"\x32\x03\x00\x05a", "shorter than its headers"),
    ],
)
def test_malformed_publishes_are_protocol_errors(stream: bytes, rule: str) -> None:
    with pytest.raises(ProtocolError, match=rule):
        PacketReader().feed(stream, 1)


def test_connect_is_encoded_as_the_standard_lays_it_out() -> None:
    encoded = packets.connect(
        "w1", keepalive=30, clean_start=False, session_expiry=3600, receive_maximum=2000
    )
    properties = b"\x11\x00\x00\x0e\x10" + b"\x21\x07\xd0"
    body = b"\x00\x04MQTT\x05\x00\x00\x1e" + bytes([len(properties)]) + properties + b"\x00\x02w1"
    assert encoded == b"\x10" + bytes([len(body)]) + body


def test_connect_carries_user_name_and_password_flags_and_fields() -> None:
    encoded = packets.connect(
        "w",
        keepalive=5,
        clean_start=True,
        session_expiry=0,
        receive_maximum=10,
        username="ops",
        password="pa:ss",
    )
    assert encoded[9] == 0x80 | 0x40 | 0x02  # user name, password, clean start
    assert encoded.endswith(b"\x00\x01w\x00\x03ops\x00\x05pa:ss")


def test_subscribe_asks_each_filter_at_the_qos() -> None:
    encoded = packets.subscribe(1, ("$share/g/a/#", "b"), 1)
    body = b"\x00\x01\x00" + _string(b"$share/g/a/#") + b"\x01" + _string(b"b") + b"\x01"
    assert encoded == b"\x82" + bytes([len(body)]) + body


def test_pubacks_are_four_bytes_each_in_the_order_given() -> None:
    assert packets.pubacks([3, 1, 65_535]) == b"\x40\x02\x00\x03\x40\x02\x00\x01\x40\x02\xff\xff"


def test_a_qos0_publish_reads_back_through_the_reader() -> None:
    reader = PacketReader()
    encoded = packets.publish_qos0("errors/城市", b'{"e":1}')
    assert reader.feed(encoded, 2) == ([Delivery("errors/城市", b'{"e":1}', 0, 0, 2)], [])


def test_connack_gives_the_session_flag_reason_keep_alive_and_reason_string() -> None:
    props = b"\x13\x00\x3c" + b"\x1f" + _string(b"go away") + b"\x12" + _string(b"auto-1")
    answer = packets.connack(b"\x01\x87" + bytes([len(props)]) + props)
    assert answer == packets.ConnAck(True, 0x87, 60, "go away")


def test_a_connack_without_properties_is_read() -> None:
    assert packets.connack(b"\x00\x00") == packets.ConnAck(False, 0, None, None)


def test_suback_gives_a_reason_per_filter() -> None:
    assert packets.suback_reasons(b"\x00\x01\x00\x01\x9e") == (1, [0x01, 0x9E])


def test_reason_codes_read_as_words() -> None:
    assert packets.reason_text(0x87) == "0x87 not authorized"
