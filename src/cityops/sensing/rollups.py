"""Keep the rollups and latest values up with the stored readings: the fold.

A write stores its readings and queues the good ones; :class:`RollupFolder` merges the queue into
the minute, hour and day rollups and each stream's latest value (the store's ``fold``). It runs
in the background when due (``cityops serve``, ``cityops ts mqtt``; see below), and readers add
what is still queued, so an answer always includes every reading committed before the question —
the queue only moves work off the write path, it never shows a reader a stale bucket. On
PostgreSQL the background fold can run as several ``parts`` at once, each taking the datastreams
whose id is its number modulo ``parts`` (``telemetry_fold_workers``): one backend's fold keeps one
core busy, and a busy city writes faster than that.

Why the background fold waits for a full queue (:meth:`RollupFolder.fold_when_due`): a fold
merges each (stream, hour), (stream, day) and latest value it touches once, however many of the
stream's readings it carries, so its cost per reading falls as its readings per stream rise — on
PostgreSQL 20 µs per reading with one reading per stream against 10 µs with ten (measured,
``benchmarks/fold_cost.py``). Folding every second a queue that gains one reading per stream a
second spends most of the fold on those merges. So a background fold runs once ``min_readings``
wait or ``max_wait`` seconds have passed since this folder's last one; readers merge the queue,
so the wait costs no reader an exact answer.

After a background fold the folder tidies the queue (``tidy_queue``, at most every
``tidy_every`` seconds): on PostgreSQL a ``VACUUM`` of the queue table, whose rows all die
within seconds of their birth (:meth:`cityops.storage.store.Store.vacuum_fold_queue` says why).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.ports import SensingUnitOfWork

FOLD_CHUNK = 100_000  # readings per fold transaction: bounds its memory and how long it holds
FOLD_MIN_READINGS = 100_000  # a background fold waits for this many queued readings …
FOLD_MAX_WAIT = 10.0  # … or this many seconds since its last fold
TIDY_EVERY = 2.0  # seconds between tidyings of the queue (after background folds)


class RollupFolder:
    """Folds queued readings into the rollups, a chunk per transaction."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        *,
        chunk: int = FOLD_CHUNK,
        parts: int = 1,
        min_readings: int = FOLD_MIN_READINGS,
        max_wait: float = FOLD_MAX_WAIT,
        tidy_queue: Callable[[], None] | None = None,
        tidy_every: float = TIDY_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if parts < 1:
            raise ValueError(f"fold parts must be at least 1, got {parts}")
        self._unit_of_work = unit_of_work
        self._chunk = chunk
        self.parts = parts
        self._min_readings = min_readings
        self._max_wait = max_wait
        self._monotonic = monotonic
        self._last_fold = [-math.inf] * parts  # the first look folds what a stopped one left
        self._tidy_queue = tidy_queue
        self._tidy_every = tidy_every
        self._last_tidy = -math.inf

    def fold(self) -> int:
        """Fold the whole queue until it is empty; return how many readings were folded."""
        return self.fold_part(0, 1)

    def fold_part(self, part: int, parts: int | None = None, *, wait: bool = True) -> int:
        """Fold one part of the queue (``parts`` defaults to the folder's) until it is empty.

        With ``wait`` False it stops, rather than waits, when another fold holds the part.
        """
        parts = self.parts if parts is None else parts
        total = 0
        while True:
            with self._unit_of_work() as uow:
                folded = uow.observations.fold(self._chunk, part, parts, wait=wait)
                uow.commit()
            total += folded
            if folded < self._chunk:
                return total

    def fold_when_due(self, part: int) -> int:
        """Fold one part if its queue is full enough or its time has come (the background fold).

        Due when the part's share of ``min_readings`` (``min_readings / parts``) waits, or
        ``max_wait`` seconds have passed since this folder last folded the part (and anything
        of it waits). A part another process is folding is left to it.
        """
        started = self._monotonic()
        overdue = started - self._last_fold[part] >= self._max_wait
        share = 1 if overdue else -(-self._min_readings // self.parts)
        with self._unit_of_work(read_only=True) as uow:
            due = uow.observation_reads.queued(share, part, self.parts)
        if not due:
            return 0
        self._last_fold[part] = started
        folded = self.fold_part(part, wait=False)
        tidy = self._tidy_queue
        if folded and tidy is not None and started - self._last_tidy >= self._tidy_every:
            self._last_tidy = started
            tidy()
        return folded

    def catch_up(self) -> int:
        """Fold whatever is queued (a cheap check when nothing is); call before reading rollups."""
        with self._unit_of_work(read_only=True) as uow:
            if not uow.observation_reads.queued():
                return 0
        return self.fold()
