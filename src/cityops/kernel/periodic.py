"""Run a task on a background thread every so many seconds: the one shape of every sweep.

Deadline sweeps, alert sweeps, webhook sends and rollup folds all use :class:`Periodic`. A task
that raises is logged and tried again at the next tick: one failure must not end the loop.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Call ``task`` every ``interval`` seconds on a daemon thread until stopped."""

    def __init__(self, name: str, task: Callable[[], object], interval: float) -> None:
        self.name = name
        self._task = task
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is started."""
        return self._thread is not None

    def start(self) -> None:
        """Start (no-op when the interval is 0 or already running)."""
        if self._interval <= 0 or self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and wait for the thread (a task in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._task()
            except Exception:  # the next tick retries
                log.exception("%s failed", self.name)


class PeriodicGroup:
    """Several :class:`Periodic` started and stopped as one (e.g. the parts of a fold)."""

    def __init__(self, members: list[Periodic]) -> None:
        self.members = members

    @property
    def running(self) -> bool:
        """Whether any member's thread is started."""
        return any(member.running for member in self.members)

    def start(self) -> None:
        """Start every member."""
        for member in self.members:
            member.start()

    def stop(self) -> None:
        """Stop every member (each finishes its task in progress)."""
        for member in self.members:
            member.stop()
