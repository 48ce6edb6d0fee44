"""Finding and judging cases: search, queues, exports, KPIs by hand, sweeps, matter rules."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from openpyxl import load_workbook

from tests.conftest import bearer
from tests.web.cases_city import (
    G1,
    GARBAGE,
    IN_G2,
    MANHOLE,
    STREET,
    act,
    dispatched,
    new_case,
)
from tests.web.problems import assert_problem, assert_rule


def test_search_filters_and_pages(client, city):
    ids = [new_case(client, city.intake, matter_code=MANHOLE)["case"]["id"] for _ in range(3)]
    garbage = new_case(
        client, city.intake, matter_code=GARBAGE, description="垃圾满地", lon=IN_G2[0], lat=IN_G2[1]
    )["case"]["id"]
    page = client.get("/api/v1/cases", params={"limit": 2}, headers=city.viewer).json()
    assert page["total"] == 4
    assert [item["id"] for item in page["items"]] == [garbage, ids[2]]  # newest first
    second = client.get("/api/v1/cases", params={"limit": 2, "offset": 2}, headers=city.viewer)
    assert [item["id"] for item in second.json()["items"]] == [ids[1], ids[0]]
    by_class = client.get("/api/v1/cases", params={"matter": GARBAGE}, headers=city.viewer)
    assert [item["id"] for item in by_class.json()["items"]] == [garbage]
    by_text = client.get("/api/v1/cases", params={"q": "垃圾满"}, headers=city.viewer)
    assert by_text.json()["total"] == 1
    by_grid = client.get("/api/v1/cases", params={"division": G1}, headers=city.viewer)
    assert by_grid.json()["total"] == 3
    by_street = client.get("/api/v1/cases", params={"division": STREET}, headers=city.viewer)
    assert by_street.json()["total"] == 4
    by_status = client.get("/api/v1/cases", params={"status": "filed"}, headers=city.viewer)
    assert by_status.json()["total"] == 0
    by_day = client.get(
        "/api/v1/cases", params={"from": "2026-11-20", "to": "2026-11-21"}, headers=city.viewer
    )
    assert by_day.json()["total"] == 4
    assert_rule(
        client.get("/api/v1/cases", params={"status": "lost"}, headers=city.viewer),
        "status[0]",
        "one_of",
    )


def test_queues_per_role(client, city):
    new_case(client, city.intake, matter_code=MANHOLE)
    sz = dispatched(client, city, matter_code=MANHOLE)
    hws = dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    intake = client.get("/api/v1/cases/queue", headers=city.intake).json()
    assert intake["queue"] == "intake"
    assert intake["total"] == 1
    mine = client.get("/api/v1/cases/queue", headers=city.handler_sz).json()
    assert mine["queue"] == "department"
    assert [item["id"] for item in mine["items"]] == [sz]
    theirs = client.get("/api/v1/cases/queue", headers=city.handler_hws).json()
    assert [item["id"] for item in theirs["items"]] == [hws]
    dispatch = client.get("/api/v1/cases/queue", headers=city.dispatcher).json()
    assert dispatch["queue"] == "dispatch"
    assert dispatch["parts"]["to_file"] == 1
    assert dispatch["total"] == 1  # dispatched cases are the departments' work now
    act(client, city.handler_hws, hws, "request_extension", comment="需协调", extension="1 工作日")
    dispatch = client.get("/api/v1/cases/queue", headers=city.dispatcher).json()
    assert dispatch["total"] == 2
    assert dispatch["parts"]["extension_requests"] == 1
    act(client, city.handler_sz, sz, "report", comment="done")
    verify = client.get("/api/v1/cases/queue", headers=city.patroller).json()
    assert verify["queue"] == "verify"
    assert [item["id"] for item in verify["items"]] == [sz]  # pat1 works grid 1
    command = client.get("/api/v1/cases/queue", params={"queue": "command"}, headers=city.admin)
    assert command.json()["total"] == 3


def test_overdue_first_and_light_filter(client, city, clock):
    late = dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])  # 4 工作时
    fresh_day = dispatched(client, city, matter_code=MANHOLE)  # 1 工作日
    clock.advance(timedelta(hours=5))  # Friday 10:00 → 15:00: 3.5 working hours used
    yellow = client.get("/api/v1/cases", params={"light": "yellow"}, headers=city.viewer).json()
    assert [item["id"] for item in yellow["items"]] == [late]
    clock.advance(timedelta(hours=1))  # 16:00: 4.5 h used of 4 h: red
    red = client.get("/api/v1/cases", params={"light": "red"}, headers=city.viewer).json()
    assert [item["id"] for item in red["items"]] == [late]
    ordered = client.get("/api/v1/cases/queue", params={"queue": "command"}, headers=city.admin)
    assert [item["id"] for item in ordered.json()["items"]][:2] == [late, fresh_day]


def test_sweep_announces_lights_and_escalates(client, city, services, clock):
    case_id = dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    assert services.sweeper.sweep().yellow == 0
    clock.advance(timedelta(hours=5))
    report = services.sweeper.sweep()
    assert (report.yellow, report.red) == (1, 0)
    assert services.sweeper.sweep().yellow == 0  # announced once
    clock.advance(timedelta(days=3))  # Monday 15:00: due Friday 15:30, 6.5 working hours late
    report = services.sweeper.sweep()
    assert (report.red, report.escalated) == (1, 0)
    clock.advance(timedelta(hours=2))  # Monday 17:00: 8.5 working hours late
    report = services.sweeper.sweep()
    assert report.escalated == 1  # the first step of the ladder: the street
    city = city.signed_in_again(client, bearer)
    history = client.get(f"/api/v1/cases/{case_id}", headers=city.admin).json()["history"]
    assert [e["command"] for e in history][-3:] == ["light_yellow", "light_red", "escalate"]
    events = client.get("/api/v1/events", params={"limit": 1000}, headers=city.admin).json()[
        "items"
    ]
    lights = [e["payload"]["light"] for e in events if e["type"] == "CaseLightChanged"]
    assert lights == ["yellow", "red"]
    escalations = [e["payload"] for e in events if e["type"] == "CaseEscalated"]
    assert escalations[0]["level"] == "street"
    assert escalations[0]["department_code"] == "HWS"


def test_export_csv_and_excel(client, city):
    new_case(client, city.intake, matter_code=MANHOLE)
    response = client.get("/api/v1/cases/export", params={"format": "csv"}, headers=city.viewer)
    assert response.status_code == 200
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["案卷号", "状态", "来源"]
    assert rows[1][1] == "受理"
    assert rows[1][-1] == "138****5678"  # a viewer's export is masked too
    excel = client.get("/api/v1/cases/export", params={"format": "xlsx"}, headers=city.intake)
    sheet = load_workbook(io.BytesIO(excel.content)).active
    values = list(sheet.values)
    assert values[0][0] == "案卷号"
    assert values[1][-1] == "13812345678"


def test_kpis_against_a_hand_computed_example(client, city, clock):
    # SZ: A closed on time and rated 5; B handled late (rework) and rated 3.
    a = dispatched(client, city, matter_code=MANHOLE)  # Friday 10:00, 1 工作日 → 10:00 Monday
    b = dispatched(client, city, matter_code=MANHOLE)
    act(client, city.handler_sz, a, "report", comment="ok")  # used 0 h
    act(client, city.patroller, a, "verify_pass")
    act(client, city.intake, a, "evaluate", satisfaction=5)
    clock.advance(timedelta(hours=2))  # 12:00 (working 2 h)
    act(client, city.handler_sz, b, "report", comment="ok")
    act(client, city.patroller, b, "verify_fail", comment="not fixed")
    clock.advance(timedelta(days=3, hours=4))  # Monday 16:00: 2 + 5.5 (Mon 09:00–16:00 less lunch)
    city = city.signed_in_again(client, bearer)
    act(client, city.handler_sz, b, "report", comment="fixed")
    act(client, city.patroller, b, "verify_pass")
    act(client, city.intake, b, "evaluate", satisfaction=3)
    # HWS: C dispatched and still open; D rejected at filing (never 应结案).
    c = dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    d = new_case(client, city.intake, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])["case"]["id"]
    act(client, city.dispatcher, d, "reject", comment="不属实")
    assert c != d
    result = client.get("/api/v1/cases/kpis", params={"by": "department"}, headers=city.admin)
    assert result.status_code == 200, result.text
    groups = {g["group"]: g for g in result.json()["groups"]}
    sz, hws = groups["SZ"], groups["HWS"]
    assert sz["counts"]["accepted"] == 2
    assert sz["counts"]["closed"] == 2
    assert sz["counts"]["closed_on_time"] == 1
    assert sz["rates"]["closing_rate"] == 1.0
    assert sz["rates"]["on_time_closing_rate"] == 0.5
    assert sz["rates"]["rework_rate"] == 0.5
    assert sz["rates"]["on_time_handling_rate"] == 1.0  # both first reports were on time
    assert sz["satisfaction"] == 4.0
    assert sz["working_hours"]["median_handle"] == 1.0  # (0 h + 2 h) / 2
    assert sz["composite"]["grade"] in "ABCDE"
    assert hws["counts"]["accepted"] == 2  # D keeps the department proposed at intake
    assert hws["counts"]["dispatched"] == 1
    assert hws["counts"]["to_close"] == 1  # D was rejected, never filed
    assert hws["rates"]["closing_rate"] == 0.0
    assert hws["counts"]["overdue_open"] == 0  # C was dispatched at 16:00 with 4 工作时
    by_street = client.get("/api/v1/cases/kpis", params={"by": "street"}, headers=city.admin)
    street = by_street.json()["groups"][0]
    assert street["group"] == STREET
    assert street["counts"]["accepted"] == 4
    assert street["counts"]["to_close"] == 3  # the rejected case was never filed
    assert_rule(
        client.get("/api/v1/cases/kpis", params={"by": "planet"}, headers=city.admin),
        "by",
        "one_of",
    )


def test_kpis_follow_the_readers_scope(client, city):
    dispatched(client, city, matter_code=MANHOLE)
    dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    groups = client.get("/api/v1/cases/kpis", headers=city.handler_sz).json()["groups"]
    assert [g["group"] for g in groups] == ["SZ"]


def test_matter_rules_api_is_audited_and_checked(client, city):
    put = client.put(
        f"/api/v1/cases/rules/{MANHOLE}",
        params={"division": STREET},
        json={"department_code": "CGJ", "limit_normal": "2 工作时", "keywords": ["井盖"]},
        headers=city.admin,
    )
    assert put.status_code == 200, put.text
    assert put.json()["division_code"] == STREET
    listed = client.get("/api/v1/cases/rules", params={"matter": MANHOLE}, headers=city.viewer)
    assert [r["division_code"] for r in listed.json()] == ["", STREET]
    # The street's rule is more precise than the city's: the case goes to CGJ.
    case = new_case(client, city.intake, matter_code=MANHOLE)["case"]
    assert case["department_code"] == "CGJ"
    assert_problem(
        client.put(f"/api/v1/cases/rules/{MANHOLE}", json={}, headers=city.dispatcher), 403
    )
    assert_rule(
        client.put(
            f"/api/v1/cases/rules/{MANHOLE}", json={"limit_normal": "soon"}, headers=city.admin
        ),
        "limit_normal",
        "limit_format",
    )
    bad_import = client.post(
        "/api/v1/cases/rules/import",
        json={"csv": "matter_code,department_code,limit_normal\n06010,HWS,1 工作日\n06011,HWS,x\n"},
        headers=city.admin,
    )
    assert_rule(bad_import, "rows[2].limit_normal", "limit_format")
    assert client.get("/api/v1/cases/rules/06010", headers=city.viewer).json()["limit_normal"] == (
        "4 工作时"
    )  # atomic: the good row was not written either
    csv_text = client.get("/api/v1/cases/rules", params={"format": "csv"}, headers=city.viewer)
    assert csv_text.text.splitlines()[0].startswith("matter_code,division_code,department_code")
    audit = client.get("/api/v1/audit", params={"action": "cases.rule_set"}, headers=city.admin)
    assert any(e["object_id"] == f"{MANHOLE}@{STREET}" for e in audit.json()["items"])
    deleted = client.delete(
        f"/api/v1/cases/rules/{MANHOLE}", params={"division": STREET}, headers=city.admin
    )
    assert deleted.status_code == 204


def test_export_reads_page_by_page_and_keeps_every_case(client, city, monkeypatch):
    monkeypatch.setattr("cityops.cases.listing.EXPORT_PAGE", 2)
    numbers = [
        new_case(client, city.intake, matter_code=MANHOLE)["case"]["number"] for _ in range(5)
    ]
    response = client.get("/api/v1/cases/export", params={"format": "csv"}, headers=city.viewer)
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8").lstrip("\ufeff"))))
    assert [row[0] for row in rows[1:]] == numbers  # oldest first, none lost between pages


def test_a_city_wide_readers_kpis_come_from_the_day_cells_and_match_the_rows(
    client, city, services
):
    from sqlalchemy import func, select

    from cityops.cases.queries import CaseFilter, Visibility, parse_moment
    from cityops.storage.schema import case_kpi_cells

    dispatched(client, city, matter_code=MANHOLE)
    dispatched(client, city, matter_code=GARBAGE, lon=IN_G2[0], lat=IN_G2[1])
    month = {"by": "street", "from": "2026-11-01", "to": "2026-12-01"}
    answer = client.get("/api/v1/cases/kpis", params=month, headers=city.admin)
    assert answer.status_code == 200, answer.text
    zone = services.case_policy.zone
    period = CaseFilter(
        accepted_from=parse_moment("2026-11-01", "from", zone),
        accepted_to=parse_moment("2026-12-01", "to", zone),
    )
    with services.store.unit_of_work(read_only=True) as uow:
        cells = uow.connection.execute(select(func.count()).select_from(case_kpi_cells)).scalar()
        rows = uow.cases.kpi_counters(
            period, Visibility(everything=True), "street", services.clock.now(), zone
        )
    assert cells  # the request folded the cases into the cells
    from cityops.cases.kpis import rates

    assert sum(r.accepted for r in rows) == 2
    expected = [rates(r) for r in rows]
    got = sorted(answer.json()["groups"], key=lambda g: g["group"])
    assert [(g["group"], g["counts"], g["working_hours"]) for g in got] == [
        (e["group"], e["counts"], e["working_hours"])
        for e in sorted(expected, key=lambda e: e["group"])
    ]
