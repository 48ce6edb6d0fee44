"""The components and gazetteer API: catalogue, import, list, nearest, show, places, resolve."""

from __future__ import annotations

from typing import Any

import pytest
import shapely

from cityops.auth.permissions import Role
from tests.conftest import bearer
from tests.web.problems import assert_problem, assert_rule

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1, G2 = "410171001001001", "410171001001002"
LAMP_A, LAMP_B, LAMP_C = "41017101037000001", "41017101037000002", "41017101037000003"
COVER = "41017101002000001"


def feature(properties: dict[str, Any], geometry: Any) -> dict[str, Any]:
    if not isinstance(geometry, dict):
        geometry = shapely.geometry.mapping(geometry)
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def division(code: str, name: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    return feature({"code": code, "name": name, "parent_code": parent}, geometry)


def tree() -> dict[str, Any]:
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    return collection(
        division(DISTRICT, "高新区", None, whole),
        division(STREET, "石佛街道", DISTRICT, whole),
        division(COMMUNITY, "科学大道社区", STREET, whole),
        division(G1, "科学大道第1网格", COMMUNITY, shapely.box(113.54, 34.80, 113.55, 34.82)),
        division(G2, "科学大道第2网格", COMMUNITY, shapely.box(113.55, 34.80, 113.56, 34.82)),
    )


def component(cid: str, lon: float, lat: float, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": cid,
        "name": "路灯",
        "department_code": "SZ",
        "department_name": "市政设施管理处",
        "status": "完好",
        "initial_date": "2019-03-01",
        "lon": lon,
        "lat": lat,
    }
    data.update(changes)
    return data


def component_rows() -> list[dict[str, Any]]:
    return [
        component(LAMP_A, 113.545, 34.810),
        component(LAMP_B, 113.5455, 34.810),
        component(COVER, 113.5451, 34.810, name="污水井盖", department_code="SW"),
        component(LAMP_C, 113.555, 34.810),
    ]


def as_points(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return collection(
        *(
            feature(
                {k: v for k, v in r.items() if k not in ("lon", "lat")},
                {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
            )
            for r in rows
        )
    )


def place_collection() -> dict[str, Any]:
    return collection(
        feature(
            {"kind": "road", "name": "科学大道", "aliases": "科学路"},
            {"type": "LineString", "coordinates": [[113.54, 34.81], [113.56, 34.81]]},
        ),
        feature(
            {"kind": "road", "name": "长椿路"},
            {"type": "LineString", "coordinates": [[113.55, 34.80], [113.55, 34.82]]},
        ),
        feature(
            {"kind": "address", "name": "科学大道100号"},
            {"type": "Point", "coordinates": [113.545, 34.8102]},
        ),
        feature(
            {"kind": "poi", "name": "高新区管委会", "aliases": "管委会|高新区政府"},
            {"type": "Point", "coordinates": [113.557, 34.815]},
        ),
    )


@pytest.fixture
def admin(client, make_user):
    return bearer(client, make_user("root", Role.ADMIN))


@pytest.fixture
def viewer(client, make_user):
    return bearer(client, make_user("vera", Role.VIEWER))


@pytest.fixture
def grids(client, admin):
    response = client.post("/api/v1/geo/divisions/import", json=tree(), headers=admin)
    assert response.status_code == 201, response.text


@pytest.fixture
def imported(client, admin, grids):
    response = client.post("/api/v1/components/import", json=component_rows(), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def places(client, admin, grids):
    response = client.post("/api/v1/places/import", json=place_collection(), headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


# -- the catalogue ------------------------------------------------------------------------------


def test_component_classes(client, viewer):
    response = client.get("/api/v1/catalog/components", headers=viewer)
    assert response.status_code == 200, response.text
    classes = response.json()
    assert len(classes) == 153
    codes = [c["code"] for c in classes]
    assert codes == sorted(codes)
    assert len(set(codes)) == 153
    lamp = next(c for c in classes if c["code"] == "01037")
    assert lamp == {
        "code": "01037",
        "name": "路灯",
        "major_code": "01",
        "major_name": "市政公用设施",
    }


def test_matter_classes(client, viewer):
    response = client.get("/api/v1/catalog/matters", headers=viewer)
    assert response.status_code == 200, response.text
    matters = response.json()
    assert len(matters) == 250
    assert len({m["code"] for m in matters}) == 250
    assert all(len(m["code"]) == 5 and m["name"] for m in matters)
    assert set(matters[0]) == {"code", "name", "major_code", "major_name", "component_code"}


def test_the_catalogue_needs_a_sign_in(client):
    assert_problem(client.get("/api/v1/catalog/components"), 401)
    assert_problem(client.get("/api/v1/catalog/matters"), 401)


# -- import -------------------------------------------------------------------------------------


def test_import_a_json_array(client, admin, imported):
    assert imported == {"written": True, "created": 4, "updated": 0, "unchanged": 0, "issues": []}
    again = client.post("/api/v1/components/import", json=component_rows(), headers=admin)
    assert again.status_code == 201, again.text
    assert (again.json()["created"], again.json()["unchanged"]) == (0, 4)


def test_import_a_feature_collection_of_points(client, admin, viewer, grids):
    response = client.post(
        "/api/v1/components/import", json=as_points(component_rows()), headers=admin
    )
    assert response.status_code == 201, response.text
    assert response.json()["created"] == 4
    shown = client.get(f"/api/v1/components/{LAMP_C}", headers=viewer).json()
    assert (shown["lon"], shown["lat"]) == (113.555, 34.81)
    assert shown["grid_code"] == G2


def test_a_bad_row_is_a_422_naming_the_row(client, admin, viewer, grids):
    rows = component_rows()
    rows[1]["status"] = "坏了"
    response = client.post("/api/v1/components/import", json=rows, headers=admin)
    body = assert_rule(response, "rows[2].status", "one_of")
    assert len(body["errors"]) == 1
    listed = client.get("/api/v1/components", headers=viewer)
    assert listed.json() == []
    # With skip_invalid the good rows are written and the bad one listed.
    skipped = client.post(
        "/api/v1/components/import", params={"skip_invalid": "true"}, json=rows, headers=admin
    )
    assert skipped.status_code == 201, skipped.text
    assert skipped.json()["created"] == 3
    assert [(i["row"], i["field"], i["rule"]) for i in skipped.json()["issues"]] == [
        (2, "status", "one_of")
    ]


def test_a_bad_point_in_a_feature_collection(client, admin, grids):
    rows = component_rows()
    body = as_points(rows)
    body["features"][2]["geometry"] = {"type": "Point", "coordinates": [113.5, 95.0]}
    response = client.post("/api/v1/components/import", json=body, headers=admin)
    assert_rule(response, "rows[3].lat", "range")


def test_a_body_that_is_neither_rows_nor_features(client, admin):
    response = client.post("/api/v1/components/import", json={"rows": []}, headers=admin)
    assert_rule(response, "body", "rows")


def test_a_viewer_cannot_import(client, viewer, grids):
    response = client.post("/api/v1/components/import", json=component_rows(), headers=viewer)
    assert_problem(response, 403)
    response = client.post("/api/v1/places/import", json=place_collection(), headers=viewer)
    assert_problem(response, 403)


# -- reading ------------------------------------------------------------------------------------


def test_list_by_grid_and_class(client, viewer, imported):
    def ids(**params: str) -> list[str]:
        response = client.get("/api/v1/components", params=params, headers=viewer)
        assert response.status_code == 200, response.text
        return [c["id"] for c in response.json()]

    assert ids() == sorted([LAMP_A, LAMP_B, COVER, LAMP_C])
    assert ids(grid_code=G1) == [COVER, LAMP_A, LAMP_B]
    assert ids(grid_code=G2) == [LAMP_C]
    assert ids(grid_code=G1, class_code="01037") == [LAMP_A, LAMP_B]
    assert ids(class_code="01002") == [COVER]
    assert ids(limit="1", offset="1") == [LAMP_A]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"grid_code": "41017100100100"}, "grid_code"),
        ({"class_code": "1037"}, "class_code"),
        ({"limit": "0"}, "limit"),
    ],
)
def test_list_checks_its_parameters(client, viewer, params, field):
    body = assert_problem(client.get("/api/v1/components", params=params, headers=viewer), 422)
    assert body["errors"][0]["field"] == field


def test_nearest(client, viewer, imported):
    response = client.get(
        "/api/v1/components/nearest", params={"lon": 113.545, "lat": 34.8101}, headers=viewer
    )
    assert response.status_code == 200, response.text
    found = response.json()
    assert [c["id"] for c in found] == [LAMP_A, COVER, LAMP_B]
    distances = [c["distance_m"] for c in found]
    assert distances == sorted(distances)
    assert distances[0] == pytest.approx(11.1, abs=0.3)
    assert found[0]["grid_code"] == G1
    only_lamps = client.get(
        "/api/v1/components/nearest",
        params={"lon": 113.545, "lat": 34.8101, "class_code": "01037", "within_m": 30},
        headers=viewer,
    ).json()
    assert [c["id"] for c in only_lamps] == [LAMP_A]


@pytest.mark.parametrize(
    "params",
    [
        {"lon": 113.545, "lat": 34.81, "within_m": 0},
        {"lon": 113.545, "lat": 34.81, "within_m": 5001},
        {"lon": 181, "lat": 34.81},
        {"lon": 113.545},
    ],
)
def test_nearest_checks_its_parameters(client, viewer, params):
    assert_problem(client.get("/api/v1/components/nearest", params=params, headers=viewer), 422)


def test_nearest_with_an_unknown_class(client, viewer, imported):
    response = client.get(
        "/api/v1/components/nearest",
        params={"lon": 113.545, "lat": 34.81, "class_code": "09999"},
        headers=viewer,
    )
    assert_rule(response, "class_code", "component_class_known")


def test_show_one_component(client, viewer, imported):
    response = client.get(f"/api/v1/components/{LAMP_A}", headers=viewer)
    assert response.status_code == 200, response.text
    shown = response.json()
    assert shown["id"] == LAMP_A
    assert shown["class_code"] == "01037"
    assert shown["division_code"] == DISTRICT
    assert shown["initial_date"] == "2019-03-01"
    assert shown["change_date"] is None
    assert (shown["grid_code"], shown["community_code"], shown["street_code"]) == (
        G1,
        COMMUNITY,
        STREET,
    )
    assert (shown["community_name"], shown["street_name"]) == ("科学大道社区", "石佛街道")


def test_show_an_unknown_component(client, viewer, imported):
    assert_problem(client.get("/api/v1/components/41017101037999999", headers=viewer), 404)
    assert_problem(client.get("/api/v1/components/4101710103799999x", headers=viewer), 422)


# -- the gazetteer ------------------------------------------------------------------------------


def test_places_import(client, admin, places):
    assert places == {"written": True, "stored": 4, "unchanged": 0, "issues": []}
    again = client.post("/api/v1/places/import", json=place_collection(), headers=admin)
    assert again.status_code == 201, again.text
    assert (again.json()["stored"], again.json()["unchanged"]) == (0, 4)


def test_places_import_refuses_a_road_given_as_a_point(client, admin, viewer, grids):
    body = place_collection()
    body["features"][1]["geometry"] = {"type": "Point", "coordinates": [113.55, 34.81]}
    response = client.post("/api/v1/places/import", json=body, headers=admin)
    assert_rule(response, "rows[2].geometry", "geometry_type")
    resolved = client.get(
        "/api/v1/places/resolve", params={"text": "科学大道100号"}, headers=viewer
    ).json()
    assert resolved["status"] == "not_found"


def test_resolve_found(client, viewer, places):
    response = client.get(
        "/api/v1/places/resolve",
        params={"text": "高新区科学大道与长椿路交叉口东南角"},
        headers=viewer,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "found"
    assert body["method"] == "intersection"
    assert body["confidence"] == 0.9
    assert sorted(body["matched"]) == sorted(["科学大道", "长椿路"])
    assert body["lon"] > 113.55
    assert body["lat"] < 34.81
    assert body["location"]["grid_id"] == G2
    assert body["location"]["street"] == {"code": STREET, "name": "石佛街道"}
    poi = client.get("/api/v1/places/resolve", params={"text": "管委会"}, headers=viewer).json()
    assert (poi["status"], poi["method"], poi["location"]["grid_id"]) == ("found", "poi", G2)


def test_resolve_not_found(client, viewer, places):
    response = client.get("/api/v1/places/resolve", params={"text": "科学大道"}, headers=viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "not_found"
    assert body["reason"]
    assert body["lon"] is None
    assert body["lat"] is None
    assert body["location"] is None
    assert body["candidates"]
    assert set(body["candidates"][0]) == {"name", "kind", "lon", "lat", "score"}
    assert body["candidates"][0]["name"] == "科学大道"


@pytest.mark.parametrize("text", ["路" * 201, ""])
def test_resolve_refuses_bad_text(client, viewer, places, text):
    response = client.get("/api/v1/places/resolve", params={"text": text}, headers=viewer)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "text"


def test_resolve_needs_a_sign_in(client, places):
    assert_problem(client.get("/api/v1/places/resolve", params={"text": "管委会"}), 401)
