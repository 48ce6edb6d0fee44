"""``cityops demo load``: one account per role, passwords kept in a private file, idempotent."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cityops.auth.permissions import Role
from cityops.storage import migrate
from tests.cli.conftest import Cli, can_sign_in, error_line

EXPECTED_ROLES = sorted([r.value for r in Role] + ["patroller"] * 10)
CASES = "120"  # a small history keeps these tests quick (the default is 50 000)
LOAD = ("demo", "load", "--cases", CASES, "--sensor-days", "1")


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A Cli in demo mode on a store that does not exist yet."""
    monkeypatch.chdir(tmp_path)
    var = tmp_path / "var"
    return Cli(
        CITYOPS_MODE="demo",
        CITYOPS_DATABASE_URL=f"sqlite:///{var}/cityops.db",
        CITYOPS_DATA_DIR=str(var),
    )


def _read_credentials(path: Path) -> dict[str, tuple[str, str]]:
    """Return username → (role, password) from the credentials file."""
    found: dict[str, tuple[str, str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        username, role, password = line.split()
        found[username] = (role, password)
    return found


def _printed_credentials(stdout: str) -> dict[str, tuple[str, str]]:
    lines = stdout.splitlines()
    assert lines[0].startswith("Demo accounts (also in ")
    found: dict[str, tuple[str, str]] = {}
    assert lines[-1].startswith("Demo city 黄浦区 (310101): ")
    for line in lines[1:-1]:
        username, role, password = line.split()
        found[username] = (role, password)
    return found


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_demo_load_creates_the_store_and_one_user_per_role(demo: Cli, tmp_path: Path) -> None:
    var = tmp_path / "var"
    store = var / "cityops.db"
    credentials_file = var / "demo-credentials.txt"
    assert not store.exists()

    result = demo.ok(*LOAD)

    assert store.exists()
    assert str(credentials_file) in result.stdout.splitlines()[0]
    assert credentials_file.exists()
    assert _mode(credentials_file) == 0o600

    credentials = _read_credentials(credentials_file)
    # One account per role, plus a grid worker (patroller) for each of the 10 streets.
    assert sorted(role for role, _ in credentials.values()) == EXPECTED_ROLES
    assert _printed_credentials(result.stdout) == credentials
    summary = result.stdout.splitlines()[-1]
    assert f"250 matter rules, {CASES} cases ({CASES} new)" in summary
    for _, password in credentials.values():
        assert password in result.stdout

    # The store is fully migrated and holds exactly these users, each with its role.
    assert demo.ok("db", "check").stdout.startswith(f"ok: at {migrate.head_revision()}")
    users = demo.json("users", "list")
    assert {u["username"] for u in users} == set(credentials)
    for user in users:
        role = credentials[user["username"]][0]
        assert len(user["grants"]) == 1
        assert user["grants"][0].split("@")[0] == role
        assert user["active"] is True
    departments = {d["code"] for d in demo.json("departments", "list")}
    assert {"GOV", "ZHZX", "SZ"} <= departments

    url = f"sqlite:///{store}"
    for username, (_, password) in credentials.items():
        assert can_sign_in(url, var, username, password), username


def test_demo_load_twice_keeps_passwords_and_users(demo: Cli, tmp_path: Path) -> None:
    var = tmp_path / "var"
    credentials_file = var / "demo-credentials.txt"
    first = demo.ok(*LOAD)
    before = _read_credentials(credentials_file)
    users_before = demo.json("users", "list")
    departments_before = demo.json("departments", "list")

    second = demo.ok(*LOAD)

    assert _read_credentials(credentials_file) == before
    assert _printed_credentials(second.stdout) == _printed_credentials(first.stdout)
    # The rules and the cases are there once: nothing new the second time.
    assert f"250 matter rules, {CASES} cases ({CASES} new)" in first.stdout.splitlines()[-1]
    assert f"250 matter rules, {CASES} cases (0 new)" in second.stdout.splitlines()[-1]
    assert _mode(credentials_file) == 0o600
    users_after = demo.json("users", "list")
    assert len(users_after) == len(users_before) == len(EXPECTED_ROLES)
    assert [u["username"] for u in users_after] == [u["username"] for u in users_before]
    assert demo.json("departments", "list") == departments_before
    url = f"sqlite:///{var}/cityops.db"
    assert can_sign_in(url, var, "admin", before["admin"][1])


def test_demo_load_without_the_credentials_file_issues_new_working_passwords(
    demo: Cli, tmp_path: Path
) -> None:
    var = tmp_path / "var"
    credentials_file = var / "demo-credentials.txt"
    url = f"sqlite:///{var}/cityops.db"
    demo.ok(*LOAD)
    old = _read_credentials(credentials_file)
    credentials_file.unlink()

    result = demo.ok(*LOAD)

    assert credentials_file.exists()
    assert _mode(credentials_file) == 0o600
    new = _read_credentials(credentials_file)
    assert set(new) == set(old)
    assert _printed_credentials(result.stdout) == new
    assert len(demo.json("users", "list")) == len(EXPECTED_ROLES)
    for username in new:
        assert new[username][0] == old[username][0]
        assert new[username][1] != old[username][1], username
    for username in ("admin", "viewer", "handler"):
        assert can_sign_in(url, var, username, new[username][1])
        assert not can_sign_in(url, var, username, old[username][1])


def test_demo_load_in_dev_mode_works(demo: Cli, tmp_path: Path) -> None:
    result = demo(*LOAD, CITYOPS_MODE="dev")
    assert result.exit_code == 0, result.stderr
    credentials = _read_credentials(tmp_path / "var" / "demo-credentials.txt")
    assert len(credentials) == len(EXPECTED_ROLES)


def test_demo_load_refuses_in_production_mode(demo: Cli, tmp_path: Path) -> None:
    var = tmp_path / "var"
    result = demo(
        "demo",
        "load",
        CITYOPS_MODE="production",
        CITYOPS_SECRET_KEY="a-production-secret-that-is-long-enough-0123456789",
    )
    assert result.exit_code != 0
    line = error_line(result)
    assert "demo" in line
    assert "dev" in line
    assert "production" in line
    assert result.stdout == ""
    assert not (var / "cityops.db").exists()
    assert not (var / "demo-credentials.txt").exists()
