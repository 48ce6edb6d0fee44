"""Who answers for a grid: its grid workers (网格员) and its units per matter or department."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cityops.auth.audit import make_entry
from cityops.auth.model import Grant, Principal
from cityops.auth.permissions import Role
from cityops.auth.scopes import ResourceScope
from cityops.catalog.reference import check_matter_class
from cityops.geo.codes import Level
from cityops.geo.events import GridAssignmentChanged
from cityops.geo.ports import GeoUnitOfWork
from cityops.kernel.clock import Clock
from cityops.kernel.errors import Conflict, NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

KEY_KINDS = ("matter", "department")


@dataclass(frozen=True, slots=True)
class GridResponsibility:
    """A grid's workers and its responsible units by matter class and by department."""

    grid_code: str
    workers: tuple[str, ...]
    by_matter: dict[str, str]
    by_department: dict[str, str]

    def unit_for(self, matter_code: str | None, department_code: str | None) -> str | None:
        """Return the responsible unit: by matter class first, then by department."""
        if matter_code and matter_code in self.by_matter:
            return self.by_matter[matter_code]
        if department_code and department_code in self.by_department:
            return self.by_department[department_code]
        return None

    def as_json(self) -> dict[str, object]:
        """Return JSON-ready data."""
        return {
            "grid_code": self.grid_code,
            "workers": list(self.workers),
            "by_matter": dict(sorted(self.by_matter.items())),
            "by_department": dict(sorted(self.by_department.items())),
        }


class ResponsibilityService:
    """Assign grid workers and responsible units; every change is audited."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[GeoUnitOfWork],
        clock: Clock,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._on_change = on_change

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def get(self, principal: Principal, grid_code: str) -> GridResponsibility:
        """Return a grid's workers and responsible units."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            self._grid(uow, grid_code)
            return _responsibility(uow, grid_code)

    def grids_of(self, principal: Principal, username: str) -> list[str]:
        """Return the grids a worker is assigned to."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.grid_assignments.grids_of_worker(username)

    def assign_worker(
        self, principal: Principal, grid_code: str, username: str, *, remove: bool = False
    ) -> GridResponsibility:
        """Add (or remove) a grid worker; the user must hold the patroller role."""
        with self._unit_of_work() as uow:
            self._grid(uow, grid_code)
            grant = principal.authorize("geo:write", ResourceScope(division_code=grid_code))
            user = uow.users.get(username)
            if user is None:
                raise ValidationFailed.single("username", "user_exists", f"no user {username}")
            if not remove and not any(g.role is Role.PATROLLER for g in user.grants):
                raise ValidationFailed.single(
                    "username", "patroller_role", f"{username} does not hold the patroller role"
                )
            before = _responsibility(uow, grid_code)
            changed = (
                uow.grid_assignments.remove_worker(grid_code, user.username)
                if remove
                else uow.grid_assignments.add_worker(grid_code, user.username, self._clock.now())
            )
            if not changed:
                verb = "is not" if remove else "is already"
                raise Conflict(f"{username} {verb} a worker of grid {grid_code}")
            after = _responsibility(uow, grid_code)
            self._audit(
                uow,
                principal,
                grant,
                "geo.worker_" + ("remove" if remove else "add"),
                before,
                after,
            )
            uow.record(GridAssignmentChanged(grid_code=grid_code, change="workers"))
            uow.commit()
        self._changed()
        return after

    def set_unit(
        self,
        principal: Principal,
        grid_code: str,
        *,
        key_kind: str,
        key: str,
        unit_code: str | None,
    ) -> GridResponsibility:
        """Set (or clear, with None) the unit responsible in a grid for a matter or department."""
        if key_kind not in KEY_KINDS:
            raise ValidationFailed.single(
                "key_kind", "one_of", f"must be one of {', '.join(KEY_KINDS)}"
            )
        with self._unit_of_work() as uow:
            self._grid(uow, grid_code)
            grant = principal.authorize("geo:write", ResourceScope(division_code=grid_code))
            _check_key(uow, key_kind, key)
            if unit_code is not None and uow.departments.get(unit_code) is None:
                raise ValidationFailed.single(
                    "unit_code", "department_exists", f"no department {unit_code}"
                )
            before = _responsibility(uow, grid_code)
            uow.grid_assignments.set_unit(grid_code, key_kind, key, unit_code, self._clock.now())
            after = _responsibility(uow, grid_code)
            self._audit(uow, principal, grant, "geo.unit_set", before, after)
            uow.record(GridAssignmentChanged(grid_code=grid_code, change="units"))
            uow.commit()
        self._changed()
        return after

    def bulk_assign(
        self,
        principal: Principal,
        *,
        workers: Sequence[tuple[str, str]] = (),
        units: Sequence[tuple[str, str, str, str]] = (),
    ) -> int:
        """Add many (grid, username) workers and (grid, kind, key, unit) units in one go.

        Existing assignments are kept; returns how many were added. For loaders (the demo
        city, a migration from another platform): checks are the same as one at a time.
        """
        added = 0
        now = self._clock.now()
        with self._unit_of_work() as uow:
            grant = principal.authorize("geo:write")
            grids = {g for g, _ in workers} | {u[0] for u in units}
            current = {g.code for g in uow.divisions.list_current(level=Level.GRID)}
            missing = sorted(grids - current)
            if missing:
                raise NotFound(
                    f"no grid {missing[0]}"
                    + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                )
            for username in sorted({u for _, u in workers}):
                user = uow.users.get(username)
                if user is None or not any(g.role is Role.PATROLLER for g in user.grants):
                    raise ValidationFailed.single(
                        "username", "patroller_role", f"{username} is not a patroller"
                    )
            have_workers = uow.grid_assignments.all_workers()
            new_workers = sorted(set(workers) - have_workers)
            uow.grid_assignments.add_workers_many(new_workers, now)
            added += len(new_workers)
            for key_kind, key in sorted({(u[1], u[2]) for u in units}):
                if key_kind not in KEY_KINDS:
                    raise ValidationFailed.single("key_kind", "one_of", ", ".join(KEY_KINDS))
                _check_key(uow, key_kind, key)
            for unit_code in sorted({u[3] for u in units}):
                if uow.departments.get(unit_code) is None:
                    raise ValidationFailed.single(
                        "unit_code", "department_exists", f"no department {unit_code}"
                    )
            existing = uow.grid_assignments.all_units()
            fresh: dict[tuple[str, str, str], str] = {}
            for grid_code, key_kind, key, unit_code in units:
                assigned = existing.get((grid_code, key_kind, key))
                if assigned is None:
                    fresh[(grid_code, key_kind, key)] = unit_code
                elif assigned != unit_code:
                    uow.grid_assignments.set_unit(grid_code, key_kind, key, unit_code, now)
                    existing[(grid_code, key_kind, key)] = unit_code
                    added += 1
            uow.grid_assignments.add_units_many(
                [(*k, unit) for k, unit in sorted(fresh.items())], now
            )
            added += len(fresh)
            if added:
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="geo.bulk_assign",
                        object_type="grid",
                        object_id="*",
                        after={"workers": len(workers), "units": len(units), "added": added},
                    )
                )
                uow.record(GridAssignmentChanged(grid_code="*", change="bulk"))
            uow.commit()
        self._changed()
        return added

    def _audit(
        self,
        uow: GeoUnitOfWork,
        principal: Principal,
        grant: Grant,
        action: str,
        before: GridResponsibility,
        after: GridResponsibility,
    ) -> None:
        uow.audit.append(
            make_entry(
                self._clock,
                principal,
                grant,
                action=action,
                object_type="grid",
                object_id=after.grid_code,
                before=before.as_json(),
                after=after.as_json(),
            )
        )

    @staticmethod
    def _grid(uow: GeoUnitOfWork, grid_code: str) -> None:
        found = uow.divisions.current(grid_code)
        if found is None or found.level is not Level.GRID:
            raise NotFound(f"no grid {grid_code}")


def _check_key(uow: GeoUnitOfWork, key_kind: str, key: str) -> None:
    if key_kind == "department":
        if uow.departments.get(key) is None:
            raise ValidationFailed.single("key", "department_exists", f"no department {key}")
        return
    check_matter_class(key, field="key")


def _responsibility(uow: GeoUnitOfWork, grid_code: str) -> GridResponsibility:
    units = uow.grid_assignments.units(grid_code)
    return GridResponsibility(
        grid_code=grid_code,
        workers=tuple(uow.grid_assignments.workers(grid_code)),
        by_matter={key: unit for (kind, key), unit in units.items() if kind == "matter"},
        by_department={key: unit for (kind, key), unit in units.items() if kind == "department"},
    )
