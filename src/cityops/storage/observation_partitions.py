"""PostgreSQL: the observations table's time partitions, created before a batch needs them.

``observations`` is partitioned by range of ``phenomenon_time`` (UTC epoch ms) into partitions
``observations_pYYYYMMDD`` of ``width_days`` days each (7 by default), aligned on 1970-01-01 so
that every process cuts the same ranges. A writer asks for the partitions of its batch's times
before it writes; the ones this process has not seen are created in a short transaction of their
own (creating a partition locks its parent, which must not be held for a whole batch). Two
processes may race to create one: the loser's "already exists" is taken as success.

Retention drops whole partitions older than the cut-off: instant, and no dead rows to vacuum.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

PARTITION_NAME = re.compile(r"observations_p\d{8}")
DAY_MS = 86_400_000


class ObservationPartitions:
    """Creates (and drops) the time partitions of ``observations`` on PostgreSQL."""

    def __init__(self, engine: Engine, width_days: int = 7) -> None:
        if width_days < 1:
            raise ValueError("partitions are at least one day wide")
        self._engine = engine
        self._width = width_days * DAY_MS
        self._known: set[int] = set()
        self._lock = threading.Lock()

    def start_of(self, millis: int) -> int:
        """Return the start (epoch ms) of the partition holding ``millis``."""
        return millis - millis % self._width

    def name_of(self, start: int) -> str:
        """Return the partition's table name, from its start date."""
        day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=start)
        return f"observations_p{day:%Y%m%d}"

    def ensure(self, times: Sequence[int]) -> None:
        """Create the partitions that ``times`` fall in and that this process has not seen."""
        if not times:
            return
        low, high = min(times), max(times)
        if high - low < self._width:  # the usual batch: one partition, or two side by side
            starts = {low - low % self._width, high - high % self._width}
        else:
            starts = {t - t % self._width for t in times}
        missing = starts - self._known
        if not missing:
            return
        with self._lock:
            missing -= self._known
            if not missing:
                return
            existing = self._existing()
            for start in sorted(missing - existing):
                self._create(start)
            self._known |= missing | existing

    def _existing(self) -> set[int]:
        with self._engine.connect() as connection:
            names = connection.execute(
                text(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = 'observations'::regclass"
                )
            ).scalars()
            found = set()
            for name in names:
                if PARTITION_NAME.fullmatch(name):
                    day = datetime.strptime(name[-8:], "%Y%m%d").replace(tzinfo=UTC)
                    found.add(int((day - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds()) * 1000)
            return found

    def _create(self, start: int) -> None:
        name = self.name_of(start)
        statement = (
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF observations "
            f"FOR VALUES FROM ({start}) TO ({start + self._width})"
        )
        try:
            with self._engine.begin() as connection:
                connection.exec_driver_sql(statement)
        except DBAPIError as error:
            # Another process created it between our look and our CREATE.
            if "already exists" not in str(error.orig) and "duplicate key" not in str(error.orig):
                raise

    def drop_before(self, cutoff_ms: int) -> list[str]:
        """Drop every partition that ends at or before ``cutoff_ms``; return their names."""
        with self._lock:
            dropped = []
            for start in sorted(self._existing()):
                if start + self._width <= cutoff_ms:
                    name = self.name_of(start)
                    with self._engine.begin() as connection:
                        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
                    dropped.append(name)
                    self._known.discard(start)
            return dropped
