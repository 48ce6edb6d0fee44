"""``cityops calendar``: deadlines by hand, as the issue's operators would check a rule."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cityops.cli.main import cli


@pytest.fixture
def run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("CITYOPS_DATABASE_URL", "CITYOPS_CALENDAR_FILE", "CITYOPS_WORKING_HOURS"):
        monkeypatch.delenv(name, raising=False)
    env = {
        "CITYOPS_MODE": "dev",
        "CITYOPS_DATA_DIR": str(tmp_path / "var"),
        "CITYOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
    }

    def invoke(*args, **extra):
        return CliRunner().invoke(cli, list(args), env={**env, **extra})

    return invoke


@pytest.mark.parametrize(
    ("limit", "due"),
    [
        ("3 工作日", "2026-10-10T16:00:00+08:00"),
        ("5 工作时", "2026-10-08T14:00:00+08:00"),
        ("2 workdays", "2026-10-09T16:00:00+08:00"),
        ("4 working hours", "2026-10-08T11:30:00+08:00"),
    ],
)
def test_due_prints_the_deadline(run, limit, due):
    result = run("calendar", "due", "--from", "2026-09-30T16:00+08:00", "--limit", limit)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["due"] == due
    assert data["years_without_holiday_data"] == []


def test_holds_push_the_deadline(run):
    result = run(
        "calendar",
        "due",
        "--from",
        "2026-09-30T16:00+08:00",
        "--limit",
        "2 workdays",
        "--hold",
        "2026-10-08T09:00+08:00/2026-10-09T09:00+08:00",
    )
    assert json.loads(result.stdout)["due"] == "2026-10-10T16:00:00+08:00"


def test_working_hours_and_a_city_file_are_settings(run, tmp_path):
    path = tmp_path / "calendar.json"
    path.write_text('{"holidays": ["2026-10-08"]}', encoding="utf-8")
    result = run(
        "calendar",
        "due",
        "--from",
        "2026-09-30T16:00+08:00",
        "--limit",
        "5 工作时",
        CITYOPS_CALENDAR_FILE=str(path),
        CITYOPS_WORKING_HOURS="08:00-12:00,14:00-18:00",
    )
    assert result.exit_code == 0, result.output
    # 2 h on Sep 30 (16–18), Oct 8 is now a city holiday, then 3 h on Oct 9 from 08:00.
    assert json.loads(result.stdout)["due"] == "2026-10-09T11:00:00+08:00"


def test_a_year_without_holiday_data_is_named(run):
    result = run("calendar", "due", "--from", "2027-03-01T09:00+08:00", "--limit", "1 工作日")
    assert json.loads(result.stdout)["years_without_holiday_data"] == [2027]


def test_bad_limit_exits_2_with_one_line(run):
    result = run("calendar", "due", "--from", "2026-09-30T16:00+08:00", "--limit", "3 天")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "--limit" in result.stderr
    assert "limit_format" in result.stderr


def test_days_lists_the_month_with_adjusted_days(run):
    result = run("calendar", "days", "2026-10")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 31
    assert lines[0] == "2026-10-01 Thu 休 节假日"
    assert lines[9] == "2026-10-10 Sat 班 调休"
    assert lines[10] == "2026-10-11 Sun 休"
