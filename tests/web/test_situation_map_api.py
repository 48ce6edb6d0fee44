"""The command center's one map over HTTP: case markers, shading by density, layers in a box.

The lights are worked out by hand on the working day 09:00-12:00, 13:30-17:30 (7 hours), every
case dispatched on Friday 2026-11-20 at 10:00 and looked at at 15:00 the same day (3.5 working
hours later):

- R, 污水井盖 urgent (2 工作时): due at 12:00 → red;
- H, the same, put on hold at 11:50 (1 h 50 of 2 h used, over 80 %: the sweep just announced
  yellow) → yellow, frozen while on hold;
- E, 暴露垃圾 (4 工作时) in grid 2: yellow at 14:42 (3.2 h), due at 15:30 → yellow;
- B, 污水井盖 (1 工作日 = 7 h): yellow only at 17:06 → green;
- D, accepted and not dispatched → no light; A, closed → not on the map.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.conftest import bearer
from tests.web.cases_city import (
    COMMUNITY,
    DISTRICT,
    G1,
    G2,
    GARBAGE,
    IN_G1,
    IN_G2,
    MANHOLE,
    STREET,
    act,
    dispatched,
    new_case,
)
from tests.web.problems import assert_problem


@pytest.fixture
def friday(client, city, clock, services) -> tuple[Any, dict[str, str]]:
    """The cases of the module docstring; returns the signed-in city and the numbers by name."""
    a = dispatched(client, city, matter_code=MANHOLE)
    act(client, city.handler_sz, a, "report", comment="ok")
    assert act(client, city.patroller, a, "verify_pass").status_code == 200
    ids = {
        "B": dispatched(client, city, matter_code=MANHOLE),
        "E": dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1]),
        "R": dispatched(client, city, matter_code=MANHOLE, urgency="urgent"),
        "H": dispatched(client, city, matter_code=MANHOLE, urgency="urgent"),
    }
    ids["D"] = new_case(client, city.intake, matter_code=GARBAGE)["case"]["id"]
    clock.advance(timedelta(hours=1, minutes=50))
    assert services.sweeper.sweep().yellow == 2  # R and H turn yellow (E only at 14:42)
    held = act(client, city.dispatcher, ids["H"], "hold", comment="等待配件")
    assert held.status_code == 200, held.text
    clock.advance(timedelta(hours=3, minutes=10))
    numbers = {}
    for name, case_id in ids.items():
        response = client.get(f"/api/v1/cases/{case_id}", headers=city.admin)
        assert response.status_code == 200, response.text
        numbers[name] = response.json()["number"]
    return city, numbers


def _markers(client, headers, **params) -> dict[str, Any]:
    response = client.get("/api/v1/situation/cases", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def _lights(found: dict[str, Any], numbers: dict[str, str]) -> list[tuple[str, str | None]]:
    names = {number: name for name, number in numbers.items()}
    return [(names[item["number"]], item["light"]) for item in found["items"]]


def test_markers_carry_hand_computed_lights_most_urgent_first(client, friday):
    city, numbers = friday
    found = _markers(client, city.admin)
    assert _lights(found, numbers) == [
        ("R", "red"),
        ("H", "yellow"),  # newer than E: newest first within a light
        ("E", "yellow"),
        ("B", "green"),
        ("D", None),
    ]
    assert (found["count"], found["total"], found["truncated"]) == (5, 5, False)
    assert found["limit"] == 5000
    r = found["items"][0]
    assert r == {
        "number": numbers["R"],
        "lon": IN_G1[0],
        "lat": IN_G1[1],
        "light": "red",
        "matter": {"code": MANHOLE, "name": "污水井盖异常"},
        "status": "dispatched",
        "status_label": r["status_label"],
    }
    assert r["status_label"]
    assert next(i for i in found["items"] if i["number"] == numbers["H"])["status"] == "on_hold"


def test_marker_lights_agree_with_the_case_page_and_the_overdue_count(client, friday):
    city, numbers = friday
    found = _markers(client, city.admin)
    for item in found["items"]:
        case = client.get(f"/api/v1/cases/{item['number']}", headers=city.admin).json()
        assert case["deadline"]["light"] == item["light"], item["number"]
    cards = client.get("/api/v1/situation", headers=city.admin).json()["cards"]
    reds = sum(1 for item in found["items"] if item["light"] == "red")
    assert cards["overdue"] == {"value": reds}
    assert cards["open"] == {"value": found["total"]}


def test_markers_follow_the_drill_down(client, friday):
    city, numbers = friday
    in_g2 = _markers(client, city.admin, division=G2)
    assert in_g2["division"] == G2
    assert _lights(in_g2, numbers) == [("E", "yellow")]
    in_g1 = _markers(client, city.admin, division=G1)
    assert [name for name, _ in _lights(in_g1, numbers)] == ["R", "H", "B", "D"]
    for code in (DISTRICT, STREET, COMMUNITY):
        assert _markers(client, city.admin, division=code)["count"] == 5
    assert _markers(client, city.admin, division="410171002")["items"] == []


def test_a_department_handler_sees_only_the_departments_cases(client, friday):
    city, numbers = friday
    found = _markers(client, city.handler_sz)
    assert _lights(found, numbers) == [("R", "red"), ("H", "yellow"), ("B", "green")]
    hws = _markers(client, city.handler_hws)
    assert {name for name, _ in _lights(hws, numbers)} <= {"E", "D"}
    assert ("E", "yellow") in _lights(hws, numbers)


def test_a_division_scoped_reader_sees_only_the_division(client, friday, make_user):
    from cityops.auth.permissions import Role
    from cityops.auth.scopes import Scope

    city, numbers = friday
    elsewhere = bearer(client, make_user("far", Role.VIEWER, Scope("division", "410171002")))
    assert _markers(client, elsewhere)["items"] == []
    grid_2 = bearer(client, make_user("grid2", Role.VIEWER, Scope("division", G2)))
    assert _lights(_markers(client, grid_2), numbers) == [("E", "yellow")]


def test_markers_show_cases_only_to_readers_of_cases(client, friday):
    city, numbers = friday

    def key(*permissions: str, scope: str = "city") -> dict[str, str]:
        body = {"name": "wall screen", "permissions": list(permissions), "scope": scope}
        response = client.post("/api/v1/apikeys", json=body, headers=city.admin)
        assert response.status_code == 201, response.text
        return {"X-API-Key": response.json()["key"]}

    figures_only = key("analytics:read")
    assert client.get("/api/v1/situation", headers=figures_only).status_code == 200
    assert_problem(client.get("/api/v1/situation/cases", headers=figures_only), 403)
    both = key("analytics:read", "cases:read")
    assert len(_markers(client, both)["items"]) == 5
    # A key of grid 2: only the case there.
    assert (
        _markers(client, key("cases:read", "analytics:read", scope=f"division:{G2}"))["count"] == 1
    )


def test_the_markers_are_capped_and_say_so(client, friday):
    city, numbers = friday
    found = _markers(client, city.admin, limit=2)
    assert _lights(found, numbers) == [("R", "red"), ("H", "yellow")]
    assert (found["count"], found["total"], found["truncated"], found["limit"]) == (
        2,
        5,
        True,
        2,
    )
    exact = _markers(client, city.admin, limit=5)
    assert (exact["count"], exact["truncated"]) == (5, False)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "5001"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"division": "4101"}, "division"),
        ({"division": "41017100100100x"}, "division"),
    ],
)
def test_bad_marker_parameters_name_the_field(client, city, params, field):
    response = client.get("/api/v1/situation/cases", params=params, headers=city.admin)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == field, body


def test_the_markers_need_a_signed_in_reader(client):
    assert_problem(client.get("/api/v1/situation/cases"), 401)


# --- shading: area and density -----------------------------------------------------------------


def _area(client, headers, code: str) -> float:
    response = client.get(f"/api/v1/geo/divisions/{code}", headers=headers)
    assert response.status_code == 200, response.text
    return float(response.json()["properties"]["area_m2"])


def test_the_situation_gives_each_child_division_its_area_and_density(client, friday):
    city, _ = friday
    district = _area(client, city.admin, DISTRICT)
    assert 3.9e6 < district < 4.2e6  # 0.02° × 0.02° at 34.8° N: about 1.83 km × 2.22 km
    found = client.get("/api/v1/situation", headers=city.admin).json()
    assert found["areas"] == [
        {
            "code": DISTRICT,
            "area_m2": pytest.approx(district, abs=0.1),
            "open_per_km2": round(5 / (district / 1e6), 2),
        }
    ]
    grids = client.get("/api/v1/situation", params={"division": COMMUNITY}, headers=city.admin)
    by_code = {a["code"]: a for a in grids.json()["areas"]}
    assert set(by_code) == {G1, G2}
    g2 = _area(client, city.admin, G2)
    assert by_code[G2]["open_per_km2"] == round(1 / (g2 / 1e6), 2)
    assert by_code[G1]["open_per_km2"] == round(4 / (_area(client, city.admin, G1) / 1e6), 2)
    own = client.get("/api/v1/situation", params={"division": G2}, headers=city.admin).json()
    assert [a["code"] for a in own["areas"]] == [G2]
    empty = client.get("/api/v1/situation", params={"division": "410171002"}, headers=city.admin)
    assert empty.json()["areas"] == []


def test_a_child_division_without_open_cases_has_density_zero(client, city):
    found = client.get("/api/v1/situation", params={"division": COMMUNITY}, headers=city.admin)
    assert [(a["code"], a["open_per_km2"]) for a in found.json()["areas"]] == [(G1, 0), (G2, 0)]


# --- layers: components and places in a box ------------------------------------------------------

LAMP, COVER, FAR = "41017101037000001", "41017101002000001", "41017101037000002"
BOX = "113.54,34.80,113.55,34.82"  # grid 1


def _component(cid: str, lon: float, lat: float, name: str) -> dict[str, Any]:
    return {
        "id": cid,
        "name": name,
        "department_code": "SZ",
        "department_name": "市政设施管理处",
        "status": "完好",
        "initial_date": "2019-03-01",
        "lon": lon,
        "lat": lat,
    }


@pytest.fixture
def layers(client, city) -> dict[str, str]:
    rows = [
        _component(LAMP, 113.545, 34.81, "路灯"),
        _component(COVER, 113.546, 34.81, "污水井盖"),
        _component(FAR, 113.555, 34.81, "路灯"),
    ]
    response = client.post("/api/v1/components/import", json=rows, headers=city.admin)
    assert response.status_code == 201, response.text
    points = [
        ("poi", "高新区管委会", 113.545, 34.815),
        ("address", "科学大道100号", 113.546, 34.8102),
        ("poi", "科学大道地铁站", 113.557, 34.815),
    ]
    places = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"kind": kind, "name": name},
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            }
            for kind, name, lon, lat in points
        ],
    }
    response = client.post("/api/v1/places/import", json=places, headers=city.admin)
    assert response.status_code == 201, response.text
    return city.viewer


def test_components_in_a_box(client, layers):
    response = client.get("/api/v1/situation/components", params={"bbox": BOX}, headers=layers)
    assert response.status_code == 200, response.text
    found = response.json()
    assert [(c["id"], c["class_name"]) for c in found["items"]] == [
        (COVER, "污水井盖"),
        (LAMP, "路灯"),
    ]
    assert found["items"][1] == {
        "id": LAMP,
        "name": "路灯",
        "class_code": "01037",
        "class_name": "路灯",
        "status": "完好",
        "lon": 113.545,
        "lat": 34.81,
    }
    assert (found["count"], found["truncated"]) == (2, False)
    capped = client.get(
        "/api/v1/situation/components", params={"bbox": BOX, "limit": 1}, headers=layers
    ).json()
    assert ([c["id"] for c in capped["items"]], capped["truncated"]) == ([COVER], True)


def test_places_in_a_box_pois_by_default(client, layers):
    def names(**params: Any) -> list[str]:
        response = client.get("/api/v1/situation/places", params=params, headers=layers)
        assert response.status_code == 200, response.text
        return [p["name"] for p in response.json()["items"]]

    assert names(bbox=BOX) == ["高新区管委会"]
    assert names(bbox=BOX, kind=["poi", "address"]) == ["高新区管委会", "科学大道100号"]
    assert names(bbox="113.54,34.80,113.56,34.82", kind="poi") == [
        "高新区管委会",
        "科学大道地铁站",
    ]
    capped = client.get(
        "/api/v1/situation/places",
        params={"bbox": "113.54,34.80,113.56,34.82", "limit": 1},
        headers=layers,
    ).json()
    assert (capped["count"], capped["truncated"]) == (1, True)


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("components", {}, "bbox"),
        ("components", {"bbox": "113.54,34.80,113.55"}, "bbox"),
        ("components", {"bbox": "113.55,34.80,113.54,34.82"}, "bbox"),  # min > max
        ("components", {"bbox": "113.0,34.0,113.5,34.5"}, "bbox"),  # too big: zoom in
        ("components", {"bbox": "nan,34.80,113.55,34.82"}, "bbox"),
        ("components", {"bbox": BOX, "limit": "2001"}, "limit"),
        ("places", {"bbox": "200,34.80,201,34.82"}, "bbox"),
        ("places", {"bbox": BOX, "kind": "road"}, "kind"),
        ("places", {"bbox": BOX, "limit": "0"}, "limit"),
    ],
)
def test_bad_layer_parameters_name_the_field(client, city, path, params, field):
    response = client.get(f"/api/v1/situation/{path}", params=params, headers=city.viewer)
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == field, body
