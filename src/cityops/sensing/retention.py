"""Retention: how long raw readings and minute rollups are kept (hour and day rollups stay).

``CITYOPS_TELEMETRY_RAW_DAYS`` and ``CITYOPS_TELEMETRY_MINUTE_DAYS`` (0: keep for ever) set the
windows; :meth:`RetentionService.prune` deletes what is older, and ``cityops ts prune`` or the
server's daily run call it. Queries for older periods are answered from the hour and day
rollups, which are kept (they are small: one row per datastream and hour). A datastream that
keeps no minute rows (:func:`~cityops.sensing.model.keeps_minute_rollups`) has its raw readings
as its minute level: they are kept for the longer of the two windows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from cityops.auth.model import Principal
from cityops.kernel.clock import Clock
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.model import to_millis
from cityops.sensing.ports import SensingUnitOfWork


class RetentionService:
    """Deletes readings and minute rollups older than the configured windows."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[SensingUnitOfWork],
        clock: Clock,
        raw_days: int,
        minute_days: int,
        *,
        catch_up: Callable[[], object],
    ) -> None:
        # Queued readings are folded before pruning: folded after, an old one would bring back
        # a minute rollup the prune had just removed.
        self._catch_up = catch_up
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._raw_days = raw_days
        self._minute_days = minute_days

    def prune(self, principal: Principal) -> dict[str, int]:
        """Delete what is past retention; return how many rows (and partitions) went."""
        principal.authorize("telemetry:write")
        now = self._clock.now()
        raw = to_millis(now - timedelta(days=self._raw_days)) if self._raw_days else None
        minutes = to_millis(now - timedelta(days=self._minute_days)) if self._minute_days else None
        if raw is None and minutes is None:
            return {"observations": 0, "rollups_minute": 0, "partitions": 0}
        self._catch_up()
        with self._unit_of_work() as uow:
            removed = uow.observation_retention.prune(raw, minutes)
            uow.commit()
        return removed
