"""``cityops geo``: import, export, check, locate, locate-batch and grid duty, on both stores."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import pytest
import shapely

from cityops.auth.permissions import Role
from tests.cli.conftest import Cli

DISTRICT, STREET, COMMUNITY = "310101", "310101002", "310101002001"
G1, G2, G3 = "310101002001001", "310101002001002", "310101002001003"
BOW_TIE = {
    "type": "Polygon",
    "coordinates": [
        [[121.48, 31.23], [121.49, 31.24], [121.49, 31.23], [121.48, 31.24], [121.48, 31.23]]
    ],
}


def feature(code: str, name: str, parent: str | None, geometry: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "properties": {"code": code, "name": name, "parent_code": parent},
        "geometry": shapely.geometry.mapping(geometry)
        if not isinstance(geometry, dict)
        else geometry,
    }


def tree_features() -> list[dict[str, Any]]:
    whole = shapely.box(121.48, 31.23, 121.49, 31.24)
    return [
        feature(DISTRICT, "黄浦区", None, whole),
        feature(STREET, "外滩街道", DISTRICT, whole),
        feature(COMMUNITY, "外滩居委会", STREET, whole),
        feature(G1, "外滩第1网格", COMMUNITY, shapely.box(121.48, 31.23, 121.483, 31.24)),
        feature(G2, "外滩第2网格", COMMUNITY, shapely.box(121.483, 31.23, 121.486, 31.24)),
        feature(G3, "外滩第3网格", COMMUNITY, shapely.box(121.486, 31.23, 121.49, 31.24)),
    ]


def write_collection(path: Path, features: list[Any]) -> Path:
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
        encoding="utf-8",
    )
    return path


@pytest.fixture
def tree_file(tmp_path: Path) -> Path:
    return write_collection(tmp_path / "huangpu.geojson", tree_features())


@pytest.fixture
def imported(run_cli: Cli, tree_file: Path) -> Cli:
    run_cli.ok("geo", "import", str(tree_file))
    return run_cli


def exported_codes(cli: Cli, *args: str) -> list[str]:
    data = json.loads(cli.ok("geo", "export", *args).stdout)
    return [f["properties"]["code"] for f in data["features"]]


def test_import_then_again_unchanged(run_cli: Cli, tree_file: Path) -> None:
    first = run_cli.ok("geo", "import", str(tree_file))
    assert first.stdout.strip() == "created 6, changed 0, unchanged 0, skipped 0"
    again = run_cli.ok("geo", "import", str(tree_file))
    assert again.stdout.strip() == "created 0, changed 0, unchanged 6, skipped 0"
    assert exported_codes(run_cli) == [DISTRICT, STREET, COMMUNITY, G1, G2, G3]
    imports = [e for e in run_cli.audit() if e["action"] == "geo.import"]
    assert len(imports) == 1


def test_import_with_bad_features_fails_and_writes_nothing(run_cli: Cli, tmp_path: Path) -> None:
    features = tree_features()
    features[4]["geometry"] = BOW_TIE
    features[5]["properties"]["parent_code"] = "310101002009"
    path = write_collection(tmp_path / "bad.geojson", features)
    result = run_cli("geo", "import", str(path))
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    assert all(line.startswith("error: ") for line in lines)
    assert any(G2 in line and "rule: geometry_invalid" in line for line in lines), lines
    assert any(G3 in line and "rule: parent_prefix" in line for line in lines), lines
    assert exported_codes(run_cli) == []


def test_import_of_an_unreadable_feature_fails(run_cli: Cli, tmp_path: Path) -> None:
    features = [
        *tree_features(),
        {"type": "Feature", "properties": {"name": "无代码"}, "geometry": None},
    ]
    path = write_collection(tmp_path / "bad.geojson", features)
    result = run_cli("geo", "import", str(path))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "features[6].code" in lines[0]
    assert "rule: required" in lines[0]
    assert exported_codes(run_cli) == []


def test_import_skip_invalid(run_cli: Cli, tmp_path: Path) -> None:
    features = tree_features()
    features[4]["geometry"] = BOW_TIE
    path = write_collection(tmp_path / "bad.geojson", features)
    result = run_cli.ok("geo", "import", str(path), "--skip-invalid")
    assert result.stdout.strip() == "created 5, changed 0, unchanged 0, skipped 1"
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 1
    assert "features[4]" in skipped[0]
    assert "geometry_invalid" in skipped[0]
    assert exported_codes(run_cli) == [DISTRICT, STREET, COMMUNITY, G1, G3]


def test_import_a_geopackage_with_a_mapping(imported: Cli, tmp_path: Path) -> None:
    path = tmp_path / "new.gpkg"
    pyogrio.raw.write(
        path,
        geometry=np.array(
            [shapely.to_wkb(shapely.box(121.49, 31.23, 121.491, 31.24))], dtype=object
        ),
        field_data=[
            np.array(["310101002001004"], dtype=object),
            np.array(["新网格"], dtype=object),
            np.array([COMMUNITY], dtype=object),
        ],
        fields=["GRID_ID", "NAME", "COMM"],
        crs="EPSG:4326",
        geometry_type="Polygon",
        driver="GPKG",
    )
    result = imported.ok(
        "geo",
        "import",
        str(path),
        "--mapping",
        "code=GRID_ID,name=NAME,parent=COMM",
        "--level",
        "grid",
    )
    assert result.stdout.strip() == "created 1, changed 0, unchanged 0, skipped 0"
    assert "310101002001004" in exported_codes(imported, "--level", "grid")


def test_export_round_trips(imported: Cli, tmp_path: Path) -> None:
    out = tmp_path / "grids.geojson"
    result = imported.ok("geo", "export", "--level", "grid", "-o", str(out))
    assert "wrote 3 features" in result.stderr
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["type"] == "FeatureCollection"
    assert [f["properties"]["code"] for f in data["features"]] == [G1, G2, G3]
    assert {f["properties"]["level"] for f in data["features"]} == {"grid"}
    assert shapely.equals(
        shapely.geometry.shape(data["features"][0]["geometry"]),
        shapely.box(121.48, 31.23, 121.483, 31.24),
    )
    again = imported.ok("geo", "import", str(out))
    assert again.stdout.strip() == "created 0, changed 0, unchanged 3, skipped 0"
    assert exported_codes(imported, "--parent", COMMUNITY) == [G1, G2, G3]
    assert exported_codes(imported, "--prefix", STREET) == [STREET, COMMUNITY, G1, G2, G3]


def test_check_exit_codes(imported: Cli, tmp_path: Path) -> None:
    clean = imported("geo", "check")
    assert clean.exit_code == 0
    assert clean.stdout.strip() == "0 issue(s)"
    assert json.loads(imported.ok("geo", "check", "--json").stdout) == []
    overlapping = write_collection(
        tmp_path / "overlap.geojson",
        [feature(G2, "外滩第2网格", COMMUNITY, shapely.box(121.4825, 31.23, 121.4855, 31.24))],
    )
    imported.ok("geo", "import", str(overlapping))
    broken = imported("geo", "check")
    assert broken.exit_code == 1
    lines = broken.stdout.splitlines()
    assert lines[-1] == "2 issue(s)"
    assert any(line.startswith("overlap") and f"{G1} & {G2}" in line for line in lines), lines
    assert any(line.startswith("gap") and COMMUNITY in line for line in lines), lines
    as_json = imported("geo", "check", "--json", "--parent", COMMUNITY)
    assert as_json.exit_code == 1
    assert sorted(i["kind"] for i in json.loads(as_json.stdout)) == ["gap", "overlap"]


def test_locate(imported: Cli) -> None:
    found = json.loads(imported.ok("geo", "locate", "121.484", "31.235").stdout)
    assert found == {
        "grid_id": G2,
        "grid_name": "外滩第2网格",
        "community": {"code": COMMUNITY, "name": "外滩居委会"},
        "street": {"code": STREET, "name": "外滩街道"},
        "district": {"code": DISTRICT, "name": "黄浦区"},
    }
    bad = imported("geo", "locate", "200", "31")
    assert bad.exit_code == 2
    assert "lon" in bad.stderr
    assert "rule: range" in bad.stderr


def test_locate_at_a_date(imported: Cli) -> None:
    # (--at reads the stored versions directly: an outside point shows the nulls cheaply.)
    outside = json.loads(imported.ok("geo", "locate", "121.0", "31.0", "--at", "2999-01-01").stdout)
    assert outside == {
        "grid_id": None,
        "grid_name": None,
        "community": None,
        "street": None,
        "district": None,
    }
    long_ago = json.loads(
        imported.ok("geo", "locate", "121.484", "31.235", "--at", "2000-01-01").stdout
    )
    assert long_ago["grid_id"] is None
    later = json.loads(
        imported.ok("geo", "locate", "121.484", "31.235", "--at", "2999-01-01T00:00:00+0800").stdout
    )
    assert later["grid_id"] == G2


def test_locate_batch_with_a_header(imported: Cli, tmp_path: Path) -> None:
    source = tmp_path / "points.csv"
    source.write_text(
        "lon,lat,case\n121.481,31.231,A1\n121.5,31.0,A2\n121.489,31.239,A3\n", encoding="utf-8"
    )
    result = imported.ok("geo", "locate-batch", str(source))
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows == [
        ["lon", "lat", "case", "grid_id", "community", "street", "district"],
        ["121.481", "31.231", "A1", G1, COMMUNITY, STREET, DISTRICT],
        ["121.5", "31.0", "A2", "", "", "", ""],
        ["121.489", "31.239", "A3", G3, COMMUNITY, STREET, DISTRICT],
    ]
    # Without a header, from standard input.
    piped = imported.ok("geo", "locate-batch", input="121.484,31.235\n")
    assert list(csv.reader(io.StringIO(piped.stdout))) == [
        ["lon", "lat", "grid_id", "community", "street", "district"],
        ["121.484", "31.235", G2, COMMUNITY, STREET, DISTRICT],
    ]
    bad = imported("geo", "locate-batch", input="lon,lat\n121.4,north\n")
    assert bad.exit_code == 2
    assert "lon_lat" in bad.stderr


@pytest.fixture
def people(services, system, make_user) -> None:
    """Departments and users made directly in the same store (the CLI's own are slower)."""
    services.accounts.create_department(system, code="CG", name="城管")
    services.accounts.create_department(system, code="SZ", name="市政")
    make_user("pat", Role.PATROLLER)
    make_user("vic", Role.VIEWER)


def test_grid_duty(imported: Cli, people: None) -> None:
    assigned = json.loads(imported.ok("geo", "assign-worker", G1, "pat").stdout)
    assert assigned["workers"] == ["pat"]

    by_matter = json.loads(
        imported.ok("geo", "set-unit", G1, "--matter", "06010", "--unit", "CG").stdout
    )
    assert by_matter["by_matter"] == {"06010": "CG"}
    by_department = json.loads(
        imported.ok("geo", "set-unit", G1, "--department", "SZ", "--unit", "CG").stdout
    )
    assert by_department["by_department"] == {"SZ": "CG"}

    duty = json.loads(imported.ok("geo", "duty", G1).stdout)
    assert duty == {
        "grid_code": G1,
        "workers": ["pat"],
        "by_matter": {"06010": "CG"},
        "by_department": {"SZ": "CG"},
    }

    cleared = json.loads(imported.ok("geo", "set-unit", G1, "--matter", "06010", "--clear").stdout)
    assert cleared["by_matter"] == {}
    removed = json.loads(imported.ok("geo", "assign-worker", G1, "pat", "--remove").stdout)
    assert removed["workers"] == []

    actions = [e["action"] for e in imported.audit() if e["action"].startswith("geo.")]
    assert actions.count("geo.worker_add") == 1
    assert actions.count("geo.worker_remove") == 1
    assert actions.count("geo.unit_set") == 3


def test_grid_duty_errors(imported: Cli, people: None) -> None:
    cases = [
        (("assign-worker", G1, "vic"), "patroller_role"),
        (("assign-worker", G1, "nobody"), "user_exists"),
        (("set-unit", G1, "--unit", "CG"), "exactly_one"),
        (
            ("set-unit", G1, "--matter", "06010", "--department", "SZ", "--unit", "CG"),
            "exactly_one",
        ),
        (("set-unit", G1, "--matter", "06010"), "--unit"),
        (("set-unit", G1, "--matter", "06010", "--unit", "CG", "--clear"), "--unit"),
        (("set-unit", G1, "--matter", "06999", "--unit", "CG"), "matter_class_known"),
        (("set-unit", G1, "--matter", "06010", "--unit", "NOPE"), "department_exists"),
        (("duty", "310101002001009"), "310101002001009"),
        (("assign-worker", "310101002001009", "pat"), "310101002001009"),
    ]
    for args, needle in cases:
        result = imported("geo", *args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (args, lines)
        assert lines[0].startswith("error: "), (args, lines)
        assert needle in lines[0], (args, lines)
    assert json.loads(imported.ok("geo", "duty", G1).stdout) == {
        "grid_code": G1,
        "workers": [],
        "by_matter": {},
        "by_department": {},
    }
