"""Divisions, locating and grid responsibility on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import functools
from dataclasses import replace
from datetime import timedelta

import pytest
import shapely
from shapely.geometry import Polygon

from cityops.auth.permissions import Role
from cityops.demo.city import generate
from cityops.geo.codes import Level
from cityops.geo.model import DivisionInput, Location, Place
from cityops.kernel.audit import AuditFilter
from cityops.kernel.errors import Conflict, NotFound, ValidationFailed

DISTRICT = "310101"
STREET_1, STREET_2 = "310101001", "310101002"
COMM_11, COMM_12, COMM_21 = "310101001001", "310101001002", "310101002001"
G111, G112 = "310101001001001", "310101001001002"
G121, G122 = "310101001002001", "310101001002002"
G211 = "310101002001001"

BOW_TIE = Polygon([(121.40, 31.20), (121.41, 31.21), (121.41, 31.20), (121.40, 31.21)])


def box(x0: float, y0: float, x1: float, y1: float) -> Polygon:
    return shapely.box(x0, y0, x1, y1)


def tree() -> list[DivisionInput]:
    """A district → 2 streets → 3 communities → 5 grids, nesting exactly, children first."""
    rows = [
        (G211, "外滩第1网格", COMM_21, box(121.42, 31.20, 121.44, 31.22)),
        (G122, "云南中路第2网格", COMM_12, box(121.41, 31.21, 121.42, 31.22)),
        (G121, "云南中路第1网格", COMM_12, box(121.41, 31.20, 121.42, 31.21)),
        (G112, "贵州路第2网格", COMM_11, box(121.40, 31.21, 121.41, 31.22)),
        (G111, "贵州路第1网格", COMM_11, box(121.40, 31.20, 121.41, 31.21)),
        (COMM_21, "外滩居委会", STREET_2, box(121.42, 31.20, 121.44, 31.22)),
        (COMM_12, "云南中路居委会", STREET_1, box(121.41, 31.20, 121.42, 31.22)),
        (COMM_11, "贵州路居委会", STREET_1, box(121.40, 31.20, 121.41, 31.22)),
        (STREET_2, "外滩街道", DISTRICT, box(121.42, 31.20, 121.44, 31.22)),
        (STREET_1, "南京东路街道", DISTRICT, box(121.40, 31.20, 121.42, 31.22)),
        (DISTRICT, "黄浦区", None, box(121.40, 31.20, 121.44, 31.22)),
    ]
    return [
        DivisionInput(i, code, name, parent, shape)
        for i, (code, name, parent, shape) in enumerate(rows)
    ]


ALL_CODES = sorted(i.code for i in tree())


def imports(services, system):
    return services.audit.query(system, AuditFilter(action="geo.import", limit=1000))


def stored_codes(services, system) -> list[str]:
    return [d.code for d in services.divisions.find(system)]


def revision(services) -> tuple[int, int]:
    with services.store.unit_of_work(read_only=True) as uow:
        return uow.divisions.revision()


def issues_of(report) -> list[tuple[int, str | None, str, str]]:
    return [(i.index, i.code, i.field, i.rule) for i in report.issues]


@pytest.fixture
def imported(services, system):
    report = services.divisions.import_divisions(system, tree())
    assert report.written
    assert report.issues == []
    return report


# -- import, idempotence, history ---------------------------------------------------------------


def test_import_stores_the_tree_parents_first(services, system, clock, imported) -> None:
    assert sorted(imported.created) == ALL_CODES
    assert imported.changed == imported.unchanged == []
    # Parents are written before their children whatever the input order.
    assert imported.created[:3] == [DISTRICT, STREET_1, STREET_2]
    assert stored_codes(services, system) == ALL_CODES

    grid = services.divisions.get(system, G111)
    assert (grid.name, grid.level, grid.parent_code) == ("贵州路第1网格", Level.GRID, COMM_11)
    assert shapely.equals(grid.geometry, box(121.40, 31.20, 121.41, 31.21))
    assert grid.valid_from == clock.now()
    assert grid.valid_to is None
    assert grid.current
    assert grid.area_m2 == pytest.approx(950.8 * 1109.2, rel=0.01)
    district = services.divisions.get(system, DISTRICT)
    assert (district.level, district.parent_code) == (Level.DISTRICT, None)

    [entry] = imports(services, system)
    assert entry.object_type == "division_batch"
    assert sorted(entry.after["created"]) == ALL_CODES
    assert entry.after["changed"] == []
    assert entry.after["skipped"] == []


def test_find_filters(services, system, imported) -> None:
    find = services.divisions.find
    assert [d.code for d in find(system, level=Level.STREET)] == [STREET_1, STREET_2]
    assert [d.code for d in find(system, parent_code=COMM_12)] == [G121, G122]
    assert [d.code for d in find(system, code_prefix=STREET_2)] == [STREET_2, COMM_21, G211]
    assert [
        d.code for d in find(system, level=Level.GRID, bbox=(121.401, 31.201, 121.402, 31.202))
    ] == [G111]
    assert [
        d.code for d in find(system, level=Level.GRID, bbox=(121.415, 31.205, 121.425, 31.206))
    ] == [G121, G211]
    assert find(system, bbox=(100.0, 20.0, 100.1, 20.1)) == []
    assert len(find(system, level=Level.GRID, limit=2)) == 2
    collection = services.divisions.export(system, level=Level.COMMUNITY)
    assert collection["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in collection["features"]] == [COMM_11, COMM_12, COMM_21]
    assert collection["features"][0]["properties"]["parent_code"] == STREET_1


def test_reimport_of_identical_data_changes_nothing(services, system, clock, imported) -> None:
    before = revision(services)
    clock.advance(timedelta(hours=1))
    again = services.divisions.import_divisions(system, list(reversed(tree())))
    assert again.written
    assert again.created == again.changed == []
    assert sorted(again.unchanged) == ALL_CODES
    assert revision(services) == before
    assert len(imports(services, system)) == 1
    assert [len(services.divisions.history(system, c)) for c in ALL_CODES] == [1] * len(ALL_CODES)
    # Coordinate noise below the checksum's precision is no change either.
    noisy = [
        replace(i, geometry=shapely.affinity.translate(i.geometry, 1e-9, -1e-9)) for i in tree()
    ]
    assert sorted(services.divisions.import_divisions(system, noisy).unchanged) == ALL_CODES
    assert len(imports(services, system)) == 1


def changed_grids() -> list[DivisionInput]:
    """G111 shrinks to its western half; G112 takes the freed eastern half (an L-shape)."""
    l_shape = Polygon(
        [
            (121.40, 31.21),
            (121.405, 31.21),
            (121.405, 31.20),
            (121.41, 31.20),
            (121.41, 31.22),
            (121.40, 31.22),
        ]
    )
    return [
        DivisionInput(0, G112, "贵州路第2网格", COMM_11, l_shape),
        DivisionInput(1, G111, "贵州路第1网格", COMM_11, box(121.40, 31.20, 121.405, 31.21)),
        DivisionInput(2, G121, "云南中路第1网格", COMM_12, box(121.41, 31.20, 121.42, 31.21)),
    ]


def test_a_changed_geometry_makes_a_new_version(services, system, clock, imported) -> None:
    first = clock.now()
    clock.advance(timedelta(hours=2))
    second = clock.now()
    report = services.divisions.import_divisions(system, changed_grids())
    assert report.written
    assert report.changed == [G111, G112]
    assert report.unchanged == [G121]
    assert report.created == []

    old, new = services.divisions.history(system, G111)
    assert (old.valid_from, old.valid_to) == (first, second)
    assert (new.valid_from, new.valid_to) == (second, None)
    assert not old.current
    assert new.current
    assert shapely.equals(old.geometry, box(121.40, 31.20, 121.41, 31.21))
    assert shapely.equals(new.geometry, box(121.40, 31.20, 121.405, 31.21))
    assert new.area_m2 == pytest.approx(old.area_m2 / 2, rel=1e-3)
    assert len(services.divisions.history(system, G121)) == 1

    between = first + timedelta(minutes=30)
    assert shapely.equals(services.divisions.get(system, G111, at=between).geometry, old.geometry)
    assert shapely.equals(services.divisions.get(system, G111, at=second).geometry, new.geometry)
    assert shapely.equals(services.divisions.get(system, G111).geometry, new.geometry)
    with pytest.raises(NotFound):
        services.divisions.get(system, G111, at=first - timedelta(seconds=1))
    # Only the current version is listed.
    assert [d.code for d in services.divisions.find(system, level=Level.GRID)].count(G111) == 1

    entries = imports(services, system)
    assert len(entries) == 2
    assert entries[0].after["changed"] == [G111, G112]
    assert entries[0].after["unchanged"] == 1


def test_locate_at_uses_the_version_in_force(services, system, clock, imported) -> None:
    first = clock.now()
    clock.advance(timedelta(hours=2))
    services.divisions.import_divisions(system, changed_grids())
    lon, lat = 121.408, 31.205  # in G111's old shape only
    then = services.locations.locate_at(system, lon, lat, first + timedelta(minutes=1))
    assert then.grid_id == G111
    assert then.community == Place(COMM_11, "贵州路居委会")
    assert then.district == Place(DISTRICT, "黄浦区")
    assert services.locations.locate_at(system, lon, lat, clock.now()).grid_id == G112
    assert services.locations.locate(system, lon, lat).grid_id == G112
    # Before anything was imported, and outside everything, there is no grid.
    assert services.locations.locate_at(system, lon, lat, first - timedelta(days=1)) == Location()
    assert services.locations.locate_at(system, 121.5, 31.3, first) == Location()
    # On the edge G111 and G112 shared before the change, the smaller id wins.
    assert services.locations.locate_at(system, 121.405, 31.21, first).grid_id == G111


# -- refused imports ----------------------------------------------------------------------------


def test_an_import_with_one_bad_feature_writes_nothing(services, system) -> None:
    inputs = tree()
    inputs[3] = replace(inputs[3], geometry=BOW_TIE)  # G112
    report = services.divisions.import_divisions(system, inputs)
    assert not report.written
    assert report.created == []
    assert issues_of(report) == [(3, G112, "geometry", "geometry_invalid")]
    assert "Self-intersection" in report.issues[0].message
    assert stored_codes(services, system) == []
    assert imports(services, system) == []
    assert revision(services) == (0, 0)


def test_skip_invalid_writes_the_good_features(services, system) -> None:
    inputs = tree()
    inputs[3] = replace(inputs[3], geometry=BOW_TIE)  # G112
    inputs[0] = replace(inputs[0], geometry=shapely.Point(121.43, 31.21))  # G211
    report = services.divisions.import_divisions(system, inputs, skip_invalid=True)
    assert report.written
    assert issues_of(report) == [
        (0, G211, "geometry", "geometry_type"),
        (3, G112, "geometry", "geometry_invalid"),
    ]
    assert sorted(report.created) == sorted(set(ALL_CODES) - {G112, G211})
    assert stored_codes(services, system) == sorted(set(ALL_CODES) - {G112, G211})
    [entry] = imports(services, system)
    assert entry.after["skipped"] == [0, 3]


def test_skip_invalid_never_stores_a_child_whose_parent_was_refused(services, system) -> None:
    inputs = tree()
    inputs[7] = replace(inputs[7], geometry=BOW_TIE)  # COMM_11, the parent of G111 and G112
    report = services.divisions.import_divisions(system, inputs, skip_invalid=True)
    stored = stored_codes(services, system)
    assert COMM_11 not in stored
    refused = {i.code: (i.field, i.rule) for i in report.issues}
    assert refused[COMM_11] == ("geometry", "geometry_invalid")
    # The grids of the refused community cannot be stored without their parent.
    assert G111 not in stored, stored
    assert G112 not in stored, stored
    assert refused.get(G111) == ("parent_code", "parent_exists")
    assert refused.get(G112) == ("parent_code", "parent_exists")


def test_parent_must_exist(services, system, imported) -> None:
    orphan = DivisionInput(
        0, "310101009009001", "孤儿网格", "310101009009", box(121.50, 31.20, 121.51, 31.21)
    )
    child = DivisionInput(
        1, "310101001001003", "新网格", COMM_11, box(121.40, 31.20, 121.401, 31.201)
    )
    report = services.divisions.import_divisions(system, [orphan, child])
    assert not report.written
    assert issues_of(report) == [(0, "310101009009001", "parent_code", "parent_exists")]
    # The stored parent is found from the store; alone, the good child imports.
    assert services.divisions.import_divisions(system, [child]).created == ["310101001001003"]


def test_duplicate_codes_and_other_feature_rules(services, system) -> None:
    district = box(121.40, 31.20, 121.44, 31.22)
    inputs = [
        DivisionInput(0, DISTRICT, "黄浦区", None, district),
        DivisionInput(1, DISTRICT, "黄浦区", None, district),
        DivisionInput(2, STREET_1, "  ", DISTRICT, district),
        DivisionInput(3, STREET_2, "街" * 101, DISTRICT, district),
        DivisionInput(4, "310101003", "无几何", DISTRICT, None),
        DivisionInput(5, "3101010", "坏代码", DISTRICT, district),
        DivisionInput(6, "310102001", "别区街道", DISTRICT, district),
        DivisionInput(7, COMM_11, "居委会", None, district),
    ]
    report = services.divisions.import_divisions(system, inputs)
    assert not report.written
    assert issues_of(report) == [
        (1, DISTRICT, "code", "duplicate_code"),
        (2, STREET_1, "name", "required"),
        (3, STREET_2, "name", "max_length"),
        (4, "310101003", "geometry", "geometry_required"),
        (5, "3101010", "code", "code_length"),
        (6, "310102001", "parent_code", "parent_prefix"),
        (7, COMM_11, "parent_code", "parent_required"),
    ]
    assert "feature 0" in report.issues[0].message
    assert stored_codes(services, system) == []


def test_import_of_one_level_refuses_others(services, system, imported) -> None:
    extra = DivisionInput(
        0, "310101001003", "新居委会", STREET_1, box(121.40, 31.20, 121.401, 31.201)
    )
    report = services.divisions.import_divisions(system, [extra], level=Level.GRID)
    assert issues_of(report) == [(0, "310101001003", "code", "code_level")]
    assert not report.written


def test_reading_unknown_codes(services, system, imported) -> None:
    with pytest.raises(NotFound):
        services.divisions.get(system, "310101001001009")
    with pytest.raises(NotFound):
        services.divisions.history(system, "310101001001009")
    with pytest.raises(NotFound):
        services.divisions.check(system, parent_code="310101009")


# -- topology check -----------------------------------------------------------------------------


def test_check_finds_nothing_on_a_tree_that_nests_exactly(services, system, imported) -> None:
    assert services.divisions.check(system) == []
    assert services.divisions.check(system, parent_code=STREET_1) == []


def test_check_finds_gap_overlap_and_outside_parent(services, system) -> None:
    upper = [i for i in tree() if len(i.code) < 15]
    a, b, c = "310101001001001", "310101001001002", "310101001001003"
    broken = [
        DivisionInput(20, a, "A", COMM_11, box(121.40, 31.20, 121.405, 31.22)),
        DivisionInput(21, b, "B", COMM_11, box(121.404, 31.20, 121.41, 31.21)),
        DivisionInput(22, c, "C", COMM_11, box(121.409, 31.215, 121.411, 31.22)),
    ]
    assert services.divisions.import_divisions(system, upper + broken).written
    for found in (
        services.divisions.check(system),
        services.divisions.check(system, parent_code=COMM_11),
    ):
        by_kind = {i.kind: i for i in found}
        assert sorted(by_kind) == ["gap", "outside_parent", "overlap"], found
        assert len(found) == 3
        assert all(i.parent_code == COMM_11 for i in found)
        overlap = by_kind["overlap"]
        assert overlap.codes == (a, b)
        assert overlap.area_m2 == pytest.approx(95.1 * 1109.2, rel=0.02)
        assert shapely.Point(overlap.lon, overlap.lat).within(box(121.404, 31.20, 121.405, 31.21))
        assert by_kind["outside_parent"].codes == (c,)
        assert by_kind["outside_parent"].area_m2 == pytest.approx(95.1 * 554.6, rel=0.02)
        assert 121.41 < by_kind["outside_parent"].lon < 121.411
        gap = by_kind["gap"]
        assert gap.codes == ()
        assert box(121.405, 31.21, 121.41, 31.22).contains(shapely.Point(gap.lon, gap.lat))
        assert gap.as_json()["kind"] == "gap"
        assert gap.as_json()["codes"] == []


def test_check_finds_no_gap_where_children_partition_their_parent_exactly(services, system) -> None:
    # A district with a long slanting edge, cut in two by a meridian: the two streets cover it
    # exactly (the cut point lies on the edge to 1e-15 degrees), so there is no gap.
    a, c = (121.491538, 31.195657), (121.505578, 31.215948)
    district = Polygon([a, c, (121.47, 31.216), (121.47, 31.195657)])
    cut = box(121.46, 31.19, 121.495, 31.22)
    west, east = shapely.intersection(district, cut), shapely.difference(district, cut)
    inputs = [
        DivisionInput(0, DISTRICT, "黄浦区", None, district),
        DivisionInput(1, STREET_1, "西", DISTRICT, west),
        DivisionInput(2, STREET_2, "东", DISTRICT, east),
    ]
    assert services.divisions.import_divisions(system, inputs).written
    assert shapely.difference(district, shapely.union(west, east)).area < 1e-15
    assert services.divisions.check(system) == []


@functools.cache
def demo_divisions() -> tuple[DivisionInput, ...]:
    # The district names its city (310100) as parent; levels above a district need not be stored.
    return tuple(generate().divisions())


def test_the_demo_city_imports_checks_clean_and_locates(services, system) -> None:
    divisions = demo_divisions()
    grids = [d for d in divisions if len(d.code) == 15]
    assert len(grids) > 1500
    report = services.divisions.import_divisions(system, list(divisions))
    assert report.written
    assert report.issues == []
    assert len(report.created) == len(divisions)
    # Representative points are strictly inside: each finds its own grid.
    sample = grids[::10]
    points = [g.geometry.representative_point() for g in sample]
    found = services.locations.locate_many(system, [p.x for p in points], [p.y for p in points])
    assert [f.grid_id for f in found] == [g.code for g in sample]
    assert all(f.community and f.street and f.district for f in found)
    assert {f.district.code for f in found} == {"310101"}
    assert services.divisions.check(system) == [], [
        i.as_json() for i in services.divisions.check(system)
    ][:5]


# -- locating -----------------------------------------------------------------------------------


def test_locate_gives_the_whole_chain(services, system, imported) -> None:
    found = services.locations.locate(system, 121.405, 31.205)
    assert found == Location(
        grid_id=G111,
        grid_name="贵州路第1网格",
        community=Place(COMM_11, "贵州路居委会"),
        street=Place(STREET_1, "南京东路街道"),
        district=Place(DISTRICT, "黄浦区"),
    )
    assert found.as_json()["street"] == {"code": STREET_1, "name": "南京东路街道"}
    assert services.locations.locate(system, 121.5, 31.3) == Location()
    assert Location().as_json() == {
        "grid_id": None,
        "grid_name": None,
        "community": None,
        "street": None,
        "district": None,
    }


def test_locate_many(services, system, imported) -> None:
    lons = [121.405, 121.415, 121.43, 121.41, 121.42, 121.45, 121.40]
    lats = [31.205, 31.215, 31.21, 31.21, 31.20, 31.21, 31.20]
    found = services.locations.locate_many(system, lons, lats)
    assert [f.grid_id for f in found] == [G111, G122, G211, G111, G121, None, G111]
    assert [f.street.code if f.street else None for f in found] == [
        STREET_1,
        STREET_1,
        STREET_2,
        STREET_1,
        STREET_1,
        None,
        STREET_1,
    ]
    assert found[2].community == Place(COMM_21, "外滩居委会")
    assert services.locations.grid_ids(lons, lats) == [f.grid_id for f in found]
    assert services.locations.locate_many(system, [], []) == []
    with pytest.raises(ValidationFailed) as error:
        services.locations.locate_many(system, [121.4], [])
    assert error.value.issues[0].rule == "same_length"


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [
        (180.5, 31.0, "lon"),
        (float("nan"), 31.0, "lon"),
        (121.0, -90.5, "lat"),
        (121.0, float("inf"), "lat"),
    ],
)
def test_locate_checks_the_point(services, system, lon, lat, field) -> None:
    with pytest.raises(ValidationFailed) as error:
        services.locations.locate(system, lon, lat)
    assert (error.value.issues[0].field, error.value.issues[0].rule) == (field, "range")
    with pytest.raises(ValidationFailed):
        services.locations.locate_at(system, lon, lat, services.clock.now())


def test_the_locate_cache_follows_new_imports(services, system, clock, imported) -> None:
    assert services.locations.locate(system, 121.408, 31.205).grid_id == G111
    before = revision(services)
    clock.advance(timedelta(minutes=5))
    services.divisions.import_divisions(system, changed_grids())
    assert revision(services) != before
    assert services.locations.locate(system, 121.408, 31.205).grid_id == G112
    # A brand-new grid elsewhere is found at once too.
    new_community = DivisionInput(
        0, "310101002002", "新居委会", STREET_2, box(121.44, 31.20, 121.45, 31.21)
    )
    new_grid = DivisionInput(
        1, "310101002002001", "新网格", "310101002002", box(121.44, 31.20, 121.45, 31.21)
    )
    assert services.locations.locate(system, 121.445, 31.205) == Location()
    services.divisions.import_divisions(system, [new_grid, new_community])
    found = services.locations.locate(system, 121.445, 31.205)
    assert found.grid_id == "310101002002001"
    assert found.community == Place("310101002002", "新居委会")


# -- responsibility -----------------------------------------------------------------------------


@pytest.fixture
def departments(services, system):
    services.accounts.create_department(system, code="SZ", name="市政")
    services.accounts.create_department(system, code="CG", name="城管")
    services.accounts.create_department(system, code="LH", name="绿化")


def audit_of(services, system, action: str):
    return services.audit.query(system, AuditFilter(action=action, limit=100))


def test_grid_workers(services, system, make_user, imported) -> None:
    make_user("pat", Role.PATROLLER)
    make_user("viv", Role.VIEWER)
    responsibility = services.responsibility
    empty = responsibility.get(system, G111)
    assert (empty.workers, empty.by_matter, empty.by_department) == ((), {}, {})

    after = responsibility.assign_worker(system, G111, "pat")
    assert after.workers == ("pat",)
    assert responsibility.get(system, G111).workers == ("pat",)
    assert responsibility.grids_of(system, "pat") == [G111]
    responsibility.assign_worker(system, G112, "pat")
    assert responsibility.grids_of(system, "pat") == [G111, G112]
    with pytest.raises(Conflict):
        responsibility.assign_worker(system, G111, "pat")

    with pytest.raises(ValidationFailed) as error:
        responsibility.assign_worker(system, G111, "viv")
    assert (error.value.issues[0].field, error.value.issues[0].rule) == (
        "username",
        "patroller_role",
    )
    with pytest.raises(ValidationFailed) as error:
        responsibility.assign_worker(system, G111, "nobody")
    assert error.value.issues[0].rule == "user_exists"
    with pytest.raises(NotFound):
        responsibility.assign_worker(system, "310101001001009", "pat")
    with pytest.raises(NotFound):  # a community is not a grid
        responsibility.assign_worker(system, COMM_11, "pat")

    removed = responsibility.assign_worker(system, G111, "pat", remove=True)
    assert removed.workers == ()
    assert responsibility.grids_of(system, "pat") == [G112]
    with pytest.raises(Conflict):
        responsibility.assign_worker(system, G111, "pat", remove=True)

    added = audit_of(services, system, "geo.worker_add")
    assert [(e.object_type, e.object_id) for e in added] == [("grid", G112), ("grid", G111)]
    assert added[1].before["workers"] == []
    assert added[1].after["workers"] == ["pat"]
    [gone] = audit_of(services, system, "geo.worker_remove")
    assert gone.before["workers"] == ["pat"]
    assert gone.after["workers"] == []


def test_responsible_units(services, system, imported, departments) -> None:
    responsibility = services.responsibility
    by_matter = responsibility.set_unit(
        system, G111, key_kind="matter", key="06010", unit_code="CG"
    )
    assert by_matter.by_matter == {"06010": "CG"}
    by_department = responsibility.set_unit(
        system, G111, key_kind="department", key="SZ", unit_code="LH"
    )
    assert by_department.by_department == {"SZ": "LH"}
    assert by_department.by_matter == {"06010": "CG"}

    duty = responsibility.get(system, G111)
    assert duty.unit_for("06010", "SZ") == "CG"  # the matter class comes first
    assert duty.unit_for("06011", "SZ") == "LH"  # then the department
    assert duty.unit_for("06010", None) == "CG"
    assert duty.unit_for(None, "SZ") == "LH"
    assert duty.unit_for("06011", "CG") is None
    assert duty.unit_for(None, None) is None
    assert duty.as_json() == {
        "grid_code": G111,
        "workers": [],
        "by_matter": {"06010": "CG"},
        "by_department": {"SZ": "LH"},
    }
    # Other grids are not affected; changing and clearing work.
    assert responsibility.get(system, G112).by_matter == {}
    changed = responsibility.set_unit(system, G111, key_kind="matter", key="06010", unit_code="SZ")
    assert changed.by_matter == {"06010": "SZ"}
    cleared = responsibility.set_unit(system, G111, key_kind="matter", key="06010", unit_code=None)
    assert cleared.by_matter == {}

    entries = audit_of(services, system, "geo.unit_set")
    assert len(entries) == 4
    assert all(e.object_type == "grid" and e.object_id == G111 for e in entries)
    newest = entries[0]
    assert newest.before["by_matter"] == {"06010": "SZ"}
    assert newest.after["by_matter"] == {}


def test_responsible_units_refuse_unknown_keys(services, system, imported, departments) -> None:
    responsibility = services.responsibility

    def refused(**kwargs) -> tuple[str, str]:
        with pytest.raises(ValidationFailed) as error:
            responsibility.set_unit(system, G111, **kwargs)
        return error.value.issues[0].field, error.value.issues[0].rule

    assert refused(key_kind="department", key="NOPE", unit_code="SZ") == (
        "key",
        "department_exists",
    )
    assert refused(key_kind="matter", key="06010", unit_code="NOPE") == (
        "unit_code",
        "department_exists",
    )
    assert refused(key_kind="matter", key="6010", unit_code="SZ") == ("key", "class_code_format")
    assert refused(key_kind="colour", key="06010", unit_code="SZ") == ("key_kind", "one_of")
    with pytest.raises(NotFound):
        responsibility.set_unit(
            system, "310101001001009", key_kind="matter", key="06010", unit_code="SZ"
        )
    assert responsibility.get(system, G111).by_matter == {}
    assert audit_of(services, system, "geo.unit_set") == []


def test_an_unknown_matter_class_is_a_validation_error(
    services, system, imported, departments
) -> None:
    # 06999 is well formed but no GB/T 47678.5 matter class: the input is wrong, not the grid.
    with pytest.raises(ValidationFailed) as error:
        services.responsibility.set_unit(
            system, G111, key_kind="matter", key="06999", unit_code="SZ"
        )
    assert (error.value.issues[0].field, error.value.issues[0].rule) == (
        "key",
        "matter_class_known",
    )


def test_bulk_assign(services, system, make_user, imported, departments) -> None:
    make_user("pat", Role.PATROLLER)
    make_user("viv", Role.VIEWER)
    responsibility = services.responsibility
    workers = [(G111, "pat"), (G112, "pat")]
    units = [(G111, "matter", "06010", "CG"), (G111, "department", "SZ", "LH")]
    assert responsibility.bulk_assign(system, workers=workers, units=units) == 4
    assert responsibility.get(system, G111).as_json() == {
        "grid_code": G111,
        "workers": ["pat"],
        "by_matter": {"06010": "CG"},
        "by_department": {"SZ": "LH"},
    }
    assert responsibility.grids_of(system, "pat") == [G111, G112]
    # Again: nothing to add, nothing audited.
    assert responsibility.bulk_assign(system, workers=workers, units=units) == 0
    assert len(audit_of(services, system, "geo.bulk_assign")) == 1
    with pytest.raises(ValidationFailed) as error:
        responsibility.bulk_assign(system, workers=[(G121, "viv")])
    assert error.value.issues[0].rule == "patroller_role"
    with pytest.raises(NotFound):
        responsibility.bulk_assign(system, workers=[("310101001001009", "pat")])
    with pytest.raises(ValidationFailed) as error:
        responsibility.bulk_assign(
            system, workers=[(G121, "pat")], units=[(G121, "matter", "06999", "CG")]
        )
    assert error.value.issues[0].rule == "matter_class_known"
    # A refused batch leaves nothing behind.
    assert responsibility.get(system, G121).workers == ()


def test_reading_a_grid_needs_geo_read(services, make_user, imported) -> None:
    from cityops.auth.model import Principal
    from cityops.kernel.errors import PermissionDenied

    nobody = Principal("user", "nobody", ())
    with pytest.raises(PermissionDenied):
        services.responsibility.get(nobody, G111)
    with pytest.raises(PermissionDenied):
        services.locations.locate(nobody, 121.405, 31.205)
    with pytest.raises(PermissionDenied):
        services.divisions.import_divisions(nobody, tree())
