"""What the alert service reads from sensing: subjects, baselines, newest readings; its sweep.

* :func:`load_subjects` turns datastreams and their devices into the engine's subjects;
* :class:`HourOfWeekBaseline` gives an anomaly rule its baseline: the hourly means of the same
  hour of the week over the past weeks (from the hour rollups), as median and MAD, cached for
  the hour;
* :func:`newest_readings` gives the sweep (``missing`` rules) each stream's newest reading time.
"""

from __future__ import annotations

import statistics

from cityops.alerts.engine import Subject
from cityops.kernel.uow import UnitOfWorkFactory
from cityops.sensing.ports import SensingUnitOfWork

HOUR_MS = 3_600_000
WEEK_MS = 7 * 24 * HOUR_MS


def load_subjects(unit_of_work: UnitOfWorkFactory[SensingUnitOfWork]) -> dict[int, Subject]:
    """Return every datastream as a subject, by datastream id."""
    with unit_of_work(read_only=True) as uow:
        things = {t.id: t for t in uow.things.list()}
        streams = uow.datastreams.list()
    return {
        s.id: Subject(
            stream_id=s.id,
            stream_key=s.key,
            metric=s.metric,
            thing_id=s.thing_id,
            thing_key=things[s.thing_id].key,
            grid_code=things[s.thing_id].placement.grid_code,
            properties=dict(things[s.thing_id].properties),
            lon=things[s.thing_id].lon,
            lat=things[s.thing_id].lat,
        )
        for s in streams
        if s.thing_id in things
    }


def newest_readings(unit_of_work: UnitOfWorkFactory[SensingUnitOfWork]) -> dict[int, int]:
    """Return each datastream's newest good reading time (epoch ms)."""
    with unit_of_work(read_only=True) as uow:
        return {r.datastream_id: r.time for r in uow.observation_reads.latest()}


class HourOfWeekBaseline:
    """Median and MAD of a datastream's hourly means at the same hour of past weeks."""

    def __init__(self, unit_of_work: UnitOfWorkFactory[SensingUnitOfWork], weeks: int = 4) -> None:
        self._unit_of_work = unit_of_work
        self._weeks = weeks
        self._cache: dict[tuple[int, int], tuple[float, float, int] | None] = {}

    def __call__(self, stream_id: int, at: int) -> tuple[float, float, int] | None:
        """Return (median, MAD, number of weeks) for the hour holding ``at``, or None."""
        hour = at - at % HOUR_MS
        key = (stream_id, hour)
        if key not in self._cache:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[key] = self._compute(stream_id, hour)
        return self._cache[key]

    def _compute(self, stream_id: int, hour: int) -> tuple[float, float, int] | None:
        wanted = {hour - k * WEEK_MS for k in range(1, self._weeks + 1)}
        with self._unit_of_work(read_only=True) as uow:
            buckets = uow.observation_reads.buckets(
                "hour", [stream_id], min(wanted), max(wanted) + HOUR_MS
            )
        means = [b.total / b.n for b in buckets if b.start in wanted and b.n]
        if not means:
            return None
        median = statistics.median(means)
        mad = statistics.median(abs(m - median) for m in means)
        return median, mad, len(means)
