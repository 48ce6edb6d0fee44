"""``cityops things`` and ``cityops ts``: register devices, send readings, query series."""

from __future__ import annotations

import json

from tests.cli.conftest import error_line


def test_register_ingest_and_query_from_the_command_line(run_cli, tmp_path):
    added = run_cli.ok("things", "add", "NZ-1", "--metric", "noise_laeq", "--metric", "pm25")
    assert "datastream NZ-1/noise_laeq" in added.stdout
    readings = tmp_path / "readings.csv"
    readings.write_text(
        "NZ-1/noise_laeq,2026-11-19T08:00:00+08:00,55\n"
        "NZ-1/noise_laeq,2026-11-19T08:30:00+08:00,65\n"
        "NZ-1/pm25,2026-11-19T08:30:00+08:00,lots\n",
        encoding="utf-8",
    )
    result = run_cli("ts", "ingest", str(readings))
    assert result.exit_code == 0, result.stderr
    assert "accepted 2" in result.stdout
    assert "rejected 1" in result.stdout
    assert "observations[2].value (number)" in result.stderr
    again = run_cli.ok("ts", "ingest", str(readings))
    assert "accepted 0" in again.stdout
    assert "duplicates 2" in again.stdout

    out = run_cli.ok(
        "ts", "query", "-d", "NZ-1/noise_laeq",
        "--start", "2026-11-19T00:00+08:00", "--end", "2026-11-20T00:00+08:00",
        "--interval", "1d", "--fn", "avg,count", "--format", "json",
    )  # fmt: skip
    points = json.loads(out.stdout)["series"][0]["points"]
    # One local day (starting 16:00Z), energy mean of 55 and 65 dB(A): 10·lg((10^5.5+10^6.5)/2).
    assert points[0]["time"] == "2026-11-18T16:00:00+00:00"
    assert points[0]["count"] == 2
    assert round(points[0]["avg"], 1) == 62.4

    listed = run_cli.ok("things", "list", "--json")
    streams = {s["key"]: s for s in json.loads(listed.stdout)}
    assert streams["NZ-1/noise_laeq"]["latest"]["value"] == 65


def test_an_unknown_metric_is_one_clear_error(run_cli):
    result = run_cli("things", "add", "X-1", "--metric", "pm1")
    assert result.exit_code == 2
    assert "known_metric" in error_line(result)
    run_cli.ok("things", "add", "X-1")  # nothing was registered: the key is still free
