"""``cityops db``: migrate an empty store, refuse service commands until migrated, check drift."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.storage import migrate
from tests.cli.conftest import Cli, error_line


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Cli, Path]:
    """A Cli on an empty (zero-byte) SQLite file that has never been migrated."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "empty.db"
    path.touch()
    cli = Cli(
        CITYOPS_MODE="dev",
        CITYOPS_DATABASE_URL=f"sqlite:///{path}",
        CITYOPS_DATA_DIR=str(tmp_path / "var"),
    )
    return cli, path


def test_db_current_on_an_empty_store_says_none(empty_store: tuple[Cli, Path]) -> None:
    cli, _ = empty_store
    result = cli.ok("db", "current")
    assert result.stdout.splitlines() == [
        "current: none",
        f"head:    {migrate.head_revision()}",
    ]


def test_db_check_on_an_empty_store_fails_and_says_why(empty_store: tuple[Cli, Path]) -> None:
    cli, _ = empty_store
    result = cli("db", "check")
    assert result.exit_code == 1
    assert f"revision: store at none, code at {migrate.head_revision()}" in result.stdout
    assert "drift:" in result.stdout
    assert "ok:" not in result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["users", "list"],
        ["departments", "list"],
        ["apikeys", "list"],
        ["audit", "tail"],
    ],
)
def test_service_commands_refuse_an_unmigrated_store(
    empty_store: tuple[Cli, Path], command: list[str]
) -> None:
    cli, _ = empty_store
    result = cli(*command)
    assert result.exit_code != 0
    line = error_line(result)
    assert "run `cityops db upgrade`" in line
    assert "revision none" in line
    assert result.stdout == ""


def test_service_command_does_not_migrate_or_write_on_an_unmigrated_store(
    empty_store: tuple[Cli, Path],
) -> None:
    cli, _ = empty_store
    result = cli("users", "create", "alice", "--password-stdin", input="a-strong-password-9\n")
    assert result.exit_code != 0
    assert "cityops db upgrade" in error_line(result)
    assert cli.ok("db", "current").stdout.startswith("current: none\n")


def test_db_upgrade_migrates_once_then_reports_head(empty_store: tuple[Cli, Path]) -> None:
    cli, path = empty_store
    head = migrate.head_revision()

    first = cli.ok("db", "upgrade")
    assert first.stdout.strip() == f"sqlite:///{path}: upgraded empty → {head}"

    second = cli.ok("db", "upgrade")
    assert second.stdout.strip() == f"sqlite:///{path}: already at {head}"

    assert cli.ok("db", "current").stdout.splitlines()[0] == f"current: {head}"

    check = cli("db", "check")
    assert check.exit_code == 0, check.stdout
    assert check.stdout.strip() == f"ok: at {head}, schema matches"

    # Once migrated, service commands work.
    listed = cli.ok("users", "list", "--json")
    assert listed.stdout.strip() == "[]"


def test_db_check_passes_on_the_migrated_store(run_cli: Cli) -> None:
    result = run_cli("db", "check")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.startswith("ok: ")
    assert "drift" not in result.stdout


def test_db_upgrade_on_the_migrated_store_is_a_no_op(run_cli: Cli) -> None:
    result = run_cli.ok("db", "upgrade")
    assert result.stdout.strip().endswith(f": already at {migrate.head_revision()}")
    assert run_cli.ok("db", "check").stdout.startswith("ok: ")
