"""The docs must keep up with the code: every permission, role and CLI command is described."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cityops.auth.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from cityops.cli.main import cli

DOCS = Path(__file__).parents[1] / "docs"


def test_security_doc_lists_every_permission_with_its_roles():
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    header = next(line for line in text.splitlines() if line.startswith("| permission |"))
    columns = [c.strip() for c in header.strip("|").split("|")][2:]
    assert columns == [r.value for r in Role]
    rows = {
        line.split("|")[1].strip().strip("`"): line
        for line in text.splitlines()
        if line.startswith("| `")
    }
    for permission in PERMISSIONS:
        assert permission in rows, f"{permission} is not in docs/security.md"
        marks = [c.strip() for c in rows[permission].strip().strip("|").split("|")][2:]
        expected = ["✓" if permission in ROLE_PERMISSIONS[r] else "" for r in Role]
        assert marks == expected, f"the roles of {permission} differ in docs/security.md"


def test_cli_doc_mentions_every_command():
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    runner = CliRunner()
    for name, command in cli.commands.items():
        rows = [line for line in text.splitlines() if line.startswith(f"| `cityops {name}")]
        assert rows, f"cityops {name} is missing in docs/cli.md"
        for sub in getattr(command, "commands", {}):
            described = any(
                f"cityops {name} {sub}" in row or f"`{sub} " in row or f"`{sub}`" in row
                for row in rows
            )
            assert described, f"cityops {name} {sub} is missing in docs/cli.md"
        assert runner.invoke(cli, [name, "--help"]).exit_code == 0
