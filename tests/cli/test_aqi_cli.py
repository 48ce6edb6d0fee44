"""``cityops aqi``: the issue's example, bare names, the 2012 table and clear errors."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cityops.cli.main import cli


def _run(*args: str):
    return CliRunner().invoke(cli, ["aqi", *args])


def test_the_issues_example_prints_the_report_as_json():
    result = _run(
        "--standard",
        "HJ633-2026",
        "--report",
        "daily",
        *["pm25=80", "pm10=130", "o3_8h=180", "so2=100", "no2=85", "co=1.5"],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["aqi"] == 119
    assert (report["level"], report["category"], report["color"]) == (3, "轻度污染", "#FF7E00")
    assert sorted(report["primary_pollutants"]) == ["O3", "PM2.5"]
    assert report["iaqi"] == {
        "pm25_24h": 119,
        "pm10_24h": 104,
        "o3_8h": 119,
        "so2_24h": 75,
        "no2_24h": 103,
        "co_24h": 38,
    }


def test_historical_data_under_2012():
    result = _run("--standard", "HJ633-2012", "pm25=80", "o3_1h=100", "o3_8h=180")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["iaqi"]["pm25_24h"] == 107
    assert report["primary_pollutants"] == ["O3"]


def test_an_hourly_report_reads_bare_names_as_hourly_values():
    result = _run("--report", "hourly", "so2=900", "pm25=80")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["iaqi"] == {"so2_1h": 200, "pm25_1h": 119}


def test_bad_input_is_one_line_naming_the_field_and_rule():
    for args, expected in (
        (["pm25=-3"], "pm25_24h: must be a finite number ≥ 0"),
        (["pm25"], "pm25: use name=value"),
        (["--standard", "HJ633-2012", "o3=100"], "o3: ambiguous in the daily report"),
        (["pm25=1", "pm2.5=2"], "pm2.5: pm25_24h is given twice"),
        (["xyz=1"], "xyz: not an indicator of the daily report"),
    ):
        result = _run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert result.stderr.strip().startswith(f"error: {expected}"), result.stderr
