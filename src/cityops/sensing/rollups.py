"""Keep the rollups and latest values up with the stored readings: the fold.

A write stores its readings and queues the good ones; :class:`RollupFolder` merges the queue into
the minute, hour and day rollups and each stream's latest value (the store's ``fold``). It runs
in the background every ``telemetry_fold_seconds`` (``cityops serve``, ``cityops ts mqtt``), and
every reader of rollups or latest values calls :meth:`RollupFolder.catch_up` first, so an answer
always includes every reading committed before the question — the queue only moves work off the
write path, it never shows a reader a stale bucket.
"""

from __future__ import annotations

from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.ports import SensingUnitOfWork

FOLD_CHUNK = 100_000  # readings per fold transaction: bounds its memory and how long it holds


class RollupFolder:
    """Folds queued readings into the rollups, a chunk per transaction."""

    def __init__(
        self, unit_of_work: UnitOfWorkFactory[SensingUnitOfWork], *, chunk: int = FOLD_CHUNK
    ) -> None:
        self._unit_of_work = unit_of_work
        self._chunk = chunk

    def fold(self) -> int:
        """Fold until the queue is empty; return how many readings were folded."""
        total = 0
        while True:
            with self._unit_of_work() as uow:
                folded = uow.observations.fold(self._chunk)
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
