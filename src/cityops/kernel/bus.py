"""An in-process event bus that reads the outbox and delivers events to subscribers after commit.

Every subscriber has a name and a stored offset (the id of the last event it handled). Delivery
happens in a write transaction that also advances the offset, so whatever a handler writes to the
store commits together with "I handled event N": a crash before commit repeats nothing that was
committed and loses nothing that was not. Side effects outside the store (a push to a browser)
are therefore at-least-once and must be idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cityops.kernel.events import StoredEvent

log = logging.getLogger(__name__)


class EventLog(Protocol):
    """The outbox as the bus needs it: ordered reads and per-subscriber offsets."""

    def events_after(self, event_id: int, limit: int) -> list[StoredEvent]:
        """Return up to ``limit`` events with an id greater than ``event_id``, oldest first."""
        ...

    def subscriber_offset(self, name: str) -> int:
        """Return the id of the last event the named subscriber handled (0 if none)."""
        ...

    def set_subscriber_offset(self, name: str, event_id: int) -> None:
        """Record that the named subscriber handled every event up to ``event_id``."""
        ...


class BusTransaction(Protocol):
    """A unit of work that exposes the outbox and commits explicitly."""

    @property
    def outbox(self) -> EventLog:
        """The outbox inside this transaction."""
        ...

    def commit(self) -> None:
        """Commit the transaction."""
        ...


TX = TypeVar("TX", bound=BusTransaction)


@dataclass(frozen=True)
class Subscriber(Generic[TX]):
    """A named handler of events; ``event_types`` of None means every type."""

    name: str
    handle: Callable[[StoredEvent, TX], None]
    event_types: frozenset[str] | None = None

    def wants(self, event: StoredEvent) -> bool:
        """Tell whether this subscriber handles the event's type."""
        return self.event_types is None or event.type in self.event_types


class EventBus(Generic[TX]):
    """Deliver outbox events to subscribers, resuming from each subscriber's stored offset."""

    def __init__(
        self,
        open_transaction: Callable[[], AbstractContextManager[TX]],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
    ) -> None:
        self._open_transaction = open_transaction
        self._subscribers: dict[str, Subscriber[TX]] = {}
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._drain_lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def subscribe(
        self,
        name: str,
        handle: Callable[[StoredEvent, TX], None],
        event_types: Iterable[str] | None = None,
    ) -> None:
        """Register a subscriber; its name is its identity across restarts."""
        if name in self._subscribers:
            raise ValueError(f"a subscriber named {name!r} is already registered")
        types = frozenset(event_types) if event_types is not None else None
        self._subscribers[name] = Subscriber(name=name, handle=handle, event_types=types)

    @property
    def subscriber_names(self) -> list[str]:
        """The names of the registered subscribers."""
        return sorted(self._subscribers)

    def notify(self) -> None:
        """Wake the worker: something was committed to the outbox."""
        self._wake.set()

    def drain(self) -> int:
        """Deliver every pending event to every subscriber now; return how many were handled."""
        handled = 0
        with self._drain_lock:
            for subscriber in list(self._subscribers.values()):
                handled += self._drain_one(subscriber)
        return handled

    def _drain_one(self, subscriber: Subscriber[TX]) -> int:
        handled = 0
        while True:
            try:
                with self._open_transaction() as tx:
                    offset = tx.outbox.subscriber_offset(subscriber.name)
                    events = tx.outbox.events_after(offset, self._batch_size)
                    if not events:
                        return handled
                    in_batch = 0
                    for event in events:
                        if subscriber.wants(event):
                            subscriber.handle(event, tx)
                            in_batch += 1
                    tx.outbox.set_subscriber_offset(subscriber.name, events[-1].id)
                    tx.commit()
                    handled += in_batch
            except Exception:
                # The batch rolled back with the offset, so it is retried on the next wake-up.
                log.exception("subscriber %s failed; will retry", subscriber.name)
                return handled

    def start(self) -> None:
        """Start the background worker that drains on every notify (and polls as a fallback)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="cityops-event-bus", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the background worker, waiting for the current delivery to finish."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            self.drain()
