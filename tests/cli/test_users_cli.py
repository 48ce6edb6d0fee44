"""``cityops users`` and ``cityops departments`` on both stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.bootstrap import Services
from tests.cli.conftest import Cli, can_sign_in, error_line, printed_password

PASSWORD = "a-strong-password-9"
NEW_PASSWORD = "another-strong-pass-7"


def _alice(users: list[dict[str, Any]]) -> dict[str, Any]:
    found = [u for u in users if u["username"] == "alice"]
    assert len(found) == 1, users
    return found[0]


def _list_line(cli: Cli, username: str) -> str:
    lines = [
        line for line in cli.ok("users", "list").stdout.splitlines() if line.split()[0] == username
    ]
    assert len(lines) == 1
    return lines[0]


def _create_alice(cli: Cli) -> None:
    cli.ok("departments", "create", "SZ", "市政")
    cli.ok(
        "users",
        "create",
        "alice",
        "--role",
        "intake",
        "--role",
        "viewer@department:SZ",
        "--department",
        "SZ",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )


def test_department_and_user_lifecycle(run_cli: Cli, database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"

    created_department = run_cli.ok("departments", "create", "SZ", "市政")
    assert created_department.stdout.strip() == "created SZ 市政"
    departments = run_cli.json("departments", "list")
    assert departments == [{"code": "SZ", "name": "市政", "parent_code": None, "active": True}]

    created = run_cli.ok(
        "users",
        "create",
        "alice",
        "--role",
        "intake",
        "--role",
        "viewer@department:SZ",
        "--department",
        "SZ",
        "--password-stdin",
        input=f"{PASSWORD}\n",
    )
    assert created.stdout.strip() == "created alice (intake@city, viewer@department:SZ)"
    assert "password:" not in created.stdout  # the given password is never echoed
    assert PASSWORD not in created.output

    line = _list_line(run_cli, "alice")
    assert line.split()[1] == "SZ"
    assert "intake@city" in line
    assert "viewer@department:SZ" in line
    assert "[disabled]" not in line

    users = run_cli.json("users", "list")
    alice = _alice(users)
    assert alice["grants"] == ["intake@city", "viewer@department:SZ"]
    assert alice["department_code"] == "SZ"
    assert alice["active"] is True
    assert alice["display_name"] == "alice"
    assert "password_hash" not in alice
    assert can_sign_in(database_url, data_dir, "alice", PASSWORD)

    # disable / enable
    assert run_cli.ok("users", "disable", "alice").stdout.strip() == "disabled alice"
    assert _list_line(run_cli, "alice").endswith("[disabled]")
    assert _alice(run_cli.json("users", "list"))["active"] is False
    assert not can_sign_in(database_url, data_dir, "alice", PASSWORD)

    assert run_cli.ok("users", "enable", "alice").stdout.strip() == "enabled alice"
    assert "[disabled]" not in _list_line(run_cli, "alice")
    assert _alice(run_cli.json("users", "list"))["active"] is True
    assert can_sign_in(database_url, data_dir, "alice", PASSWORD)

    # set-password from stdin
    changed = run_cli.ok("users", "set-password", "alice", "--password-stdin", input=NEW_PASSWORD)
    assert changed.stdout.strip() == "password set for alice"
    assert NEW_PASSWORD not in changed.output
    assert not can_sign_in(database_url, data_dir, "alice", PASSWORD)
    assert can_sign_in(database_url, data_dir, "alice", NEW_PASSWORD)

    # grant / revoke
    granted = run_cli.ok("users", "grant", "alice", "dispatcher", "--scope", "city")
    assert "dispatcher@city" in granted.stdout
    assert _alice(run_cli.json("users", "list"))["grants"] == [
        "dispatcher@city",
        "intake@city",
        "viewer@department:SZ",
    ]
    assert "dispatcher@city" in _list_line(run_cli, "alice")

    revoked = run_cli.ok("users", "revoke", "alice", "intake")
    assert "intake@city" not in revoked.stdout
    revoked = run_cli.ok("users", "revoke", "alice", "viewer", "--scope", "department:SZ")
    assert revoked.stdout.strip() == "alice: dispatcher@city"
    assert _alice(run_cli.json("users", "list"))["grants"] == ["dispatcher@city"]


def test_every_cli_change_is_audited_with_a_cli_actor(run_cli: Cli) -> None:
    _create_alice(run_cli)
    run_cli.ok("users", "disable", "alice")
    run_cli.ok("users", "enable", "alice")
    run_cli.ok("users", "set-password", "alice", "--password-stdin", input=NEW_PASSWORD)
    run_cli.ok("users", "grant", "alice", "dispatcher", "--scope", "city")
    run_cli.ok("users", "revoke", "alice", "dispatcher", "--scope", "city")

    entries = run_cli.audit()
    actions = [e["action"] for e in entries]
    assert actions == [
        "department.create",
        "user.create",
        "user.disable",
        "user.update",
        "user.set_password",
        "user.grant",
        "user.revoke",
    ]
    for entry in entries:
        assert entry["actor"].startswith("cli:"), entry
        assert entry["actor_kind"] == "system"
        assert entry["object_id"] in ("SZ", "alice")
    assert entries[0]["after"]["name"] == "市政"
    assert entries[1]["after"]["grants"] == ["intake@city", "viewer@department:SZ"]
    assert entries[2]["after"]["active"] is False
    assert entries[3]["after"]["active"] is True
    assert entries[5]["after"]["grants"] == [
        "dispatcher@city",
        "intake@city",
        "viewer@department:SZ",
    ]
    assert entries[6]["after"]["grants"] == ["intake@city", "viewer@department:SZ"]
    # No secret of any kind reaches the audit log.
    text = run_cli.ok("audit", "tail", "-n", "1000", "--json").stdout
    assert PASSWORD not in text
    assert NEW_PASSWORD not in text
    assert "argon2" not in text

    # The plain format shows the same entries.
    plain = run_cli.ok("audit", "tail", "-n", "1000").stdout.splitlines()
    assert len(plain) == len(entries)
    assert all("cli:" in line for line in plain)


BAD_INPUT = [
    pytest.param(
        ["users", "create", "Bad Name!", "--password-stdin"],
        f"{PASSWORD}\n",
        ["username", "username_format"],
        id="bad-username",
    ),
    pytest.param(
        ["users", "create", "bob", "--role", "nosuchrole", "--password-stdin"],
        f"{PASSWORD}\n",
        ["--role[0]", "nosuchrole", "role_known"],
        id="unknown-role",
    ),
    pytest.param(
        ["users", "create", "bob", "--role", "viewer", "--role", "admin@planet:X"],
        f"{PASSWORD}\n",
        ["--role[1]"],
        id="bad-scope",
    ),
    pytest.param(
        ["users", "create", "bob", "--password-stdin"],
        "short-1\n",
        ["password", "min_length"],
        id="short-password",
    ),
    pytest.param(
        ["users", "create", "bob", "--password-stdin"],
        "aaaaaaaaaaaaaaa\n",
        ["password", "variety"],
        id="monotonous-password",
    ),
    pytest.param(
        ["users", "create", "bob", "--password-stdin"],
        "bob-is-my-password\n",
        ["password", "not_username"],
        id="password-contains-username",
    ),
    pytest.param(
        ["users", "create", "bob", "--department", "NOPE", "--password-stdin"],
        f"{PASSWORD}\n",
        ["department_code", "department_exists"],
        id="unknown-department",
    ),
    pytest.param(
        ["users", "create", "alice", "--password-stdin"],
        f"{PASSWORD}\n",
        ["alice", "already exists"],
        id="duplicate-user",
    ),
    pytest.param(
        ["users", "grant", "nobody", "dispatcher"],
        None,
        ["no user named nobody"],
        id="grant-unknown",
    ),
    pytest.param(
        ["users", "grant", "alice", "nosuchrole"],
        None,
        ["nosuchrole", "role_known"],
        id="grant-role",
    ),
    pytest.param(
        ["users", "grant", "alice", "viewer", "--scope", "galaxy"],
        None,
        ["--scope"],
        id="grant-scope",
    ),
    pytest.param(
        ["users", "grant", "alice", "intake"], None, ["already has intake@city"], id="grant-twice"
    ),
    pytest.param(
        ["users", "revoke", "alice", "admin"],
        None,
        ["does not have admin@city"],
        id="revoke-absent",
    ),
    pytest.param(
        ["users", "disable", "ghost"], None, ["no user named ghost"], id="disable-unknown"
    ),
    pytest.param(["users", "enable", "ghost"], None, ["no user named ghost"], id="enable-unknown"),
    pytest.param(
        ["users", "set-password", "alice", "--password-stdin"],
        "tiny\n",
        ["password", "min_length"],
        id="set-weak-password",
    ),
    pytest.param(
        ["departments", "create", "bad code!", "名字"],
        None,
        ["code", "department_code"],
        id="bad-department-code",
    ),
    pytest.param(
        ["departments", "create", "SZ", "又一个"],
        None,
        ["SZ", "already exists"],
        id="dup-department",
    ),
]


@pytest.mark.parametrize(("args", "stdin", "expected"), BAD_INPUT)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    run_cli: Cli,
    services: Services,
    system: Principal,
    args: list[str],
    stdin: str | None,
    expected: list[str],
) -> None:
    # Set up through the services (a cheap test hasher keeps this parametrised test fast).
    services.accounts.create_department(system, code="SZ", name="市政")
    services.accounts.create_user(
        system,
        username="alice",
        password=PASSWORD,
        department_code="SZ",
        grants=[RoleGrant(Role.INTAKE, Scope.city())],
    )
    users_before = run_cli.json("users", "list")
    departments_before = run_cli.json("departments", "list")
    audit_before = run_cli.audit()

    result = run_cli(*args, input=stdin)

    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = error_line(result)
    assert line.startswith("error: ")
    for fragment in expected:
        assert fragment in line, line
    assert result.stdout == ""
    assert run_cli.json("users", "list") == users_before
    assert run_cli.json("departments", "list") == departments_before
    assert run_cli.audit() == audit_before
    services.signin.login("alice", PASSWORD, None)  # alice's password is untouched


def test_without_password_stdin_and_no_tty_a_random_password_is_printed_once(
    run_cli: Cli, database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    created = run_cli.ok("users", "create", "bob", "--role", "viewer")
    assert created.stdout.splitlines()[0] == "created bob (viewer@city)"
    password = printed_password(created)
    assert len(password) >= 10
    assert can_sign_in(database_url, data_dir, "bob", password)
    # Shown once: never listed or audited afterwards.
    assert password not in run_cli.ok("users", "list", "--json").stdout
    assert password not in run_cli.ok("audit", "tail", "--json").stdout

    reset = run_cli.ok("users", "set-password", "bob")
    assert reset.stdout.splitlines()[0] == "password set for bob"
    new_password = printed_password(reset)
    assert new_password != password
    assert can_sign_in(database_url, data_dir, "bob", new_password)
    assert not can_sign_in(database_url, data_dir, "bob", password)


def test_two_users_created_without_a_password_get_different_passwords(run_cli: Cli) -> None:
    first = printed_password(run_cli.ok("users", "create", "carol"))
    second = printed_password(run_cli.ok("users", "create", "dave"))
    assert first != second
    assert [u["username"] for u in run_cli.json("users", "list")] == ["carol", "dave"]
