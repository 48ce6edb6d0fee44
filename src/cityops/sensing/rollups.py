"""Keep the rollups and latest values up with the stored readings: the fold.

A write stores its readings and queues the good ones; :class:`RollupFolder` merges the queue into
the minute, hour and day rollups and each stream's latest value (the store's ``fold``). It runs
in the background every ``telemetry_fold_seconds`` (``cityops serve``, ``cityops ts mqtt``), and
readers add what is still queued, so an answer always includes every reading committed before
the question — the queue only moves work off the write path, it never shows a reader a stale
bucket. On PostgreSQL the background fold can run as several ``parts`` at once, each taking the
datastreams whose id is its number modulo ``parts`` (``telemetry_fold_workers``): one backend's
fold keeps one core busy, and a busy city writes faster than that.
"""

from __future__ import annotations

from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.ports import SensingUnitOfWork

FOLD_CHUNK = 100_000  # readings per fold transaction: bounds its memory and how long it holds


class RollupFolder:
    """Folds queued readings into the rollups, a chunk per transaction."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        *,
        chunk: int = FOLD_CHUNK,
        parts: int = 1,
    ) -> None:
        if parts < 1:
            raise ValueError(f"fold parts must be at least 1, got {parts}")
        self._unit_of_work = unit_of_work
        self._chunk = chunk
        self.parts = parts

    def fold(self) -> int:
        """Fold the whole queue until it is empty; return how many readings were folded."""
        return self.fold_part(0, 1)

    def fold_part(self, part: int, parts: int | None = None) -> int:
        """Fold one part of the queue (``parts`` defaults to the folder's) until it is empty."""
        parts = self.parts if parts is None else parts
        total = 0
        while True:
            with self._unit_of_work() as uow:
                folded = uow.observations.fold(self._chunk, part, parts)
                uow.commit()
            total += folded
            if folded < self._chunk:
                return total

    def catch_up(self) -> int:
        """Fold whatever is queued (a cheap check when nothing is); call before reading rollups."""
        with self._unit_of_work(read_only=True) as uow:
            if not uow.observation_reads.queued():
                return 0
        return self.fold()
