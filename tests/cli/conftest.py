"""Helpers for driving the ``cityops`` command line in-process with click's CliRunner."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cityops.bootstrap import bootstrap
from cityops.cli.main import cli
from cityops.kernel.errors import AuthenticationFailed
from cityops.settings import Settings
from tests.conftest import TEST_SECRET


def clean_env(**values: str) -> dict[str, str | None]:
    """Return an env mapping that unsets every CITYOPS_* setting, then sets ``values``."""
    env: dict[str, str | None] = {f"CITYOPS_{name.upper()}": None for name in Settings.model_fields}
    env.update(values)
    return env


class Cli:
    """Invoke ``cityops`` with a fixed environment (plus per-call overrides)."""

    def __init__(self, **env: str) -> None:
        self.env = env

    def __call__(self, *args: str, input: str | None = None, **env: str) -> Result:
        runner = CliRunner()
        return runner.invoke(
            cli,
            list(args),
            input=input,
            env=clean_env(**{**self.env, **env}),
            catch_exceptions=False,
        )

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Invoke and insist on exit code 0."""
        result = self(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        """Invoke a ``--json`` command and parse its output."""
        return json.loads(self.ok(*args, "--json").stdout)

    def audit(self) -> list[dict[str, Any]]:
        """Return every audit entry (oldest first), parsed from ``audit tail --json``."""
        out = self.ok("audit", "tail", "-n", "1000", "--json").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture
def run_cli(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Cli:
    """A Cli on the migrated test store, in dev mode, run from an empty working directory."""
    monkeypatch.chdir(tmp_path)  # no stray .env file is read
    return Cli(
        CITYOPS_MODE="dev",
        CITYOPS_DATABASE_URL=database_url,
        CITYOPS_DATA_DIR=str(tmp_path / "var"),
    )


def error_line(result: Result) -> str:
    """Return the single stderr line of a failed command (asserting there is exactly one)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


PRINTED_PASSWORD = re.compile(r"^password: (\S+)  \(shown once", re.MULTILINE)


def printed_password(result: Result) -> str:
    """Return the random password a command printed once."""
    found = PRINTED_PASSWORD.findall(result.stdout)
    assert len(found) == 1, result.stdout
    return str(found[0])


def can_sign_in(database_url: str, data_dir: Path, username: str, password: str) -> bool:
    """Sign in through the real services on ``database_url``; tell whether it worked."""
    services = bootstrap(
        Settings(
            mode="dev",
            database_url=database_url,
            data_dir=data_dir,
            secret_key=TEST_SECRET,  # type: ignore[arg-type]
        )
    )
    try:
        signed_in = services.signin.login(username, password, None)
    except AuthenticationFailed:
        return False
    finally:
        services.close()
    assert signed_in.user.username == username
    assert signed_in.token
    return True
