"""The components registry (管理部件): GB/T 47678.5 表2 attributes, a point, a 17-digit id.

Components are imported from CSV or GeoJSON rows (per-row errors, atomic unless told to skip),
placed on their grid, community and street by the point, and found again by proximity: "which
manhole cover is this report about?".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime
from typing import Any, Protocol

from cityops.auth.audit import make_entry
from cityops.auth.model import Principal
from cityops.catalog.reference import check_component_class, parse_component_id
from cityops.kernel.clock import Clock
from cityops.kernel.errors import NotFound, ValidationFailed
from cityops.kernel.uow import UnitOfWork, UnitOfWorkFactory

STATUSES = ("完好", "破损", "丢失", "废弃", "移除")  # GB/T 47678.5 表2 GLBJZT
DATA_SOURCES = ("实测", "地形图", "基础地理数据", "其他")  # 表2 SJLY
# Text limits of 表2 (字符型 lengths).
LIMITS = {
    "name": 30,
    "department_code": 18,
    "department_name": 100,
    "owner_code": 18,
    "owner_name": 100,
    "maintainer_code": 18,
    "maintainer_name": 100,
    "data_source": 30,
    "note": 1000,
}
_METRES_PER_DEGREE = 111_320.0


@dataclass(frozen=True, slots=True)
class Component:
    """One managed component with the standard attributes of GB/T 47678.5 表2."""

    id: str  # 管理部件标识码 GLBJBSM, 17 digits
    class_code: str
    name: str  # 管理部件名称 GLBJMC
    department_code: str  # 主管部门代码 ZGBMDM
    department_name: str  # 主管部门名称 ZGBMMC
    status: str  # 管理部件状态 GLBJZT
    initial_date: date  # 初始日期 CSRQ
    lon: float
    lat: float
    owner_code: str | None = None  # 权属单位 QSDWDM/QSDWMC
    owner_name: str | None = None
    maintainer_code: str | None = None  # 养护单位 YHDWDM/YHDWMC
    maintainer_name: str | None = None
    change_date: date | None = None  # 变更日期 BGRQ
    data_source: str | None = None  # 数据来源 SJLY
    note: str | None = None  # 备注 BZ
    grid_code: str | None = None  # 所在单元网格标识码 SZDYWGBSM
    street_code: str | None = None  # 所在街道（镇、乡）代码 SZJDDM / 名称
    street_name: str | None = None
    community_code: str | None = None  # 所在社区（村）代码 SZSQDM / 名称
    community_name: str | None = None

    @property
    def division_code(self) -> str:
        """The 6-digit division code the id starts with."""
        return self.id[:6]

    def as_json(self) -> dict[str, Any]:
        """Return JSON-ready data."""
        data = asdict(self)
        data["initial_date"] = self.initial_date.isoformat()
        data["change_date"] = self.change_date.isoformat() if self.change_date else None
        data["division_code"] = self.division_code
        return data


@dataclass(frozen=True, slots=True)
class RowIssue:
    """What is wrong with one input row."""

    row: int
    id: str | None
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return (
            f"row {self.row}"
            + (f" ({self.id})" if self.id else "")
            + (f": {self.field}: {self.message} (rule: {self.rule})")
        )


@dataclass(slots=True)
class ComponentImportReport:
    """Created, updated and unchanged ids, and refused rows."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)
    written: bool = False

    def summary(self) -> dict[str, Any]:
        """Return counts and issues as JSON-ready data."""
        return {
            "written": self.written,
            "created": len(self.created),
            "updated": len(self.updated),
            "unchanged": len(self.unchanged),
            "issues": [
                {"row": i.row, "id": i.id, "field": i.field, "rule": i.rule, "message": i.message}
                for i in self.issues
            ],
        }


class ComponentRepository(Protocol):
    """Components in a store."""

    def get_many(self, ids: Sequence[str]) -> dict[str, Component]:
        """Return the stored components with these ids."""
        ...

    def upsert_many(self, components: Sequence[Component], at: datetime) -> None:
        """Insert or replace components in one batch."""
        ...

    def in_box(
        self,
        min_lon: float,
        min_lat: float,
        max_lon: float,
        max_lat: float,
        class_code: str | None,
        limit: int,
    ) -> list[Component]:
        """Return components inside a bounding box."""
        ...

    def find(
        self, *, grid_code: str | None, class_code: str | None, limit: int, offset: int
    ) -> list[Component]:
        """Return components by grid and class, ordered by id."""
        ...

    def count(self) -> int:
        """Return how many components are stored."""
        ...


class ComponentsUnitOfWork(UnitOfWork, Protocol):
    """A transaction with the components repository."""

    @property
    def components(self) -> ComponentRepository:
        """The components."""
        ...


# Where a point is: grid, community (code, name), street (code, name); None outside all grids.
Placer = Callable[
    [Sequence[float], Sequence[float]],
    list[tuple[str | None, tuple[str, str] | None, tuple[str, str] | None]],
]


def _text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _date(
    text: str | None, field: str, row: int, issues: list[RowIssue], cid: str | None
) -> date | None:
    if text is None:
        return None
    for pattern in ("%Y%m%d", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, pattern).date()  # noqa: DTZ007 — a calendar date
        except ValueError:
            continue
    issues.append(RowIssue(row, cid, field, "date_format", "use YYYYMMDD or YYYY-MM-DD"))
    return None


def component_from_row(
    row: Mapping[str, Any], index: int
) -> tuple[Component | None, list[RowIssue]]:
    """Check one input row (CSV columns or GeoJSON properties + lon/lat)."""
    issues: list[RowIssue] = []
    cid = _text(row, "id")
    if cid is None:
        return None, [
            RowIssue(index, None, "id", "required", "the 17-digit component id is missing")
        ]
    try:
        parsed = parse_component_id(cid, field="id")
        check_component_class(parsed.class_code, field="id")
    except (ValidationFailed, NotFound) as error:
        rule = error.issues[0].rule if isinstance(error, ValidationFailed) else "class_known"
        return None, [RowIssue(index, cid, "id", rule, error.message)]
    for key in ("name", "department_code", "department_name", "status", "initial_date"):
        if _text(row, key) is None:
            issues.append(RowIssue(index, cid, key, "required", f"{key} is required (表2 M)"))
    for key, limit in LIMITS.items():
        value = _text(row, key)
        if value is not None and len(value) > limit:
            issues.append(RowIssue(index, cid, key, "max_length", f"at most {limit} characters"))
    status = _text(row, "status")
    if status is not None and status not in STATUSES:
        issues.append(RowIssue(index, cid, "status", "one_of", f"one of {'、'.join(STATUSES)}"))
    source = _text(row, "data_source")
    if source is not None and source not in DATA_SOURCES:
        issues.append(
            RowIssue(index, cid, "data_source", "one_of", f"one of {'、'.join(DATA_SOURCES)}")
        )
    lon, lat = (
        _coordinate(row, "lon", index, cid, issues),
        _coordinate(row, "lat", index, cid, issues),
    )
    initial = _date(_text(row, "initial_date"), "initial_date", index, issues, cid)
    changed = _date(_text(row, "change_date"), "change_date", index, issues, cid)
    if issues or lon is None or lat is None or initial is None:
        return None, issues
    component = Component(
        id=cid,
        class_code=parsed.class_code,
        name=_text(row, "name") or "",
        department_code=_text(row, "department_code") or "",
        department_name=_text(row, "department_name") or "",
        status=status or "",
        initial_date=initial,
        lon=lon,
        lat=lat,
        owner_code=_text(row, "owner_code"),
        owner_name=_text(row, "owner_name"),
        maintainer_code=_text(row, "maintainer_code"),
        maintainer_name=_text(row, "maintainer_name"),
        change_date=changed,
        data_source=source,
        note=_text(row, "note"),
    )
    return component, []


def _coordinate(
    row: Mapping[str, Any], key: str, index: int, cid: str | None, issues: list[RowIssue]
) -> float | None:
    text = _text(row, key)
    bound = 180.0 if key == "lon" else 90.0
    try:
        value = float(text) if text is not None else math.nan
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or abs(value) > bound:
        issues.append(
            RowIssue(index, cid, key, "range", f"{key} must be a number within ±{bound:g}")
        )
        return None
    return value


class ComponentService:
    """Import, read and find components."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory[ComponentsUnitOfWork],
        clock: Clock,
        placer: Placer,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._clock = clock
        self._placer = placer

    def import_rows(
        self, principal: Principal, rows: Sequence[Mapping[str, Any]], *, skip_invalid: bool = False
    ) -> ComponentImportReport:
        """Insert or update components; atomic unless ``skip_invalid``."""
        report = ComponentImportReport()
        good: list[Component] = []
        seen: set[str] = set()
        for index, row in enumerate(rows, start=1):
            component, issues = component_from_row(row, index)
            if component is not None and component.id in seen:
                issues = [
                    RowIssue(
                        index,
                        component.id,
                        "id",
                        "duplicate_id",
                        "the id appears twice in this import",
                    )
                ]
            if issues or component is None:
                report.issues.extend(issues)
                continue
            seen.add(component.id)
            good.append(component)
        if report.issues and not skip_invalid:
            return report
        good = self._placed(good)
        now = self._clock.now()
        with self._unit_of_work() as uow:
            grant = principal.authorize("geo:write")
            stored = uow.components.get_many([c.id for c in good])
            changed = []
            for component in good:
                if component.id not in stored:
                    report.created.append(component.id)
                elif stored[component.id] != component:
                    report.updated.append(component.id)
                else:
                    report.unchanged.append(component.id)
                    continue
                changed.append(component)
            uow.components.upsert_many(changed, now)
            if changed:
                uow.audit.append(
                    make_entry(
                        self._clock,
                        principal,
                        grant,
                        action="components.import",
                        object_type="component_batch",
                        object_id=now.strftime("%Y%m%dT%H%M%S"),
                        after={
                            "created": len(report.created),
                            "updated": report.updated[:1000],
                            "skipped": [i.row for i in report.issues],
                        },
                    )
                )
            uow.commit()
        report.written = True
        return report

    def _placed(self, components: list[Component]) -> list[Component]:
        if not components:
            return components
        places = self._placer([c.lon for c in components], [c.lat for c in components])
        placed = []
        for component, (grid, community, street) in zip(components, places, strict=True):
            placed.append(
                replace(
                    component,
                    # Where the point falls decides the grid; a grid column in a file does not.
                    grid_code=grid,
                    community_code=community[0] if community else None,
                    community_name=community[1][:50] if community else None,
                    street_code=street[0] if street else None,
                    street_name=street[1][:50] if street else None,
                )
            )
        return placed

    def get(self, principal: Principal, component_id: str) -> Component:
        """Return one component."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            found = uow.components.get_many([component_id]).get(component_id)
        if found is None:
            raise NotFound(f"no component {component_id}")
        return found

    def find(
        self,
        principal: Principal,
        *,
        grid_code: str | None = None,
        class_code: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Component]:
        """Return components by grid and class."""
        principal.require_somewhere("geo:read")
        with self._unit_of_work(read_only=True) as uow:
            return uow.components.find(
                grid_code=grid_code, class_code=class_code, limit=limit, offset=offset
            )

    def nearest(
        self,
        principal: Principal,
        lon: float,
        lat: float,
        *,
        class_code: str | None = None,
        within_m: float = 100.0,
        limit: int = 5,
    ) -> list[tuple[Component, float]]:
        """Return up to ``limit`` components within ``within_m`` metres, nearest first."""
        principal.require_somewhere("geo:read")
        if class_code is not None:
            check_component_class(class_code)
        if not 0 < within_m <= 5000:
            raise ValidationFailed.single("within_m", "range", "between 0 and 5000 metres")
        dlat = within_m / _METRES_PER_DEGREE
        dlon = within_m / (_METRES_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        with self._unit_of_work(read_only=True) as uow:
            candidates = uow.components.in_box(
                lon - dlon, lat - dlat, lon + dlon, lat + dlat, class_code, 10_000
            )
        scored = [(c, _metres(lon, lat, c.lon, c.lat)) for c in candidates]
        scored = [pair for pair in scored if pair[1] <= within_m]
        scored.sort(key=lambda pair: (pair[1], pair[0].id))
        return scored[:limit]


def _metres(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Return the haversine distance in metres (exact enough within a few kilometres)."""
    radius = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * radius * math.asin(math.sqrt(a))
