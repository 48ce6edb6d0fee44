"""``cityops alerts``: rules from a YAML file, the queue, acknowledge and resolve."""

from __future__ import annotations

import json

from tests.cli.conftest import error_line

RULES = """
- key: noise-loud
  name: 噪声超标
  kind: threshold
  metric: noise_laeq
  level: IV
  condition: {above: 70}
"""


def test_rules_readings_and_the_lifecycle_from_the_command_line(run_cli, tmp_path):
    run_cli.ok("things", "add", "NZ-1", "--metric", "noise_laeq")
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES, encoding="utf-8")
    assert (
        "1 rules stored: noise-loud" in run_cli.ok("alerts", "rules", "import", str(rules)).stdout
    )
    assert "key: noise-loud" in run_cli.ok("alerts", "rules", "list").stdout
    readings = tmp_path / "r.csv"
    readings.write_text("NZ-1/noise_laeq,2026-11-19T10:00:00+08:00,75\n", encoding="utf-8")
    run_cli.ok("ts", "ingest", str(readings))
    queue = json.loads(run_cli.ok("alerts", "list", "--json").stdout)
    assert [(a["rule"], a["status"], a["value"]) for a in queue] == [("noise-loud", "raised", 75)]
    alert_id = str(queue[0]["id"])
    assert "acknowledged" in run_cli.ok("alerts", "ack", alert_id).stdout
    assert "resolved" in run_cli.ok("alerts", "resolve", alert_id).stdout
    assert run_cli.ok("alerts", "list").stdout == ""


def test_a_bad_rules_file_is_one_clear_error(run_cli, tmp_path):
    rules = tmp_path / "rules.yaml"
    rules.write_text("- key: x\n  kind: threshold\n  metric: noise_laeq\n  condition: {}\n")
    result = run_cli("alerts", "rules", "import", str(rules))
    assert result.exit_code == 2
    assert "rules[0].condition" in error_line(result)
