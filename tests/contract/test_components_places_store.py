"""The components registry and the gazetteer on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import shapely

from cityops.auth.model import Principal
from cityops.geo.geometry import distance_m
from cityops.geo.model import DivisionInput, Place
from cityops.kernel.audit import AuditFilter
from cityops.kernel.errors import NotFound, PermissionDenied, ValidationFailed

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1, G2 = "410171001001001", "410171001001002"  # west and east halves of the community

LAMP_A, LAMP_B, LAMP_C = "41017101037000001", "41017101037000002", "41017101037000003"
COVER = "41017101002000001"
BIN_OUTSIDE = "41017103005000001"


def divisions() -> list[DivisionInput]:
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    return [
        DivisionInput(0, DISTRICT, "高新区", None, whole),
        DivisionInput(1, STREET, "石佛街道", DISTRICT, whole),
        DivisionInput(2, COMMUNITY, "科学大道社区", STREET, whole),
        DivisionInput(
            3, G1, "科学大道第1网格", COMMUNITY, shapely.box(113.54, 34.80, 113.55, 34.82)
        ),
        DivisionInput(
            4, G2, "科学大道第2网格", COMMUNITY, shapely.box(113.55, 34.80, 113.56, 34.82)
        ),
    ]


def row(cid: str, lon: float, lat: float, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": cid,
        "name": "路灯",
        "department_code": "SZ",
        "department_name": "市政设施管理处",
        "status": "完好",
        "initial_date": "20190301",
        "data_source": "实测",
        "lon": lon,
        "lat": lat,
    }
    data.update(changes)
    return data


def rows() -> list[dict[str, Any]]:
    return [
        row(LAMP_A, 113.545, 34.810),
        row(LAMP_B, 113.5455, 34.810),  # ~46 m east of A
        row(
            COVER, 113.5451, 34.810, name="污水井盖", department_code="SW", department_name="水务局"
        ),
        row(LAMP_C, 113.555, 34.810, change_date="2026-06-30", status="破损"),  # in G2
        row(BIN_OUTSIDE, 113.600, 34.810, name="垃圾箱"),  # outside every grid
    ]


ALL_IDS = sorted([LAMP_A, LAMP_B, COVER, LAMP_C, BIN_OUTSIDE])


def audit(services, system, action: str):
    return services.audit.query(system, AuditFilter(action=action, limit=100))


def stored_count(services) -> int:
    with services.store.unit_of_work(read_only=True) as uow:
        return uow.components.count()


@pytest.fixture
def grids(services, system):
    report = services.divisions.import_divisions(system, divisions())
    assert report.written, report.issues
    return report


@pytest.fixture
def imported(services, system, grids):
    report = services.components.import_rows(system, rows())
    assert report.written
    assert report.issues == []
    return report


# -- import -------------------------------------------------------------------------------------


def test_import_creates_then_reimport_is_unchanged(services, system, clock, imported) -> None:
    assert sorted(imported.created) == ALL_IDS
    assert imported.updated == imported.unchanged == []
    assert imported.summary() == {
        "written": True,
        "created": 5,
        "updated": 0,
        "unchanged": 0,
        "issues": [],
    }
    assert stored_count(services) == 5

    clock.advance(timedelta(hours=1))
    again = services.components.import_rows(system, rows())
    assert again.written
    assert again.created == again.updated == []
    assert sorted(again.unchanged) == ALL_IDS
    # Nothing changed: nothing audited.
    assert len(audit(services, system, "components.import")) == 1

    changed = rows()
    changed[0]["status"] = "丢失"
    changed[0]["change_date"] = "20261120"
    third = services.components.import_rows(system, changed)
    assert third.created == []
    assert third.updated == [LAMP_A]
    assert sorted(third.unchanged) == sorted(set(ALL_IDS) - {LAMP_A})
    lamp = services.components.get(system, LAMP_A)
    assert (lamp.status, lamp.change_date) == ("丢失", date(2026, 11, 20))
    assert stored_count(services) == 5
    entries = audit(services, system, "components.import")
    assert len(entries) == 2
    assert entries[0].after["updated"] == [LAMP_A]
    assert entries[0].after["created"] == 0


def test_the_first_import_is_audited(services, system, imported) -> None:
    [entry] = audit(services, system, "components.import")
    assert entry.object_type == "component_batch"
    assert entry.actor == system.name
    assert entry.after["created"] == 5
    assert entry.after["updated"] == []
    assert entry.after["skipped"] == []


def test_a_component_keeps_every_attribute(services, system, imported) -> None:
    lamp = services.components.get(system, LAMP_C)
    assert lamp.id == LAMP_C
    assert lamp.class_code == "01037"
    assert lamp.division_code == DISTRICT
    assert (lamp.name, lamp.department_code, lamp.department_name) == (
        "路灯",
        "SZ",
        "市政设施管理处",
    )
    assert lamp.status == "破损"
    assert lamp.initial_date == date(2019, 3, 1)
    assert lamp.change_date == date(2026, 6, 30)
    assert lamp.data_source == "实测"
    assert (lamp.lon, lamp.lat) == (113.555, 34.810)
    assert lamp.as_json()["initial_date"] == "2019-03-01"


def test_grid_community_and_street_come_from_the_point(services, system, imported) -> None:
    west = services.components.get(system, LAMP_A)
    assert west.grid_code == G1
    assert (west.community_code, west.community_name) == (COMMUNITY, "科学大道社区")
    assert (west.street_code, west.street_name) == (STREET, "石佛街道")
    east = services.components.get(system, LAMP_C)
    assert east.grid_code == G2
    assert east.community_code == COMMUNITY
    outside = services.components.get(system, BIN_OUTSIDE)
    assert outside.grid_code is None
    assert outside.community_code is None
    assert outside.community_name is None
    assert outside.street_code is None
    assert outside.street_name is None
    # The same answer as locating the point.
    found = services.locations.locate(system, 113.545, 34.810)
    assert found.grid_id == G1
    assert found.street == Place(STREET, "石佛街道")


def test_without_any_grid_components_are_stored_unplaced(services, system) -> None:
    report = services.components.import_rows(system, rows()[:1])
    assert report.created == [LAMP_A]
    lamp = services.components.get(system, LAMP_A)
    assert (lamp.grid_code, lamp.community_code, lamp.street_code) == (None, None, None)


def test_a_malformed_grid_code_column_is_not_stored_blindly(services, system, grids) -> None:
    # A 16-character grid code fits no grid; the point says G1.
    report = services.components.import_rows(
        system, [row(LAMP_A, 113.545, 34.810, grid_code="4101710010010019")]
    )
    if report.written:
        assert services.components.get(system, LAMP_A).grid_code == G1
    else:
        assert [(i.row, i.field) for i in report.issues] == [(1, "grid_code")]
        assert stored_count(services) == 0


def test_one_bad_row_writes_nothing(services, system, grids) -> None:
    bad = rows()
    bad[1]["status"] = "坏了"
    bad[3]["initial_date"] = "2019/03/01"
    report = services.components.import_rows(system, bad)
    assert not report.written
    assert report.created == report.updated == report.unchanged == []
    assert [(i.row, i.id, i.field, i.rule) for i in report.issues] == [
        (2, LAMP_B, "status", "one_of"),
        (4, LAMP_C, "initial_date", "date_format"),
    ]
    assert str(report.issues[0]).startswith(f"row 2 ({LAMP_B}): status:")
    summary = report.summary()
    assert summary["written"] is False
    assert summary["issues"][0] == {
        "row": 2,
        "id": LAMP_B,
        "field": "status",
        "rule": "one_of",
        "message": report.issues[0].message,
    }
    assert stored_count(services) == 0
    with pytest.raises(NotFound):
        services.components.get(system, LAMP_A)
    assert audit(services, system, "components.import") == []


def test_skip_invalid_writes_the_good_rows(services, system, grids) -> None:
    bad = rows()
    bad[1]["status"] = "坏了"
    bad[4]["lon"] = "东经113"
    report = services.components.import_rows(system, bad, skip_invalid=True)
    assert report.written
    assert sorted(report.created) == sorted([LAMP_A, COVER, LAMP_C])
    assert [(i.row, i.field, i.rule) for i in report.issues] == [
        (2, "status", "one_of"),
        (5, "lon", "range"),
    ]
    assert stored_count(services) == 3
    with pytest.raises(NotFound):
        services.components.get(system, LAMP_B)
    [entry] = audit(services, system, "components.import")
    assert entry.after["skipped"] == [2, 5]


def test_a_duplicate_id_in_one_import_is_refused(services, system, grids) -> None:
    twice = [row(LAMP_A, 113.545, 34.810), row(LAMP_B, 113.546, 34.81), row(LAMP_A, 113.547, 34.81)]
    report = services.components.import_rows(system, twice)
    assert not report.written
    assert [(i.row, i.id, i.field, i.rule) for i in report.issues] == [
        (3, LAMP_A, "id", "duplicate_id")
    ]
    assert stored_count(services) == 0
    skipped = services.components.import_rows(system, twice, skip_invalid=True)
    assert sorted(skipped.created) == [LAMP_A, LAMP_B]
    # The first occurrence wins.
    assert services.components.get(system, LAMP_A).lon == 113.545


def test_importing_needs_geo_write(services, grids) -> None:
    nobody = Principal("user", "nobody", ())
    with pytest.raises(PermissionDenied):
        services.components.import_rows(nobody, rows())
    assert stored_count(services) == 0
    with pytest.raises(PermissionDenied):
        services.components.nearest(nobody, 113.545, 34.81)
    with pytest.raises(PermissionDenied):
        services.components.find(nobody)


# -- reading ------------------------------------------------------------------------------------


def test_get_an_unknown_component(services, system, imported) -> None:
    with pytest.raises(NotFound):
        services.components.get(system, "41017101037999999")


def test_find_by_grid_and_class(services, system, imported) -> None:
    def ids(**kwargs: Any) -> list[str]:
        return [c.id for c in services.components.find(system, **kwargs)]

    assert ids() == ALL_IDS
    assert ids(grid_code=G1) == [COVER, LAMP_A, LAMP_B]
    assert ids(grid_code=G2) == [LAMP_C]
    assert ids(class_code="01037") == [LAMP_A, LAMP_B, LAMP_C]
    assert ids(grid_code=G1, class_code="01037") == [LAMP_A, LAMP_B]
    assert ids(grid_code=G2, class_code="01002") == []
    assert ids(class_code="03005") == [BIN_OUTSIDE]
    assert ids(limit=2) == ALL_IDS[:2]
    assert ids(limit=2, offset=2) == ALL_IDS[2:4]


def test_nearest_orders_by_distance(services, system, imported) -> None:
    lon, lat = 113.545, 34.8101  # 11 m north of lamp A
    found = services.components.nearest(system, lon, lat)
    assert [c.id for c, _d in found] == [LAMP_A, COVER, LAMP_B]
    distances = [d for _c, d in found]
    assert distances == sorted(distances)
    for component, metres in found:
        assert metres == pytest.approx(distance_m(lon, lat, component.lon, component.lat), rel=0.01)
    assert distances[0] == pytest.approx(11.1, abs=0.3)


def test_nearest_filters_and_limits(services, system, imported) -> None:
    lon, lat = 113.545, 34.8101
    nearest = services.components.nearest
    assert [c.id for c, _ in nearest(system, lon, lat, class_code="01037")] == [LAMP_A, LAMP_B]
    assert [c.id for c, _ in nearest(system, lon, lat, class_code="01002")] == [COVER]
    assert [c.id for c, _ in nearest(system, lon, lat, within_m=20)] == [LAMP_A, COVER]
    assert [c.id for c, _ in nearest(system, lon, lat, within_m=5)] == []
    assert [c.id for c, _ in nearest(system, lon, lat, limit=1)] == [LAMP_A]
    # Far enough out, the component in G2 (about 914 m east) is reached too.
    far = nearest(system, lon, lat, within_m=1000, limit=10)
    assert [c.id for c, _ in far] == [LAMP_A, COVER, LAMP_B, LAMP_C]
    assert all(d <= 1000 for _c, d in far)
    # Nothing near a point where nothing is.
    assert nearest(system, 113.70, 34.90, within_m=5000) == []


@pytest.mark.parametrize("within_m", [0, -1, 5000.5, 1e9])
def test_nearest_refuses_an_invalid_radius(services, system, imported, within_m: float) -> None:
    with pytest.raises(ValidationFailed) as error:
        services.components.nearest(system, 113.545, 34.81, within_m=within_m)
    assert (error.value.issues[0].field, error.value.issues[0].rule) == ("within_m", "range")


@pytest.mark.parametrize(
    ("class_code", "rule"), [("09999", "component_class_known"), ("1037", "class_code_format")]
)
def test_nearest_refuses_an_unknown_class(services, system, imported, class_code, rule) -> None:
    with pytest.raises(ValidationFailed) as error:
        services.components.nearest(system, 113.545, 34.81, class_code=class_code)
    assert error.value.issues[0].rule == rule


# -- the gazetteer ------------------------------------------------------------------------------


def place_rows() -> list[dict[str, Any]]:
    return [
        {
            "kind": "road",
            "name": "科学大道",
            "key": "road:kxdd",
            "aliases": "科学路",
            "geometry": {"type": "LineString", "coordinates": [[113.54, 34.81], [113.56, 34.81]]},
        },
        {
            "kind": "road",
            "name": "长椿路",
            "geometry": {"type": "LineString", "coordinates": [[113.55, 34.80], [113.55, 34.82]]},
        },
        {"kind": "address", "name": "科学大道100号", "lon": 113.545, "lat": 34.8102},
        {"kind": "address", "name": "科学大道102号", "lon": "113.5455", "lat": "34.8102"},
        {
            "kind": "poi",
            "name": "高新区管委会",
            "key": "poi:gxq",
            "lon": 113.557,
            "lat": 34.815,
            "aliases": "管委会|高新区政府",
        },
    ]


@pytest.fixture
def places(services, system, grids):
    report = services.gazetteer.import_rows(system, place_rows())
    assert report.written, report.issues
    return report


def test_places_import_then_again_unchanged(services, system, places) -> None:
    assert (places.stored, places.unchanged, places.issues) == (5, 0, [])
    assert places.summary() == {"written": True, "stored": 5, "unchanged": 0, "issues": []}
    with services.store.unit_of_work(read_only=True) as uow:
        stored = uow.places.keys()
    assert sorted(stored) == sorted(
        ["road:kxdd", "road:长椿路", "address:科学大道100号", "address:科学大道102号", "poi:gxq"]
    )
    assert stored["poi:gxq"].aliases == ("管委会", "高新区政府")
    assert stored["road:kxdd"].geometry.geom_type == "LineString"
    again = services.gazetteer.import_rows(system, place_rows())
    assert (again.stored, again.unchanged, again.written) == (0, 5, True)
    [entry] = audit(services, system, "places.import")
    assert sorted(entry.after["stored"]) == sorted(stored)
    # A moved POI is stored again; the rest is unchanged.
    moved = place_rows()
    moved[4]["lon"] = 113.558
    third = services.gazetteer.import_rows(system, moved)
    assert (third.stored, third.unchanged) == (1, 4)
    assert len(audit(services, system, "places.import")) == 2


def test_place_rows_are_checked_one_by_one(services, system, grids) -> None:
    bad = [
        *place_rows(),
        {"kind": "river", "name": "索须河", "lon": 113.55, "lat": 34.81},
        {"kind": "road", "name": "石楠路", "lon": 113.55, "lat": 34.81},
        {"kind": "poi", "name": "无坐标"},
        {"kind": "address", "name": "科学大道104号", "lon": "东经", "lat": 34.81},
        {"kind": "poi", "name": "", "lon": 113.55, "lat": 34.81},
        {
            "kind": "poi",
            "name": "线状POI",
            "geometry": {"type": "LineString", "coordinates": [[113.54, 34.81], [113.55, 34.81]]},
        },
    ]
    report = services.gazetteer.import_rows(system, bad)
    assert not report.written
    assert [(i.row, i.field, i.rule) for i in report.issues] == [
        (6, "kind", "one_of"),
        (7, "geometry", "geometry_type"),
        (8, "geometry", "coordinates_range"),
        (9, "geometry", "coordinates_range"),
        (10, "name", "length"),
        (11, "geometry", "geometry_type"),
    ]
    assert all(i.message for i in report.issues)
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.places.all() == []
    skipped = services.gazetteer.import_rows(system, bad, skip_invalid=True)
    assert skipped.written
    assert skipped.stored == 5
    assert len(skipped.issues) == 6


def test_resolve_gives_the_grid_of_a_found_point(services, system, places) -> None:
    resolution, location = services.gazetteer.resolve(system, "高新区科学大道与长椿路交叉口东南角")
    assert resolution.found
    assert resolution.method == "intersection"
    # The crossing lies on the G1/G2 edge; the south-east corner is in G2.
    assert location is not None
    assert location.grid_id == G2
    assert location.community == Place(COMMUNITY, "科学大道社区")
    assert location.street == Place(STREET, "石佛街道")
    assert location.district == Place(DISTRICT, "高新区")
    # On the edge itself, the smaller grid id wins.
    _resolution, on_edge = services.gazetteer.resolve(system, "科学大道和长椿路路口")
    assert on_edge is not None
    assert on_edge.grid_id == G1
    # Address and POI (by an alias stored as "a|b").
    address, where = services.gazetteer.resolve(system, "科学大道１０２号")
    assert (address.method, address.confidence) == ("address", 0.95)
    assert where is not None
    assert where.grid_id == G1
    poi, where = services.gazetteer.resolve(system, "高新区政府")
    assert (poi.method, poi.matched) == ("poi", ("高新区管委会",))
    assert where is not None
    assert where.grid_id == G2


def test_resolve_not_found_has_no_location(services, system, places) -> None:
    resolution, location = services.gazetteer.resolve(system, "科学大道")
    assert not resolution.found
    assert resolution.reason
    assert resolution.candidates
    assert location is None
    missing, location = services.gazetteer.resolve(system, "科学大道108号")
    assert not missing.found
    assert [c.name for c in missing.candidates] == ["科学大道102号", "科学大道100号"]
    assert location is None


@pytest.mark.parametrize("text", ["", "   ", "路" * 201])
def test_resolve_refuses_empty_or_long_text(services, system, places, text: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        services.gazetteer.resolve(system, text)
    assert (error.value.issues[0].field, error.value.issues[0].rule) == ("text", "length")


def test_resolve_needs_geo_read(services, places) -> None:
    with pytest.raises(PermissionDenied):
        services.gazetteer.resolve(Principal("user", "nobody", ()), "科学大道100号")


def test_the_index_is_rebuilt_after_an_import(services, system, places) -> None:
    before, _ = services.gazetteer.resolve(system, "郑州大学")
    assert not before.found
    services.gazetteer.import_rows(
        system,
        [{"kind": "poi", "name": "郑州大学", "lon": 113.541, "lat": 34.819, "aliases": "郑大"}],
    )
    after, location = services.gazetteer.resolve(system, "郑大")
    assert after.found
    assert (after.lon, after.lat) == pytest.approx((113.541, 34.819))
    assert location is not None
    assert location.grid_id == G1


def test_a_moved_place_is_resolved_at_its_new_point(services, system, places) -> None:
    # The place replaced here is the one stored last (the highest row id): the index must still
    # notice the change, on every store.
    first, _ = services.gazetteer.resolve(system, "管委会")
    assert (first.lon, first.lat) == pytest.approx((113.557, 34.815))
    moved_rows = place_rows()
    moved_rows[4]["lon"], moved_rows[4]["lat"] = 113.541, 34.819
    report = services.gazetteer.import_rows(system, moved_rows)
    assert (report.stored, report.unchanged) == (1, 4)
    with services.store.unit_of_work(read_only=True) as uow:
        assert uow.places.keys()["poi:gxq"].lon == pytest.approx(113.541)
    moved, location = services.gazetteer.resolve(system, "管委会")
    assert (moved.lon, moved.lat) == pytest.approx((113.541, 34.819))
    assert location is not None
    assert location.grid_id == G1
