"""``cityops cases`` on both stores: create, act, list, export, KPIs, rules, sweep, train."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import shapely

from tests.cli.conftest import Cli, error_line

DISTRICT, STREET, COMMUNITY = "410171", "410171001", "410171001001"
G1 = "410171001001001"


@pytest.fixture
def city(run_cli: Cli, tmp_path: Path) -> Cli:
    whole = shapely.box(113.54, 34.80, 113.56, 34.82)
    features = [
        {
            "type": "Feature",
            "properties": {"code": code, "name": name, "parent_code": parent},
            "geometry": shapely.geometry.mapping(whole),
        }
        for code, name, parent in (
            (DISTRICT, "高新区", None),
            (STREET, "石佛街道", DISTRICT),
            (COMMUNITY, "科学大道社区", STREET),
            (G1, "第1网格", COMMUNITY),
        )
    ]
    path = tmp_path / "city.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    run_cli.ok("db", "upgrade")
    run_cli.ok("geo", "import", str(path))
    run_cli.ok("departments", "create", "SZ", "市政")
    run_cli.ok("departments", "create", "HWS", "环卫")
    return run_cli


def create(cli: Cli, *extra: str) -> dict:
    result = cli.ok(
        "cases",
        "create",
        "--channel",
        "hotline",
        "--text",
        "科学大道上的污水井盖破损",
        "--lon",
        "113.545",
        "--lat",
        "34.81",
        "--reporter-phone",
        "13812345678",
        *extra,
    )
    return dict(json.loads(result.stdout))


def test_create_act_show_and_list(city: Cli):
    city.ok("cases", "rules", "set", "01002", "--department", "SZ", "--limit", "1 工作日")
    made = create(city, "--matter", "01002", "--ref", "A-1")
    case = made["case"]
    assert made["created"] is True
    assert case["location"]["grid_code"] == G1
    assert case["department_code"] == "SZ"
    again = create(city, "--ref", "A-1")
    assert again["created"] is False
    assert again["case"]["id"] == case["id"]
    number = case["number"]
    filed = json.loads(city.ok("cases", "act", number, "file").stdout)
    assert filed["status"] == "filed"
    dispatched = json.loads(city.ok("cases", "act", number, "dispatch").stdout)
    assert dispatched["deadline"]["limit"] == "1 工作日"
    refused = city("cases", "act", number, "verify_pass")
    assert refused.exit_code == 2
    assert "allowed:" in error_line(refused)
    shown = json.loads(city.ok("cases", "show", number).stdout)
    assert [e["command"] for e in shown["history"]] == ["accept", "file", "dispatch"]
    listed = city.ok("cases", "list", "--status", "dispatched").stdout
    assert listed.splitlines()[0] == "1 cases"
    assert number in listed
    as_json = json.loads(city.ok("cases", "list", "--json", "--division", STREET).stdout)
    assert as_json["total"] == 1


def test_bad_input_is_one_line_naming_the_field(city: Cli):
    result = city("cases", "create", "--channel", "fax", "--text", "x")
    assert result.exit_code == 2
    assert "channel" in error_line(result)
    assert "one_of" in error_line(result)


def test_export_kpis_and_sweep(city: Cli, tmp_path: Path):
    city.ok("cases", "rules", "set", "01002", "--department", "SZ")
    number = create(city, "--matter", "01002")["case"]["number"]
    city.ok("cases", "act", number, "file")
    city.ok("cases", "act", number, "dispatch")
    out = tmp_path / "cases.csv"
    city.ok("cases", "export", "--format", "csv", "-o", str(out))
    rows = list(csv.reader(io.StringIO(out.read_text("utf-8-sig"))))
    assert rows[0][0] == "案卷号"
    assert rows[1][0] == number
    assert rows[1][-1] == "13812345678"  # the operator at the shell sees contacts
    kpis = json.loads(city.ok("cases", "kpis", "--by", "department", "--json").stdout)
    assert kpis["groups"][0]["group"] == "SZ"
    assert kpis["groups"][0]["counts"]["dispatched"] == 1
    table = city.ok("cases", "kpis", "--by", "street").stdout
    assert STREET in table
    swept = json.loads(city.ok("cases", "sweep").stdout)
    assert swept["checked"] == 0  # nothing is near its deadline yet


def test_rules_import_list_and_delete(city: Cli, tmp_path: Path):
    path = tmp_path / "rules.csv"
    path.write_text(
        "matter_code,division_code,department_code,limit_normal,limit_urgent,keywords\n"
        "06010,,HWS,1 工作日,2 工作时,暴露垃圾|垃圾堆\n"
        f"01002,{STREET},SZ,2 工作日,,\n",
        "utf-8",
    )
    assert city.ok("cases", "rules", "import", str(path)).stdout.strip() == "saved 2 rules"
    listed = city.ok("cases", "rules", "list", "--csv").stdout
    assert "06010,,HWS,,,1 工作日,2 工作时,暴露垃圾|垃圾堆" in listed
    bad = tmp_path / "bad.csv"
    bad.write_text("matter_code,limit_normal\n06011,tomorrow\n", "utf-8")
    refused = city("cases", "rules", "import", str(bad))
    assert refused.exit_code == 2
    assert "rows[1].limit_normal" in error_line(refused)
    case = create(city)["case"]
    assert case["matter"]["code"] != "06010"
    garbage = create(city, "--text", "路口有个垃圾堆")["case"]
    assert garbage["matter"] == {
        "code": "06010",
        "name": "暴露垃圾",
        "major_name": "市容环境类",
        "source": "rule",
        "confidence": 1.0,
    }
    city.ok("cases", "rules", "delete", "01002", "--division", STREET)
    assert "01002" not in city.ok("cases", "rules", "list").stdout


def test_classify_and_train(city: Cli, tmp_path: Path):
    lines = city.ok("cases", "classify", "小区门口的雨水箅子被堵住了", "-k", "2").stdout
    assert len(lines.splitlines()) == 2
    city.ok("cases", "rules", "set", "01002", "--department", "SZ")
    number = create(city, "--matter", "01002")["case"]["number"]
    for command in ("file", "dispatch", "report", "verify_pass"):
        city.ok("cases", "act", number, command)
    trained = json.loads(city.ok("cases", "train", "--seed-per-class", "3").stdout)
    assert trained["closed_cases"] == 1
    assert trained["classes"] == 250
    assert 0.0 <= trained["held_out"]["top3"] <= 1.0
    assert (tmp_path / "var" / "classifier" / "model.npz").is_file()
