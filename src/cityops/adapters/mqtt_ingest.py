"""The MQTT door: subscribe to telemetry topics, store readings, acknowledge only after commit.

The worker connects with MQTT 5, a persistent session (``clean_start`` off, a session expiry)
and QoS 1 subscriptions shared by a group (``$share/<group>/<topic>``), so several workers (in
several processes or machines) split the load and a restarted worker gets back what it had not
acknowledged. Messages are acknowledged by hand (``manual_ack``), in the order they arrived,
only after the transaction that stored their readings has committed: a crash loses nothing that
was acknowledged, and what is delivered again is stored once (readings are idempotent on
datastream and time).

Flow control is the broker's: the worker announces a ``Receive Maximum``, so at most that many
unacknowledged messages are ever in its hands; the queue between the network thread and the
writer is bounded by it, and memory stays flat however fast devices publish.

Payloads (see :mod:`cityops.sensing.decode`): our JSON (one item or an array), a device's
readings ``{"time", "values"}`` on ``<prefix>/<thing key>``, a SensorThings Observation on
``v1.1/Datastreams(<id>)/Observations``, or CSV lines ``datastream,time,value[,quality]``.
Refused readings are published, with their reasons, to ``<error topic>/<original topic>``.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from cityops.sensing.decode import Decoder, csv_items
from cityops.sensing.ingest import IngestService
from cityops.sensing.model import ItemError, ObservationBatch, to_millis

log = logging.getLogger(__name__)
# A SensorThings create topic, possibly under a deployment's own prefix.
STA_TOPIC = re.compile(r"(?:^|/)v1\.1/Datastreams\((\d+)\)/Observations$")


@dataclass(frozen=True)
class MqttOptions:
    """Where and how the worker subscribes."""

    url: str  # mqtt://user:password@host:port
    topics: tuple[str, ...] = ("cityops/telemetry/#", "v1.1/#")
    group: str = "cityops"
    client_id: str = "cityops-ingest"
    max_wait: float = 0.2  # seconds a message may wait for others to share its transaction
    receive_maximum: int = 2_000  # unacknowledged messages in our hands (and per transaction)
    # Payload bytes per transaction: Receive Maximum bounds messages, not readings, and one
    # message may carry thousands; this bounds what one transaction holds in memory.
    max_batch_bytes: int = 4_000_000
    session_expiry: int = 3_600  # seconds the broker keeps our session while we are away
    error_topic: str = "cityops/errors"


@dataclass
class WorkerStats:
    """What the worker has done (for logs, health and tests)."""

    messages: int = 0
    transactions: int = 0
    readings: int = 0
    stored: int = 0
    duplicates: int = 0
    refused: int = 0
    acknowledged: int = 0
    failures: int = 0
    connected: bool = False
    last_commit: float = 0.0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Message:
    topic: str
    payload: bytes
    mid: int
    qos: int


def items_of(topic: str, payload: bytes) -> tuple[list[Any], int | str | None]:
    """Return a message's items and the datastream its topic names (None when it names none)."""
    match = STA_TOPIC.search(topic)
    default: int | str | None = int(match.group(1)) if match else None
    text = payload.strip()
    if text[:1] in (b"{", b"["):
        data = orjson.loads(text)
        items = data if isinstance(data, list) else [data]
    else:
        items = csv_items(text.decode("utf-8"))
    if default is None:
        # cityops/telemetry/<thing key>: a device's readings without "thing" are that thing's.
        levels = topic.split("/")
        thing = levels[-1] if len(levels) >= 3 and levels[-1] else None
        if thing is not None:
            items = [
                {**i, "thing": thing}
                if isinstance(i, dict) and "values" in i and "thing" not in i
                else i
                for i in items
            ]
    return items, default


class MqttIngestWorker:
    """One ingest worker: a paho network thread and a writer thread."""

    def __init__(
        self,
        ingest: IngestService,
        decoder: Decoder,
        options: MqttOptions,
        now_ms: Callable[[], int],
    ) -> None:
        self._ingest = ingest
        self._decoder = decoder
        self._options = options
        self._now_ms = now_ms
        self._queue: queue.Queue[_Message] = queue.Queue(maxsize=options.receive_maximum)
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.stats = WorkerStats()
        self._client = self._build_client()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Connect and start the network and writer threads."""
        parts = urlsplit(self._options.url)
        if parts.scheme not in ("mqtt", "tcp"):
            raise ValueError(f"unsupported broker URL {self._options.url!r} (use mqtt://)")
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self._options.session_expiry
        properties.ReceiveMaximum = self._options.receive_maximum
        self._client.connect_async(
            parts.hostname or "127.0.0.1",
            parts.port or 1883,
            keepalive=30,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._writer = threading.Thread(target=self._run, name="cityops-mqtt-writer", daemon=True)
        self._writer.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Store and acknowledge what is in hand, then disconnect."""
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until the broker has accepted the connection and the subscriptions."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.stats.connected:
                return True
            time.sleep(0.02)
        return False

    # ---------------------------------------------------------------- network thread

    def _build_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self._options.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        parts = urlsplit(self._options.url)
        if parts.username:
            client.username_pw_set(parts.username, parts.password)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        return client

    def _on_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        if reason.is_failure:
            log.error("MQTT broker refused the connection: %s", reason)
            return
        options = SubscribeOptions(qos=1)
        client.subscribe(
            [(f"$share/{self._options.group}/{t}", options) for t in self._options.topics]
        )
        self.stats.connected = True
        log.info("MQTT ingest connected to %s, topics %s", self._options.url, self._options.topics)

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: Any, _props: Any
    ) -> None:
        self.stats.connected = False
        if not self._stop.is_set():
            log.warning("MQTT connection lost (%s); reconnecting", reason)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # Blocks when the writer is behind: the broker then holds back (Receive Maximum).
        self._queue.put(_Message(message.topic, bytes(message.payload), message.mid, message.qos))

    # ---------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while not (self._stop.is_set() and self._queue.empty()):
            try:
                first = self._queue.get(timeout=0.2)
            except queue.Empty:
                continue
            taken = [first]
            size = len(first.payload)
            deadline = time.monotonic() + self._options.max_wait
            while (
                len(taken) < self._options.receive_maximum and size < self._options.max_batch_bytes
            ):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    taken.append(self._queue.get(timeout=remaining))
                except queue.Empty:
                    break
                size += len(taken[-1].payload)
            self._handle(taken)

    def _handle(self, messages: Sequence[_Message]) -> None:
        batch = ObservationBatch()
        refused: list[tuple[str, list[ItemError]]] = []
        now_ms = self._now_ms()
        for message in messages:
            try:
                items, default = items_of(message.topic, message.payload)
            except (orjson.JSONDecodeError, UnicodeDecodeError) as error:
                refused.append((message.topic, [ItemError(0, "payload", "json", str(error))]))
                continue
            good, errors = self._decoder.decode(items, now_ms, prefix="payload", datastream=default)
            batch.extend(good)
            if errors:
                refused.append((message.topic, errors))
        while True:  # store, retrying while the store is away; nothing is acknowledged before
            try:
                result = self._ingest.store(batch)
                break
            except Exception as error:  # noqa: BLE001 - any store failure: wait and retry
                self.stats.failures += 1
                log.exception("storing %d readings failed; retrying", len(batch))
                self.stats.errors.append(str(error))
                if self._stop.wait(1.0):
                    return  # not acknowledged: the broker delivers them again
        for message in messages:
            if message.qos > 0:
                self._client.ack(message.mid, message.qos)
                self.stats.acknowledged += 1
        self.stats.messages += len(messages)
        self.stats.transactions += 1
        self.stats.readings += len(batch)
        self.stats.stored += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.last_commit = time.time()
        for topic, errors in refused:
            self.stats.refused += len(errors)
            self._client.publish(
                f"{self._options.error_topic}/{topic}",
                orjson.dumps({"topic": topic, "errors": [e.as_json() for e in errors]}),
                qos=0,
            )


def clock_ms(now: Callable[[], Any]) -> Callable[[], int]:
    """Return a function giving the clock's time in UTC epoch ms."""
    return lambda: to_millis(now())
