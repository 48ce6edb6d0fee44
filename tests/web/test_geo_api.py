"""The geography API: locate, divisions (GeoJSON), import, check and grid responsibility."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import shapely

from cityops.auth.permissions import Role
from cityops.kernel.audit import AuditFilter
from tests.conftest import bearer
from tests.web.problems import assert_problem, assert_rule

GEOJSON = "application/geo+json"
DISTRICT, STREET, COMMUNITY = "310101", "310101002", "310101002001"
G1, G2, G3 = "310101002001001", "310101002001002", "310101002001003"


def feature(code: str, name: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    if not isinstance(geometry, dict):
        geometry = shapely.geometry.mapping(geometry)
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "parent_code": parent},
        "geometry": geometry,
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def tree() -> dict[str, Any]:
    """One district, street and community, cut into three grids west to east."""
    whole = shapely.box(121.48, 31.23, 121.49, 31.24)
    return collection(
        feature(G3, "外滩第3网格", COMMUNITY, shapely.box(121.486, 31.23, 121.49, 31.24)),
        feature(G2, "外滩第2网格", COMMUNITY, shapely.box(121.483, 31.23, 121.486, 31.24)),
        feature(G1, "外滩第1网格", COMMUNITY, shapely.box(121.48, 31.23, 121.483, 31.24)),
        feature(COMMUNITY, "外滩居委会", STREET, whole),
        feature(STREET, "外滩街道", DISTRICT, whole),
        feature(DISTRICT, "黄浦区", None, whole),
    )


BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [[121.48, 31.23], [121.49, 31.24], [121.49, 31.23], [121.48, 31.24], [121.48, 31.23]]
    ],
}


@pytest.fixture
def admin(client, make_user):
    return bearer(client, make_user("root", Role.ADMIN))


@pytest.fixture
def viewer(client, make_user):
    return bearer(client, make_user("vera", Role.VIEWER))


@pytest.fixture
def imported(client, admin):
    response = client.post("/api/v1/geo/divisions/import", json=tree(), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


# -- locate -------------------------------------------------------------------------------------


def test_locate(client, viewer, imported):
    response = client.get(
        "/api/v1/geo/locate", params={"lon": 121.484, "lat": 31.235}, headers=viewer
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "grid_id": G2,
        "grid_name": "外滩第2网格",
        "community": {"code": COMMUNITY, "name": "外滩居委会"},
        "street": {"code": STREET, "name": "外滩街道"},
        "district": {"code": DISTRICT, "name": "黄浦区"},
    }
    # On the edge between grid 1 and grid 2: the smaller id.
    edge = client.get("/api/v1/geo/locate", params={"lon": 121.483, "lat": 31.235}, headers=viewer)
    assert edge.json()["grid_id"] == G1
    outside = client.get("/api/v1/geo/locate", params={"lon": 121.0, "lat": 31.0}, headers=viewer)
    assert outside.status_code == 200
    assert outside.json() == {
        "grid_id": None,
        "grid_name": None,
        "community": None,
        "street": None,
        "district": None,
    }


def test_locate_needs_a_session(client, imported):
    response = client.get("/api/v1/geo/locate", params={"lon": 121.484, "lat": 31.235})
    assert_problem(response, 401)
    assert (
        client.post("/api/v1/geo/locate", json={"points": [[121.484, 31.235]]}).status_code == 401
    )


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"lon": 200, "lat": 31.2}, "lon"),
        ({"lon": -180.01, "lat": 31.2}, "lon"),
        ({"lon": 121.4, "lat": 91}, "lat"),
        ({"lon": "east", "lat": 31.2}, "lon"),
        ({"lat": 31.2}, "lon"),
    ],
)
def test_locate_checks_the_point(client, viewer, params, field):
    body = assert_problem(client.get("/api/v1/geo/locate", params=params, headers=viewer), 422)
    assert body["errors"][0]["field"] == field, body


def test_locate_at_a_past_time(client, admin, viewer, imported, clock):
    before = clock.now()
    clock.advance(timedelta(hours=1))
    # Grid 1 grows east over grid 2's western half; grid 2 shrinks.
    changed = collection(
        feature(G1, "外滩第1网格", COMMUNITY, shapely.box(121.48, 31.23, 121.4845, 31.24)),
        feature(G2, "外滩第2网格", COMMUNITY, shapely.box(121.4845, 31.23, 121.486, 31.24)),
    )
    response = client.post("/api/v1/geo/divisions/import", json=changed, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["changed"] == 2
    point = {"lon": 121.484, "lat": 31.235}
    now = client.get("/api/v1/geo/locate", params=point, headers=viewer).json()
    then = client.get(
        "/api/v1/geo/locate", params={**point, "at": before.isoformat()}, headers=viewer
    ).json()
    assert (now["grid_id"], then["grid_id"]) == (G1, G2)
    assert then["street"] == {"code": STREET, "name": "外滩街道"}


def test_locate_many(client, viewer, imported):
    points = [[121.481, 31.231], [121.5, 31.0], [121.489, 31.239], [121.483, 31.24]]
    response = client.post("/api/v1/geo/locate", json={"points": points}, headers=viewer)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["grid_id"] for r in results] == [G1, None, G3, G1]
    assert results[2]["community"] == {"code": COMMUNITY, "name": "外滩居委会"}
    assert results[1]["district"] is None
    empty = client.post("/api/v1/geo/locate", json={"points": []}, headers=viewer)
    assert empty.json() == {"results": []}


def test_locate_many_checks_each_point(client, viewer):
    response = client.post(
        "/api/v1/geo/locate", json={"points": [[121.4, 31.2], [121.4, -95]]}, headers=viewer
    )
    assert_rule(response, "points[1].lat", "range")
    short = client.post("/api/v1/geo/locate", json={"points": [[121.4]]}, headers=viewer)
    assert_problem(short, 422)


# -- divisions ----------------------------------------------------------------------------------


def test_list_divisions_as_geojson(client, viewer, imported):
    response = client.get("/api/v1/geo/divisions", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    body = response.json()
    assert body["type"] == "FeatureCollection"
    assert [f["id"] for f in body["features"]] == [DISTRICT, STREET, COMMUNITY, G1, G2, G3]
    first = body["features"][3]
    assert first["type"] == "Feature"
    assert first["geometry"]["type"] == "Polygon"
    assert first["properties"]["level"] == "grid"
    assert first["properties"]["parent_code"] == COMMUNITY
    assert first["properties"]["valid_to"] is None
    assert first["properties"]["area_m2"] == pytest.approx(285.6 * 1110.6, rel=0.01)

    def codes(**params):
        found = client.get("/api/v1/geo/divisions", params=params, headers=viewer)
        assert found.status_code == 200, found.text
        return [f["id"] for f in found.json()["features"]]

    assert codes(level="grid") == [G1, G2, G3]
    assert codes(level="street") == [STREET]
    assert codes(parent_code=COMMUNITY) == [G1, G2, G3]
    assert codes(level="grid", bbox="121.4835,31.231,121.4840,31.232") == [G2]
    assert codes(level="grid", bbox="121.4845,31.231,121.4875,31.232") == [G2, G3]
    assert codes(bbox="100,20,101,21") == []
    assert codes(code_prefix="3101010020010") == [G1, G2, G3]
    assert codes(level="grid", limit=1) == [G1]


@pytest.mark.parametrize(
    ("bbox", "field", "rule"),
    [
        ("1,2,3", "bbox", "bbox_format"),
        ("a,b,c,d", "bbox", "bbox_format"),
        ("121.5,31,121.4,32", "bbox", "bbox_format"),
        ("121,32,122,31", "bbox", "bbox_format"),
        ("1,2,3,4,5", "bbox", "bbox_format"),
        ("179,0,181,1", "bbox.lon", "range"),
    ],
)
def test_a_bad_bbox_is_refused(client, viewer, bbox, field, rule):
    response = client.get("/api/v1/geo/divisions", params={"bbox": bbox}, headers=viewer)
    assert_rule(response, field, rule)


def test_a_bad_level_is_refused(client, viewer):
    response = client.get("/api/v1/geo/divisions", params={"level": "planet"}, headers=viewer)
    assert assert_problem(response, 422)["errors"][0]["field"] == "level"


def test_one_division_and_its_history(client, admin, viewer, imported, clock):
    response = client.get(f"/api/v1/geo/divisions/{G1}", headers=viewer)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(GEOJSON)
    body = response.json()
    assert body["id"] == G1
    assert body["properties"]["name"] == "外滩第1网格"
    assert shapely.equals(
        shapely.geometry.shape(body["geometry"]), shapely.box(121.48, 31.23, 121.483, 31.24)
    )
    first = clock.now()
    clock.advance(timedelta(minutes=90))  # (within the session's lifetime)
    renamed = collection(
        feature(G1, "外滩一号网格", COMMUNITY, shapely.box(121.48, 31.23, 121.483, 31.24))
    )
    assert (
        client.post("/api/v1/geo/divisions/import", json=renamed, headers=admin).json()["changed"]
        == 1
    )

    history = client.get(f"/api/v1/geo/divisions/{G1}/history", headers=viewer)
    assert history.status_code == 200
    assert history.headers["content-type"].startswith(GEOJSON)
    versions = [f["properties"] for f in history.json()["features"]]
    assert [v["name"] for v in versions] == ["外滩第1网格", "外滩一号网格"]
    assert versions[0]["valid_to"] == versions[1]["valid_from"] == clock.now().isoformat()
    assert versions[0]["valid_from"] == first.isoformat()
    assert versions[1]["valid_to"] is None

    current = client.get(f"/api/v1/geo/divisions/{G1}", headers=viewer).json()
    assert current["properties"]["name"] == "外滩一号网格"
    old = client.get(
        f"/api/v1/geo/divisions/{G1}",
        params={"at": (first + timedelta(hours=1)).isoformat()},
        headers=viewer,
    ).json()
    assert old["properties"]["name"] == "外滩第1网格"


def test_unknown_and_malformed_division_codes(client, viewer, imported):
    assert_problem(client.get("/api/v1/geo/divisions/310101002001009", headers=viewer), 404)
    assert_problem(client.get("/api/v1/geo/divisions/310101002001009/history", headers=viewer), 404)
    assert_problem(client.get("/api/v1/geo/divisions/31010a", headers=viewer), 422)
    assert_problem(client.get("/api/v1/geo/divisions/12345", headers=viewer), 422)


# -- import -------------------------------------------------------------------------------------


def test_import_as_admin(client, admin, services, system):
    response = client.post("/api/v1/geo/divisions/import", json=tree(), headers=admin)
    assert response.status_code == 201, response.text
    assert response.json() == {
        "written": True,
        "created": 6,
        "changed": 0,
        "unchanged": 0,
        "issues": [],
    }
    again = client.post("/api/v1/geo/divisions/import", json=tree(), headers=admin)
    assert again.status_code == 201
    assert again.json() == {
        "written": True,
        "created": 0,
        "changed": 0,
        "unchanged": 6,
        "issues": [],
    }
    entries = services.audit.query(system, AuditFilter(action="geo.import"))
    assert len(entries) == 1
    assert entries[0].actor == "root"
    assert entries[0].role == "admin"
    assert entries[0].request_id == response.headers["X-Request-ID"]


def test_import_needs_geo_write(client, viewer, services, system):
    response = client.post("/api/v1/geo/divisions/import", json=tree(), headers=viewer)
    assert_problem(response, 403)
    assert services.divisions.find(system) == []
    assert_problem(client.post("/api/v1/geo/divisions/import", json=tree()), 401)


def test_import_with_a_bad_feature_writes_nothing(client, admin, viewer, services, system):
    data = tree()
    data["features"][1]["geometry"] = BOW_TIE
    response = client.post("/api/v1/geo/divisions/import", json=data, headers=admin)
    body = assert_rule(response, "features[1].geometry", "geometry_invalid")
    assert G2 in body["errors"][0]["message"]
    assert services.divisions.find(system) == []
    assert client.get("/api/v1/geo/divisions", headers=viewer).json()["features"] == []


def test_import_lists_every_bad_feature(client, admin, services, system):
    data = tree()
    data["features"][0]["geometry"] = BOW_TIE
    data["features"][4]["properties"]["parent_code"] = "310102"
    response = client.post("/api/v1/geo/divisions/import", json=data, headers=admin)
    body = assert_problem(response, 422)
    # The refused street takes its community and that community's grids with it.
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("features[0].geometry", "geometry_invalid"),
        ("features[1].parent_code", "parent_exists"),
        ("features[2].parent_code", "parent_exists"),
        ("features[3].parent_code", "parent_exists"),
        ("features[4].parent_code", "parent_prefix"),
    ]
    # Features that cannot even be read are reported (and stop the import) on their own.
    data["features"][2]["properties"]["code"] = None
    data["features"].append({"type": "Point"})
    response = client.post("/api/v1/geo/divisions/import", json=data, headers=admin)
    body = assert_problem(response, 422)
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("features[2].code", "required"),
        ("features[6].feature", "feature_type"),
    ]
    assert services.divisions.find(system) == []


def test_import_with_skip_invalid(client, admin, services, system):
    data = tree()
    data["features"][0]["geometry"] = BOW_TIE
    data["features"].append("nonsense")
    response = client.post(
        "/api/v1/geo/divisions/import", params={"skip_invalid": "true"}, json=data, headers=admin
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["written"] is True
    assert body["created"] == 5
    assert [(i["index"], i["rule"]) for i in body["issues"]] == [
        (6, "feature_type"),
        (0, "geometry_invalid"),
    ]
    assert [d.code for d in services.divisions.find(system)] == [
        DISTRICT,
        STREET,
        COMMUNITY,
        G1,
        G2,
    ]


def test_import_with_a_mapping_and_a_level(client, admin, services, system):
    client.post("/api/v1/geo/divisions/import", json=tree(), headers=admin)
    data = collection(
        {
            "type": "Feature",
            "properties": {"GRID_ID": "310101002001004", "NAME": "新网格", "COMM": COMMUNITY},
            "geometry": shapely.geometry.mapping(shapely.box(121.49, 31.23, 121.491, 31.24)),
        },
    )
    response = client.post(
        "/api/v1/geo/divisions/import",
        params={"mapping": "code=GRID_ID,name=NAME,parent=COMM", "level": "grid"},
        json=data,
        headers=admin,
    )
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 1
    assert services.divisions.get(system, "310101002001004").name == "新网格"
    wrong = client.post(
        "/api/v1/geo/divisions/import", params={"level": "street"}, json=data, headers=admin
    )
    assert_problem(wrong, 422)
    bad_mapping = client.post(
        "/api/v1/geo/divisions/import", params={"mapping": "colour=red"}, json=data, headers=admin
    )
    assert_rule(bad_mapping, "mapping", "mapping_format")


def test_import_refuses_what_is_not_a_feature_collection(client, admin):
    response = client.post("/api/v1/geo/divisions/import", json={"type": "Feature"}, headers=admin)
    assert_rule(response, "file", "feature_collection")
    projected = {**tree(), "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}
    assert_rule(
        client.post("/api/v1/geo/divisions/import", json=projected, headers=admin),
        "crs",
        "geographic_crs",
    )


def test_import_of_an_unknown_geometry_type_is_a_422(client, admin):
    data = tree()
    data["features"][1]["geometry"] = {"type": "Circle", "coordinates": [121.48, 31.23]}
    response = client.post("/api/v1/geo/divisions/import", json=data, headers=admin)
    assert_rule(response, "features[1].geometry", "geometry_format")


# -- check --------------------------------------------------------------------------------------


def test_check(client, admin, viewer, imported):
    response = client.get("/api/v1/geo/check", headers=viewer)
    assert response.status_code == 200
    assert response.json() == {"issues": [], "count": 0}
    overlapping = collection(
        feature(G2, "外滩第2网格", COMMUNITY, shapely.box(121.4825, 31.23, 121.4855, 31.24))
    )
    client.post("/api/v1/geo/divisions/import", json=overlapping, headers=admin)
    body = client.get("/api/v1/geo/check", params={"parent_code": COMMUNITY}, headers=viewer).json()
    assert body["count"] == 2
    kinds = {i["kind"]: i for i in body["issues"]}
    assert sorted(kinds) == ["gap", "overlap"]
    assert kinds["overlap"]["codes"] == [G1, G2]
    assert kinds["overlap"]["parent_code"] == COMMUNITY
    assert kinds["gap"]["area_m2"] == pytest.approx(47.6 * 1110.6, rel=0.02)
    assert_problem(
        client.get("/api/v1/geo/check", params={"parent_code": "310101002009"}, headers=viewer), 404
    )
    assert_problem(client.get("/api/v1/geo/check"), 401)


# -- grid responsibility ------------------------------------------------------------------------


@pytest.fixture
def departments(services, system):
    services.accounts.create_department(system, code="SZ", name="市政")
    services.accounts.create_department(system, code="CG", name="城管")


def test_grid_responsibility(
    client, admin, viewer, make_user, imported, departments, services, system
):
    make_user("pat", Role.PATROLLER)
    url = f"/api/v1/geo/grids/{G1}"
    empty = client.get(f"{url}/responsibility", headers=viewer)
    assert empty.status_code == 200
    assert empty.json() == {"grid_code": G1, "workers": [], "by_matter": {}, "by_department": {}}

    added = client.post(f"{url}/workers", json={"username": "pat"}, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["workers"] == ["pat"]
    assert_problem(client.post(f"{url}/workers", json={"username": "pat"}, headers=admin), 409)
    assert_rule(
        client.post(f"{url}/workers", json={"username": "vera"}, headers=admin),
        "username",
        "patroller_role",
    )
    assert_problem(client.post(f"{url}/workers", json={"username": "Pat!"}, headers=admin), 422)

    unit = client.put(
        f"{url}/units",
        json={"key_kind": "matter", "key": "06010", "unit_code": "CG"},
        headers=admin,
    )
    assert unit.status_code == 200, unit.text
    assert unit.json()["by_matter"] == {"06010": "CG"}
    by_department = client.put(
        f"{url}/units",
        json={"key_kind": "department", "key": "SZ", "unit_code": "CG"},
        headers=admin,
    )
    assert by_department.json()["by_department"] == {"SZ": "CG"}
    assert_rule(
        client.put(
            f"{url}/units",
            json={"key_kind": "matter", "key": "06999", "unit_code": "CG"},
            headers=admin,
        ),
        "key",
        "matter_class_known",
    )
    assert_rule(
        client.put(
            f"{url}/units",
            json={"key_kind": "department", "key": "NOPE", "unit_code": "CG"},
            headers=admin,
        ),
        "key",
        "department_exists",
    )
    assert_problem(
        client.put(
            f"{url}/units",
            json={"key_kind": "colour", "key": "x", "unit_code": "CG"},
            headers=admin,
        ),
        422,
    )
    cleared = client.put(
        f"{url}/units",
        json={"key_kind": "matter", "key": "06010", "unit_code": None},
        headers=admin,
    )
    assert cleared.json()["by_matter"] == {}

    now = client.get(f"{url}/responsibility", headers=viewer).json()
    assert now == {
        "grid_code": G1,
        "workers": ["pat"],
        "by_matter": {},
        "by_department": {"SZ": "CG"},
    }

    removed = client.delete(f"{url}/workers/pat", headers=admin)
    assert removed.status_code == 200
    assert removed.json()["workers"] == []
    assert_problem(client.delete(f"{url}/workers/pat", headers=admin), 409)

    actions = [e.action for e in services.audit.query(system, AuditFilter(object_type="grid"))]
    assert actions == [
        "geo.worker_remove",
        "geo.unit_set",
        "geo.unit_set",
        "geo.unit_set",
        "geo.worker_add",
    ]


def test_grid_responsibility_needs_geo_write_and_a_grid(client, viewer, admin, make_user, imported):
    make_user("pat", Role.PATROLLER)
    url = f"/api/v1/geo/grids/{G1}"
    assert_problem(client.post(f"{url}/workers", json={"username": "pat"}, headers=viewer), 403)
    assert_problem(client.delete(f"{url}/workers/pat", headers=viewer), 403)
    assert_problem(
        client.put(
            f"{url}/units",
            json={"key_kind": "matter", "key": "06010", "unit_code": "SZ"},
            headers=viewer,
        ),
        403,
    )
    assert_problem(client.get(f"{url}/responsibility"), 401)
    assert_problem(
        client.get("/api/v1/geo/grids/310101002001009/responsibility", headers=viewer), 404
    )
    assert_problem(client.get(f"/api/v1/geo/grids/{COMMUNITY}/responsibility", headers=viewer), 404)
    assert_problem(
        client.post(
            "/api/v1/geo/grids/310101002001009/workers", json={"username": "pat"}, headers=admin
        ),
        404,
    )
