"""The datastreams an ingest worker checks readings against, held in memory.

Every reading names its datastream (by id or key, or by its thing's key and the metric); the
check needs the stream's range and unit on every reading, so a snapshot of all datastreams is
kept in memory and swapped whole when a datastream changes (or after ``max_age`` seconds, so that
a change made by another process is seen too). A reading for a stream the snapshot does not know
makes it reload once before the reading is refused.

Unit conversions used on the hot path are affine (``a·x + b``), derived once per metric and unit
from the exact conversions of :mod:`cityops.sensing.metrics`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cityops.sensing.metrics import convert, metric, normalise_unit
from cityops.sensing.model import Datastream


@dataclass(frozen=True, slots=True)
class StreamSnapshot:
    """All datastreams by id, by key and by (thing key, metric)."""

    by_id: dict[int, Datastream] = field(default_factory=dict)
    by_key: dict[str, Datastream] = field(default_factory=dict)
    by_thing_metric: dict[tuple[str, str], Datastream] = field(default_factory=dict)
    thing_keys: dict[int, str] = field(default_factory=dict)


Loader = Callable[[], tuple[Sequence[Datastream], dict[int, str]]]


class StreamRegistry:
    """A thread-safe, reloadable snapshot of the datastreams."""

    def __init__(self, load: Loader, *, max_age: float = 30.0) -> None:
        self._load = load
        self._max_age = max_age
        self._snapshot: StreamSnapshot | None = None
        self._loaded_at = 0.0
        self._lock = threading.Lock()
        self._units: dict[tuple[str, str], tuple[float, float]] = {}

    def snapshot(self) -> StreamSnapshot:
        """Return the current snapshot, loading it when missing or older than ``max_age``."""
        snapshot = self._snapshot
        if snapshot is None or time.monotonic() - self._loaded_at > self._max_age:
            return self.reload()
        return snapshot

    def reload(self) -> StreamSnapshot:
        """Load every datastream again and return the new snapshot."""
        with self._lock:
            streams, thing_keys = self._load()
            snapshot = StreamSnapshot(
                by_id={s.id: s for s in streams},
                by_key={s.key: s for s in streams},
                by_thing_metric={
                    (thing_keys[s.thing_id], s.metric): s
                    for s in streams
                    if s.thing_id in thing_keys
                },
                thing_keys=dict(thing_keys),
            )
            self._snapshot = snapshot
            self._loaded_at = time.monotonic()
            return snapshot

    def invalidate(self) -> None:
        """Forget the snapshot (a datastream was added or changed)."""
        self._snapshot = None

    def unit_factor(self, metric_key: str, unit: str) -> tuple[float, float]:
        """Return ``(a, b)`` such that a reading in ``unit`` is ``a·x + b`` in the canonical unit.

        Raises ValidationFailed (field ``unit``) for a unit the metric does not accept.
        """
        found = self._units.get((metric_key, unit))
        if found is None:
            code = normalise_unit(unit)
            if code == metric(metric_key).unit:
                found = (1.0, 0.0)
            else:
                offset = convert(0, code, metric_key)
                found = (convert(1, code, metric_key) - offset, offset)
            self._units[(metric_key, unit)] = found
        return found
