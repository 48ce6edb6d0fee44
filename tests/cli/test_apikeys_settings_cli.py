"""``cityops apikeys`` and ``cityops settings``, and refusing weak production settings."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from cityops.bootstrap import Services
from cityops.settings import Settings
from tests.cli.conftest import Cli, error_line

KEY_LINE = re.compile(r"^key: (cok_([0-9a-f]{8})_\S+)$", re.MULTILINE)
ID_LINE = re.compile(r"^id: (\d+)  prefix: ([0-9a-f]{8})  permissions: (.+)$", re.MULTILINE)


def test_apikey_is_printed_once_listed_without_secret_and_revoked(
    run_cli: Cli, services: Services
) -> None:
    created = run_cli.ok("apikeys", "create", "sensor-gw", "--permission", "telemetry:write")
    key_match = KEY_LINE.search(created.stdout)
    id_match = ID_LINE.search(created.stdout)
    assert key_match, created.stdout
    assert id_match, created.stdout
    secret, prefix = key_match.group(1), key_match.group(2)
    key_id = id_match.group(1)
    assert id_match.group(2) == prefix
    assert id_match.group(3) == "telemetry:write"
    assert "shown only now" in created.stderr
    assert created.stdout.count(secret) == 1

    # The key works, with exactly the permission it was given.
    principal = services.signin.principal_for_api_key(secret)
    assert principal is not None
    assert principal.can("telemetry:write")
    assert not principal.can("users:write")

    listed = run_cli.ok("apikeys", "list")
    lines = listed.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].split()[:3] == [key_id, prefix, "active"]
    assert "telemetry:write" in lines[0]
    assert lines[0].endswith("sensor-gw")
    secret_part = secret.split("_", 2)[2]
    assert secret_part not in listed.output

    as_json = run_cli.ok("apikeys", "list", "--json")
    assert secret_part not in as_json.stdout
    keys = json.loads(as_json.stdout)
    assert keys == [
        {
            "id": int(key_id),
            "prefix": prefix,
            "name": "sensor-gw",
            "permissions": ["telemetry:write"],
            "scope": "city",
            "expires_at": None,
            "revoked": False,
        }
    ]

    revoked = run_cli.ok("apikeys", "revoke", key_id)
    assert revoked.stdout.strip() == f"revoked {prefix} (sensor-gw)"
    assert run_cli.ok("apikeys", "list").stdout.split()[2] == "revoked"
    assert run_cli.json("apikeys", "list")[0]["revoked"] is True
    assert services.signin.principal_for_api_key(secret) is None

    again = run_cli("apikeys", "revoke", key_id)
    assert again.exit_code == 2
    assert "already revoked" in error_line(again)

    entries = run_cli.audit()
    assert [e["action"] for e in entries] == ["apikey.issue", "apikey.revoke"]
    assert all(e["actor"].startswith("cli:") for e in entries)
    assert all(e["object_id"] == prefix for e in entries)
    audit_text = run_cli.ok("audit", "tail", "--json").stdout
    assert secret_part not in audit_text


def test_apikey_with_several_permissions_and_an_expiry(run_cli: Cli) -> None:
    created = run_cli.ok(
        "apikeys",
        "create",
        "vendor",
        "--permission",
        "cases:create",
        "--permission",
        "telemetry:read",
        "--expires-in-days",
        "30",
    )
    id_match = ID_LINE.search(created.stdout)
    assert id_match
    assert id_match.group(3) == "cases:create, telemetry:read"
    (key,) = run_cli.json("apikeys", "list")
    assert key["permissions"] == ["cases:create", "telemetry:read"]
    assert key["expires_at"] is not None


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["apikeys", "create", "gw", "--permission", "telemetry:fly"],
            ["permissions[0]", "telemetry:fly", "permission_known"],
            id="unknown-permission",
        ),
        pytest.param(
            ["apikeys", "create", "gw", "--permission", "cases:read", "--permission", "nonsense"],
            ["permissions[1]", "nonsense", "permission_format"],
            id="malformed-permission",
        ),
        pytest.param(
            ["apikeys", "create", "gw", "--permission", "cases:read", "--scope", "moon"],
            ["--scope"],
            id="bad-scope",
        ),
        pytest.param(["apikeys", "revoke", "999"], ["no API key with id 999"], id="unknown-id"),
    ],
)
def test_apikey_bad_input_exits_2_and_writes_nothing(
    run_cli: Cli, args: list[str], expected: list[str]
) -> None:
    result = run_cli(*args)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = error_line(result)
    assert line.startswith("error: ")
    for fragment in expected:
        assert fragment in line, line
    assert "key:" not in result.stdout
    assert run_cli.json("apikeys", "list") == []
    assert run_cli.audit() == []


# -- settings -----------------------------------------------------------------------------------

SECRET = "a-production-secret-that-is-long-enough-0123456789"
DB_PASSWORD = "Sup3r-Secret-DB-pass"
PG_URL = f"postgresql+psycopg://cityops:{DB_PASSWORD}@db.example.internal:5432/cityops"


@pytest.fixture
def bare_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A Cli with only a data directory set, run from an empty working directory."""
    monkeypatch.chdir(tmp_path)
    return Cli(CITYOPS_DATA_DIR=str(tmp_path / "var"))


def test_settings_prints_one_cityops_line_per_setting(bare_cli: Cli, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    result = bare_cli("settings", CITYOPS_MODE="dev", CITYOPS_DATABASE_URL=url)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(Settings.model_fields)
    assert all(line.startswith("CITYOPS_") for line in lines)
    values = {line.split(None, 1)[0]: line.split(None, 1)[1] for line in lines}
    assert set(values) == {f"CITYOPS_{name.upper()}" for name in Settings.model_fields}
    assert values["CITYOPS_MODE"] == "dev"
    assert values["CITYOPS_DATABASE_URL"] == url
    assert values["CITYOPS_DATA_DIR"] == str(tmp_path / "var")
    assert not (tmp_path / "x.db").exists()  # printing settings touches no store


def test_settings_json_is_json_with_every_setting(bare_cli: Cli) -> None:
    result = bare_cli("settings", "--json", CITYOPS_MODE="demo", CITYOPS_PORT="8123")
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert set(shown) == set(Settings.model_fields)
    assert shown["mode"] == "demo"
    assert shown["port"] == 8123
    assert shown["secret_key"] is None


@pytest.mark.parametrize("mode", ["dev", "production"])
@pytest.mark.parametrize("as_json", [False, True])
def test_settings_never_show_the_secret_key_or_the_database_password(
    bare_cli: Cli, mode: str, as_json: bool
) -> None:
    args = ["settings", "--json"] if as_json else ["settings"]
    result = bare_cli(
        *args, CITYOPS_MODE=mode, CITYOPS_SECRET_KEY=SECRET, CITYOPS_DATABASE_URL=PG_URL
    )
    assert result.exit_code == 0, result.stderr
    assert SECRET not in result.output
    assert DB_PASSWORD not in result.output
    masked_url = "postgresql+psycopg://cityops:********@db.example.internal:5432/cityops"
    if as_json:
        shown = json.loads(result.stdout)
        assert shown["secret_key"] == "********"
        assert shown["database_url"] == masked_url
        assert shown["mode"] == mode
    else:
        assert re.search(r"^CITYOPS_SECRET_KEY\s+\*{8}$", result.stdout, re.MULTILINE)
        assert re.search(rf"^CITYOPS_DATABASE_URL\s+{re.escape(masked_url)}$", result.stdout, re.M)


NEEDS_SETTINGS = [
    ["settings"],
    ["settings", "--json"],
    ["db", "current"],
    ["db", "upgrade"],
    ["db", "check"],
    ["users", "list"],
    ["departments", "list"],
    ["apikeys", "list"],
    ["audit", "tail"],
    ["demo", "load"],
]


@pytest.mark.parametrize("command", NEEDS_SETTINGS, ids=" ".join)
@pytest.mark.parametrize("secret", [None, "change-me", "too-short-0123"])
def test_production_without_a_strong_secret_refuses_with_one_line(
    bare_cli: Cli, tmp_path: Path, command: list[str], secret: str | None
) -> None:
    store = tmp_path / "store.db"
    env = {"CITYOPS_MODE": "production", "CITYOPS_DATABASE_URL": f"sqlite:///{store}"}
    if secret is not None:
        env["CITYOPS_SECRET_KEY"] = secret
    result = bare_cli(*command, **env)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    line = error_line(result)
    assert "CITYOPS_SECRET_KEY" in line
    assert result.stdout == ""
    if secret:
        assert secret not in result.output
    assert not store.exists()  # nothing was created or touched
    assert not (tmp_path / "var").exists()


def test_production_with_a_strong_secret_runs_commands(bare_cli: Cli, tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    env = {
        "CITYOPS_MODE": "production",
        "CITYOPS_SECRET_KEY": SECRET,
        "CITYOPS_DATABASE_URL": f"sqlite:///{store}",
    }
    upgraded = bare_cli("db", "upgrade", **env)
    assert upgraded.exit_code == 0, upgraded.stderr
    listed = bare_cli("users", "list", "--json", **env)
    assert listed.exit_code == 0, listed.stderr
    assert json.loads(listed.stdout) == []
