"""``cityops components`` and ``cityops places`` on both stores."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import shapely

from tests.cli.conftest import Cli, error_line

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1, G2 = "410171001001001", "410171001001002"
LAMP_A, LAMP_B, LAMP_C = "41017101037000001", "41017101037000002", "41017101037000003"
COVER = "41017101002000001"
COLUMNS = [
    "id",
    "name",
    "department_code",
    "department_name",
    "status",
    "initial_date",
    "change_date",
    "data_source",
    "lon",
    "lat",
]


def division(code: str, name: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "parent_code": parent},
        "geometry": shapely.geometry.mapping(geometry),
    }


def write_json(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def component_rows() -> list[dict[str, Any]]:
    base = {
        "name": "路灯",
        "department_code": "SZ",
        "department_name": "市政设施管理处",
        "status": "完好",
        "initial_date": "20190301",
        "change_date": "",
        "data_source": "实测",
    }
    return [
        {**base, "id": LAMP_A, "lon": "113.545", "lat": "34.81"},
        {**base, "id": LAMP_B, "lon": "113.5455", "lat": "34.81"},
        {**base, "id": COVER, "name": "污水井盖", "lon": "113.5451", "lat": "34.81"},
        {**base, "id": LAMP_C, "lon": "113.555", "lat": "34.81", "change_date": "2026-06-30"},
    ]


def write_csv(path: Path, rows: list[dict[str, Any]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def places_collection() -> dict[str, Any]:
    def feature(properties: dict[str, Any], geometry: dict[str, Any]) -> dict[str, Any]:
        return {"type": "Feature", "properties": properties, "geometry": geometry}

    return {
        "type": "FeatureCollection",
        "features": [
            feature(
                {"kind": "road", "name": "科学大道", "key": "road:kxdd"},
                {"type": "LineString", "coordinates": [[113.54, 34.81], [113.56, 34.81]]},
            ),
            feature(
                {"kind": "road", "name": "长椿路", "key": "road:ccl"},
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
        ],
    }


@pytest.fixture
def grids(run_cli: Cli, tmp_path: Path) -> Cli:
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    features = [
        division(DISTRICT, "高新区", None, whole),
        division(STREET, "石佛街道", DISTRICT, whole),
        division(COMMUNITY, "科学大道社区", STREET, whole),
        division(G1, "科学大道第1网格", COMMUNITY, shapely.box(113.54, 34.80, 113.55, 34.82)),
        division(G2, "科学大道第2网格", COMMUNITY, shapely.box(113.55, 34.80, 113.56, 34.82)),
    ]
    path = write_json(
        tmp_path / "grids.geojson", {"type": "FeatureCollection", "features": features}
    )
    run_cli.ok("geo", "import", str(path))
    return run_cli


@pytest.fixture
def components_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "components.csv", component_rows())


@pytest.fixture
def imported(grids: Cli, components_csv: Path) -> Cli:
    grids.ok("components", "import", str(components_csv))
    return grids


@pytest.fixture
def places_file(tmp_path: Path) -> Path:
    return write_json(tmp_path / "places.geojson", places_collection())


def shown(cli: Cli, cid: str) -> dict[str, Any]:
    return json.loads(cli.ok("components", "show", cid).stdout)


# -- components import --------------------------------------------------------------------------


def test_import_a_csv_then_again(grids: Cli, components_csv: Path) -> None:
    first = grids.ok("components", "import", str(components_csv))
    assert first.stdout.strip() == "created 4, updated 0, unchanged 0, skipped 0"
    again = grids.ok("components", "import", str(components_csv))
    assert again.stdout.strip() == "created 0, updated 0, unchanged 4, skipped 0"
    lamp = shown(grids, LAMP_C)
    assert lamp["grid_code"] == G2
    assert lamp["change_date"] == "2026-06-30"
    assert lamp["initial_date"] == "2019-03-01"


def test_import_a_csv_with_a_byte_order_mark(grids: Cli, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", component_rows(), encoding="utf-8-sig")
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    result = grids.ok("components", "import", str(path))
    assert result.stdout.strip() == "created 4, updated 0, unchanged 0, skipped 0"
    # The first column is "id", not "\ufeffid".
    assert shown(grids, LAMP_A)["id"] == LAMP_A


def test_import_geojson_points(grids: Cli, tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "properties": {k: v for k, v in r.items() if k not in ("lon", "lat")},
            "geometry": {"type": "Point", "coordinates": [float(r["lon"]), float(r["lat"])]},
        }
        for r in component_rows()
    ]
    path = write_json(tmp_path / "c.geojson", {"type": "FeatureCollection", "features": features})
    result = grids.ok("components", "import", str(path))
    assert result.stdout.strip() == "created 4, updated 0, unchanged 0, skipped 0"
    assert shown(grids, LAMP_A)["grid_code"] == G1


def test_a_bad_row_exits_2_and_writes_nothing(grids: Cli, tmp_path: Path) -> None:
    rows = component_rows()
    rows[1]["status"] = "坏了"
    path = write_csv(tmp_path / "bad.csv", rows)
    result = grids("components", "import", str(path))
    assert result.exit_code == 2
    line = error_line(result)
    assert line.startswith("error: ")
    assert "row 2" in line
    assert "status" in line
    assert "one_of" in line
    assert result.stdout == ""
    missing = grids("components", "show", LAMP_A)
    assert missing.exit_code == 2
    assert error_line(missing).startswith("error: ")


def test_every_bad_row_is_listed(grids: Cli, tmp_path: Path) -> None:
    rows = component_rows()
    rows[1]["status"] = "坏了"
    rows[3]["lat"] = "95"
    result = grids("components", "import", str(write_csv(tmp_path / "bad.csv", rows)))
    assert result.exit_code == 2
    assert "row 4" in result.stderr
    assert "range" in result.stderr
    assert "row 2" in result.stderr


def test_skip_invalid_writes_the_good_rows(grids: Cli, tmp_path: Path) -> None:
    rows = component_rows()
    rows[1]["status"] = "坏了"
    path = write_csv(tmp_path / "bad.csv", rows)
    result = grids.ok("components", "import", "--skip-invalid", str(path))
    assert result.stdout.strip() == "created 3, updated 0, unchanged 0, skipped 1"
    assert "row 2" in result.stderr
    assert "one_of" in result.stderr
    assert shown(grids, LAMP_A)["id"] == LAMP_A
    assert grids("components", "show", LAMP_B).exit_code == 2


def test_a_file_that_is_not_json_or_a_collection(grids: Cli, tmp_path: Path) -> None:
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json", encoding="utf-8")
    result = grids("components", "import", str(broken))
    assert result.exit_code == 2
    assert "json" in error_line(result)
    array = write_json(tmp_path / "array.json", [])
    result = grids("components", "import", str(array))
    assert result.exit_code == 2
    assert "feature_collection" in error_line(result)


# -- nearest and show ---------------------------------------------------------------------------


def test_nearest_with_a_class(imported: Cli) -> None:
    result = imported.ok("components", "nearest", "113.545", "34.8101", "--class", "01037")
    found = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    assert [c["id"] for c in found] == [LAMP_A, LAMP_B]
    assert found[0]["distance_m"] == pytest.approx(11.1, abs=0.3)
    assert found[0]["distance_m"] <= found[1]["distance_m"]
    assert all(c["class_code"] == "01037" for c in found)
    every = imported.ok("components", "nearest", "113.545", "34.8101", "-n", "2").stdout
    assert [json.loads(line)["id"] for line in every.splitlines()] == [LAMP_A, COVER]
    near = imported.ok("components", "nearest", "113.545", "34.8101", "--within", "20").stdout
    assert [json.loads(line)["id"] for line in near.splitlines()] == [LAMP_A, COVER]


def test_nearest_refuses_a_bad_class_or_radius(imported: Cli) -> None:
    result = imported("components", "nearest", "113.545", "34.81", "--class", "09999")
    assert result.exit_code == 2
    assert "component_class_known" in error_line(result)
    result = imported("components", "nearest", "113.545", "34.81", "--within", "0")
    assert result.exit_code == 2
    assert "within_m" in error_line(result)


def test_show(imported: Cli) -> None:
    data = shown(imported, LAMP_A)
    assert data["id"] == LAMP_A
    assert data["name"] == "路灯"
    assert data["division_code"] == DISTRICT
    assert (data["grid_code"], data["community_code"], data["street_code"]) == (
        G1,
        COMMUNITY,
        STREET,
    )
    assert data["street_name"] == "石佛街道"
    result = imported("components", "show", "41017101037999999")
    assert result.exit_code == 2
    assert "41017101037999999" in error_line(result)


# -- places -------------------------------------------------------------------------------------


def test_places_import_then_again(grids: Cli, places_file: Path) -> None:
    first = grids.ok("places", "import", str(places_file))
    assert first.stdout.strip() == "stored 4, unchanged 0, skipped 0"
    again = grids.ok("places", "import", str(places_file))
    assert again.stdout.strip() == "stored 0, unchanged 4, skipped 0"


def test_places_import_from_csv(grids: Cli, tmp_path: Path) -> None:
    path = tmp_path / "pois.csv"
    path.write_text(
        "kind,name,lon,lat,aliases,key\n"
        "poi,郑州大学,113.541,34.819,郑大|郑州大学主校区,poi:zzu\n"
        "address,科学大道102号,113.5455,34.8102,,\n",
        encoding="utf-8-sig",
    )
    assert grids.ok("places", "import", str(path)).stdout.strip() == (
        "stored 2, unchanged 0, skipped 0"
    )
    found = json.loads(grids.ok("places", "resolve", "郑大").stdout)
    assert (found["status"], found["method"]) == ("found", "poi")
    assert found["location"]["grid_id"] == G1


def test_places_import_refuses_a_bad_row(grids: Cli, tmp_path: Path) -> None:
    data = places_collection()
    data["features"][0]["geometry"] = {"type": "Point", "coordinates": [113.55, 34.81]}
    result = grids("places", "import", str(write_json(tmp_path / "bad.geojson", data)))
    assert result.exit_code == 2
    line = error_line(result)
    assert "row 1" in line
    assert "geometry_type" in line
    skipped = grids.ok(
        "places", "import", "--skip-invalid", str(write_json(tmp_path / "bad.geojson", data))
    )
    assert skipped.stdout.strip() == "stored 3, unchanged 0, skipped 1"


def test_places_resolve(grids: Cli, places_file: Path) -> None:
    grids.ok("places", "import", str(places_file))
    found = json.loads(grids.ok("places", "resolve", "科学大道与长椿路交叉口东南角").stdout)
    assert found["status"] == "found"
    assert found["method"] == "intersection"
    assert found["confidence"] == 0.9
    assert found["location"]["grid_id"] == G2
    address = json.loads(grids.ok("places", "resolve", "科学大道１００号").stdout)
    assert (address["status"], address["method"], address["confidence"]) == (
        "found",
        "address",
        0.95,
    )
    missing = json.loads(grids.ok("places", "resolve", "科学大道").stdout)
    assert missing["status"] == "not_found"
    assert missing["reason"]
    assert missing["candidates"]
    assert missing["location"] is None
    assert missing["lon"] is None


def test_places_resolve_refuses_long_text(grids: Cli, places_file: Path) -> None:
    grids.ok("places", "import", str(places_file))
    result = grids("places", "resolve", "路" * 201)
    assert result.exit_code == 2
    assert "length" in error_line(result)
