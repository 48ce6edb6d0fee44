"""The routing data intake reads for every case, kept in memory and re-read when it changes.

Proposing a department and a grid worker needs the matter rules of the case's class and the
grid's responsible units and workers. They change a few times a day; cases arrive hundreds of
times a second. The book keeps them in memory:

* changes made through this process's services (matter rules, grid responsibility) call
  :meth:`RoutingBook.invalidate` and are seen by the next case;
* every :data:`RECHECK_SECONDS` the book compares the store's revisions of both (one small
  query each) and forgets what changed, so a change made by another process (the CLI, a second
  server) is seen within that time;
* the grids' units and workers are read all at once while there are at most
  :data:`PRELOAD_MAX_ASSIGNMENTS` of them; beyond that (a megacity with many per-grid
  assignments) grid by grid as cases arrive, keeping at most :data:`MAX_GRIDS`.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable

from cityops.cases.ports import CasesUnitOfWork
from cityops.cases.rules import MatterRule

RECHECK_SECONDS = 2.0
"""How long routing data is trusted before the store's revisions are compared again."""

PRELOAD_MAX_ASSIGNMENTS = 200_000
"""Up to this many workers and units in all, every grid's are read at once (one query each)."""

MAX_GRIDS = 50_000
"""Beyond that, grids are read one by one as cases arrive, and at most this many are kept."""

GridRouting = tuple[dict[tuple[str, str], str], list[str]]
"""A grid's units by (key_kind, key) and its workers ordered by username."""


class RoutingBook:
    """Matter rules by class and units and workers by grid; safe to share between threads."""

    def __init__(
        self,
        recheck_seconds: float = RECHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._recheck_seconds = recheck_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._checked_at = float("-inf")
        self._revisions: tuple[Hashable, tuple[int, str, int, str]] | None = None
        self._assignments = 0
        self._rules: dict[str, list[MatterRule]] | None = None
        self._grids: dict[str, GridRouting] = {}
        self._grids_complete = False  # True: every grid with an assignment is in _grids
        self._rules_generation = 0
        self._grids_generation = 0

    def invalidate(self) -> None:
        """Forget everything (a service of this process changed rules or responsibilities)."""
        with self._lock:
            self._revisions = None
            self._forget_rules()
            self._forget_grids()
            self._checked_at = float("-inf")

    def rules_for(self, uow: CasesUnitOfWork, matter_code: str) -> list[MatterRule]:
        """Return the rules of one matter class (every division's)."""
        self._recheck(uow)
        rules = self._rules
        if rules is None:
            generation = self._rules_generation
            loaded: dict[str, list[MatterRule]] = defaultdict(list)
            for rule in uow.matter_rules.list():
                loaded[rule.matter_code].append(rule)
            rules = dict(loaded)
            with self._lock:
                # What was read before a change was forgotten must not be kept.
                if generation == self._rules_generation:
                    self._rules = rules
        return rules.get(matter_code, [])

    def grid(self, uow: CasesUnitOfWork, grid_code: str) -> GridRouting:
        """Return a grid's responsible units and workers."""
        self._recheck(uow)
        found = self._grids.get(grid_code)
        if found is not None:
            return found
        if self._grids_complete:
            return {}, []
        generation = self._grids_generation
        if self._assignments <= PRELOAD_MAX_ASSIGNMENTS:
            grids = _every_grid(uow)
            with self._lock:
                if generation == self._grids_generation:
                    self._grids, self._grids_complete = grids, True
            return grids.get(grid_code, ({}, []))
        found = uow.grid_assignments.units_and_workers(grid_code)
        with self._lock:
            if generation == self._grids_generation:
                if len(self._grids) >= MAX_GRIDS:
                    self._grids = {}
                self._grids[grid_code] = found
        return found

    def _forget_rules(self) -> None:
        self._rules = None
        self._rules_generation += 1

    def _forget_grids(self) -> None:
        self._grids = {}
        self._grids_complete = False
        self._grids_generation += 1

    def _recheck(self, uow: CasesUnitOfWork) -> None:
        if self._monotonic() - self._checked_at < self._recheck_seconds:
            return
        with self._lock:
            if self._monotonic() - self._checked_at < self._recheck_seconds:
                return
            revisions = (uow.matter_rules.revision(), uow.grid_assignments.revision())
            self._assignments = revisions[1][0] + revisions[1][2]
            known = self._revisions
            if known is None or revisions[0] != known[0]:
                self._forget_rules()
            if known is None or revisions[1] != known[1]:
                self._forget_grids()
            self._revisions = revisions
            self._checked_at = self._monotonic()


def _every_grid(uow: CasesUnitOfWork) -> dict[str, GridRouting]:
    grids: dict[str, GridRouting] = {}
    for (grid_code, kind, key), unit in uow.grid_assignments.all_units().items():
        grids.setdefault(grid_code, ({}, []))[0][(kind, key)] = unit
    for grid_code, username in sorted(uow.grid_assignments.all_workers()):
        grids.setdefault(grid_code, ({}, []))[1].append(username)
    return grids
