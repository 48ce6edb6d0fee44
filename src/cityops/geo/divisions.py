"""Importing, reading, exporting and checking divisions and grids (with history)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.geo.codes import Level, check_code
from cityops.geo.events import DivisionsImported
from cityops.geo.geometry import (
    area_m2,
    checksum,
    geometry_problem,
    planar_area_m2,
    to_geojson,
)
from cityops.geo.model import Division, DivisionInput, FeatureIssue, ImportReport
from cityops.geo.ports import GeoUnitOfWork
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWorkFactory

MAX_NAME = 100


def validate_inputs(
    inputs: Sequence[DivisionInput],
    known_codes: set[str],
    *,
    level: Level | None = None,
) -> tuple[list[tuple[DivisionInput, Level]], list[FeatureIssue]]:
    """Check every feature; return the good ones (parents first) and one issue per bad one."""
    issues: list[FeatureIssue] = []
    coded: list[tuple[DivisionInput, Level]] = []
    for item in inputs:
        try:
            found = check_code(item.code, level=level, parent_code=item.parent_code)
        except ValidationFailed as error:
            issue = error.issues[0]
            issues.append(
                FeatureIssue(item.index, item.code, issue.field, issue.rule, issue.message)
            )
            continue
        coded.append((item, found))
    # Parents first: a child counts its parent as present only if it is stored or accepted in
    # this import, so a refused community never leaves its grids behind without a parent.
    coded.sort(key=lambda pair: (pair[1].depth, pair[0].index))
    seen: dict[str, int] = {}
    known = set(known_codes)
    good: list[tuple[DivisionInput, Level]] = []
    for item, found in coded:
        problem = _other_problem(item, found, seen, known)
        if problem is not None:
            field, rule, message = problem
            issues.append(FeatureIssue(item.index, item.code, field, rule, message))
            continue
        seen[item.code] = item.index
        known.add(item.code)
        good.append((item, found))
    good.sort(key=lambda pair: (pair[1].depth, pair[0].code))
    issues.sort(key=lambda issue: issue.index)
    return good, issues


def _other_problem(
    item: DivisionInput, level: Level, seen: dict[str, int], known: set[str]
) -> tuple[str, str, str] | None:
    if item.code in seen:
        return "code", "duplicate_code", f"{item.code} already appears in feature {seen[item.code]}"
    name = item.name.strip()
    if not name:
        return "name", "required", "every division needs a name"
    if len(name) > MAX_NAME:
        return "name", "max_length", f"at most {MAX_NAME} characters"
    problem = geometry_problem(item.geometry)
    if problem is not None:
        return ("geometry", *problem)
    # A city may hold only its own district: the levels above need not be stored.
    needs_parent = level in (Level.STREET, Level.COMMUNITY, Level.GRID)
    if needs_parent and item.parent_code is not None and item.parent_code not in known:
        return (
            "parent_code",
            "parent_exists",
            f"the parent {item.parent_code} is neither stored nor accepted in this import",
        )
    return None


class DivisionService:
    """Divisions and grids: import (idempotent, with history), read, export, check."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[GeoUnitOfWork],
        clock: Clock,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._on_change = on_change  # e.g. the locator's cache, so this process sees it at once

    def import_divisions(
        self,
        principal: Principal,
        inputs: Sequence[DivisionInput],
        *,
        level: Level | None = None,
        skip_invalid: bool = False,
    ) -> ImportReport:
        """Store new and changed divisions; unchanged ones are left alone.

        Atomic by default: any invalid feature means nothing is written and every problem is
        reported. With ``skip_invalid`` the valid features are written and the rest reported.
        A changed division keeps its old version (closed at the time of the import).
        """
        report = ImportReport()
        now = self._clock.now()
        with self._unit_of_work() as uow:
            grant = principal.authorize("geo:write")
            parents = {i.parent_code for i in inputs if i.parent_code}
            known = set(uow.divisions.current_checksums(parents))
            good, report.issues = validate_inputs(inputs, known, level=level)
            if report.issues and not skip_invalid:
                return report
            existing = uow.divisions.current_checksums(item.code for item, _ in good)
            versions: list[tuple[Division, str]] = []
            for item, found in good:
                assert item.geometry is not None
                division = Division(
                    code=item.code,
                    name=item.name.strip(),
                    level=found,
                    parent_code=item.parent_code,
                    geometry=item.geometry,
                    area_m2=area_m2(item.geometry),
                    valid_from=now,
                )
                fingerprint = checksum(item.geometry, division.name, item.parent_code)
                if existing.get(item.code) == fingerprint:
                    report.unchanged.append(item.code)
                    continue
                if item.code in existing:
                    uow.divisions.close_version(item.code, now)
                    report.changed.append(item.code)
                else:
                    report.created.append(item.code)
                versions.append((division, fingerprint))
            _add_versions(uow, versions)
            if versions:
                batch = uuid.uuid4().hex[:12]
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="geo.import",
                        object_type="division_batch",
                        object_id=batch,
                        after={
                            "created": report.created[:1000],
                            "changed": report.changed[:1000],
                            "unchanged": len(report.unchanged),
                            "skipped": [i.index for i in report.issues],
                        },
                    )
                )
                uow.record(
                    DivisionsImported(
                        batch=batch, created=len(report.created), changed=len(report.changed)
                    )
                )
            uow.commit()
            report.written = True
        if self._on_change is not None:
            self._on_change()
        return report

    def get(self, principal: Principal, code: str, at: datetime | None = None) -> Division:
        """Return the current version of a division (or the one in force at ``at``)."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.divisions.current(code) if at is None else uow.divisions.at(code, at)
        if found is None:
            raise NotFound(f"no division {code}" + (f" at {at.isoformat()}" if at else ""))
        return found

    def history(self, principal: Principal, code: str) -> list[Division]:
        """Return every version of a division, oldest first."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            versions = uow.divisions.history(code)
        if not versions:
            raise NotFound(f"no division {code}")
        return versions

    def find(
        self,
        principal: Principal,
        *,
        level: Level | None = None,
        parent_code: str | None = None,
        code_prefix: str | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        limit: int | None = None,
    ) -> list[Division]:
        """Return current divisions by level, parent, code prefix and bounding box."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.divisions.list_current(
                level=level,
                parent_code=parent_code,
                code_prefix=code_prefix,
                bbox=bbox,
                limit=limit,
            )

    def export(self, principal: Principal, **filters: Any) -> dict[str, Any]:
        """Return current divisions as a GeoJSON FeatureCollection."""
        return feature_collection(self.find(principal, **filters))

    def check(self, principal: Principal, *, parent_code: str | None = None) -> list[GridIssue]:
        """Report gaps and overlaps between siblings, and children outside their parent."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            everything = uow.divisions.list_current(code_prefix=parent_code)
            if parent_code is not None:
                root = uow.divisions.current(parent_code)
                if root is None:
                    raise NotFound(f"no division {parent_code}")
        by_code = {d.code: d for d in everything}
        children: dict[str, list[Division]] = {}
        for division in everything:
            if division.parent_code is not None:
                children.setdefault(division.parent_code, []).append(division)
        issues: list[GridIssue] = []
        for code, kids in sorted(children.items()):
            parent = by_code.get(code)
            if parent is not None:
                issues.extend(sibling_issues(parent, kids))
        return issues


def _add_versions(uow: GeoUnitOfWork, versions: list[tuple[Division, str]]) -> None:
    add_many = getattr(uow.divisions, "add_versions", None)
    if add_many is not None:
        add_many(versions)
        return
    for division, fingerprint in versions:
        uow.divisions.add_version(division, fingerprint)


@dataclass(frozen=True, slots=True)
class GridIssue:
    """A topology problem among siblings: a gap, an overlap, or a child outside its parent."""

    kind: str  # gap, overlap, outside_parent
    parent_code: str
    codes: tuple[str, ...]
    area_m2: float
    lon: float
    lat: float

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        return {
            "kind": self.kind,
            "parent_code": self.parent_code,
            "codes": list(self.codes),
            "area_m2": round(self.area_m2, 2),
            "lon": round(self.lon, 7),
            "lat": round(self.lat, 7),
        }


# Slivers smaller than this are rounding noise of coordinates stored to 1e-7°, not gaps.
MIN_ISSUE_AREA_M2 = 1.0


def sibling_issues(parent: Division, kids: list[Division]) -> list[GridIssue]:
    """Find gaps, overlaps and overhangs among the children of one parent."""
    issues: list[GridIssue] = []
    geometries = [k.geometry for k in kids]
    tree = shapely.STRtree(geometries)
    left, right = tree.query(geometries, predicate="intersects")
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        shared = shapely.intersection(geometries[a], geometries[b])
        _maybe(issues, "overlap", parent.code, (kids[a].code, kids[b].code), shared)
    covered = shapely.union_all(geometries)
    for part in shapely.get_parts(shapely.difference(parent.geometry, covered)):
        _maybe(issues, "gap", parent.code, (), part)
    for kid in kids:
        _maybe(
            issues,
            "outside_parent",
            parent.code,
            (kid.code,),
            shapely.difference(kid.geometry, parent.geometry),
        )
    return issues


def _maybe(
    issues: list[GridIssue], kind: str, parent: str, codes: tuple[str, ...], shape: BaseGeometry
) -> None:
    polygons = [
        p
        for p in shapely.get_parts(shape)
        if p.geom_type in ("Polygon", "MultiPolygon") and not p.is_empty
    ]
    merged = shapely.union_all(polygons) if polygons else None
    if merged is None or merged.is_empty:
        return
    # Slivers are measured flat: a geodesic area treats each long edge as a curve and gives a
    # hair-thin overlay sliver along a straight edge tens of square metres.
    size = planar_area_m2(merged)
    if size < MIN_ISSUE_AREA_M2:
        return
    point = merged.representative_point()
    issues.append(GridIssue(kind, parent, codes, size, point.x, point.y))


def feature_collection(found: Sequence[Division]) -> dict[str, Any]:
    """Return divisions as a GeoJSON FeatureCollection."""
    return {
        "type": "FeatureCollection",
        "features": [division_feature(d) for d in found],
    }


def division_feature(division: Division) -> dict[str, Any]:
    """Return one division as a GeoJSON Feature."""
    return {
        "type": "Feature",
        "id": division.code,
        "geometry": to_geojson(division.geometry),
        "properties": {
            "code": division.code,
            "name": division.name,
            "level": division.level.value,
            "parent_code": division.parent_code,
            "area_m2": round(division.area_m2, 1),
            "valid_from": division.valid_from.isoformat(),
            "valid_to": division.valid_to.isoformat() if division.valid_to else None,
        },
    }


def with_validity(division: Division, valid_to: datetime) -> Division:
    """Return the division closed at ``valid_to``."""
    return replace(division, valid_to=valid_to)
