"""The MQTT door: subscribe to telemetry topics, store readings, acknowledge only after commit.

The worker connects with MQTT 5, a persistent session (``clean_start`` off, a session expiry)
and QoS 1 subscriptions shared by a group (``$share/<group>/<topic>``), so several workers (in
several processes or machines) split the load and a restarted worker gets back what it had not
acknowledged. Messages are acknowledged in the order they arrived, all of a transaction's in
one write, only after the transaction that stored their readings has committed: a crash loses
nothing that was acknowledged, and what is delivered again is stored once (readings are
idempotent on datastream and time). The connection is :mod:`cityops.adapters.mqtt_session`.

Flow control is the broker's: the worker announces a ``Receive Maximum``, so at most that many
unacknowledged QoS 1 messages are ever in its hands; the chunks waiting between the reader and
the writer are bounded too, and memory stays flat however fast devices publish.

Payloads (see :mod:`cityops.sensing.decode`): our JSON (one item or an array), a device's
readings ``{"time", "values"}`` on ``<prefix>/<thing key>``, a SensorThings Observation on
``v1.1/Datastreams(<id>)/Observations``, or CSV lines ``datastream,time,value[,quality]``.
Refused readings are published, with their reasons, to ``<error topic>/<original topic>``.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from cityops.adapters.mqtt_packets import Delivery
from cityops.adapters.mqtt_session import MqttSession, SessionOptions
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
    keepalive: int = 30  # seconds; the broker drops a connection silent for 1.5 times this
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
    last_commit: float = 0.0
    errors: list[str] = field(default_factory=list)


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
    """One ingest worker: a reader thread (:class:`MqttSession`) and a writer thread."""

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
        self._session = MqttSession(
            SessionOptions(
                url=options.url,
                client_id=options.client_id,
                topic_filters=tuple(f"$share/{options.group}/{t}" for t in options.topics),
                keepalive=options.keepalive,
                session_expiry=options.session_expiry,
                receive_maximum=options.receive_maximum,
            )
        )
        self._carry: list[Delivery] = []  # received, not yet in a transaction
        self._stop = threading.Event()
        self._writer: threading.Thread | None = None
        self.stats = WorkerStats()

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        """Connect (in the background) and start the writer thread."""
        self._session.start()
        self._writer = threading.Thread(target=self._run, name="cityops-mqtt-writer", daemon=True)
        self._writer.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop taking messages, store and acknowledge what is in hand, then disconnect."""
        self._session.stop_receiving()
        self._stop.set()
        if self._writer is not None:
            self._writer.join(timeout)
        self._session.close()

    def wait_connected(self, timeout: float = 10.0) -> bool:
        """Wait until the broker has accepted the connection and the subscriptions."""
        return self._session.connected.wait(timeout)

    @property
    def connections(self) -> int:
        """How many times the worker has connected (more than once: it reconnected)."""
        return self._session.connections

    # ---------------------------------------------------------------- writer thread

    def _run(self) -> None:
        while True:
            messages = self._next_transaction()
            if messages:
                self._handle(messages)
            elif self._stop.is_set():
                return

    def _next_transaction(self) -> list[Delivery]:
        """Gather one transaction's messages (up to Receive Maximum of them, or the byte bound).

        After the first, wait at most ``max_wait`` for others to share the transaction.
        """
        limit, byte_limit = self._options.receive_maximum, self._options.max_batch_bytes
        taken: list[Delivery] = []
        size = 0
        deadline = 0.0
        while len(taken) < limit and size < byte_limit:
            if not self._carry:
                if taken:
                    remaining = deadline - time.monotonic()
                    chunk = self._session.receive(remaining) if remaining > 0 else None
                else:
                    chunk = self._session.receive(0.2)
                if chunk is None:
                    break
                self._carry = chunk
            if not taken:
                deadline = time.monotonic() + self._options.max_wait
            carry, cut = self._carry, 0
            while cut < len(carry) and len(taken) + cut < limit and size < byte_limit:
                size += len(carry[cut].payload)
                cut += 1
            taken += carry[:cut]
            self._carry = carry[cut:]
        return taken

    def _handle(self, messages: list[Delivery]) -> None:
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
        self.stats.acknowledged += self._session.ack(messages)
        self.stats.messages += len(messages)
        self.stats.transactions += 1
        self.stats.readings += len(batch)
        self.stats.stored += result.inserted
        self.stats.duplicates += result.duplicates
        self.stats.last_commit = time.time()
        for topic, errors in refused:
            self.stats.refused += len(errors)
            self._session.publish(
                f"{self._options.error_topic}/{topic}",
                orjson.dumps({"topic": topic, "errors": [e.as_json() for e in errors]}),
            )


def clock_ms(now: Callable[[], Any]) -> Callable[[], int]:
    """Return a function giving the clock's time in UTC epoch ms."""
    return lambda: to_millis(now())
