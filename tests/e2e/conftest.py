"""Fixtures of the browser tests: headless Debian Chromium, one demo server per session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import skip_or_fail
from tests.e2e.server_process import demo_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def password_of(path: Path, username: str) -> str:
    """Return a demo user's password from the credentials file ``cityops demo load`` wrote."""
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and fields[0] == username:
            return fields[2]
    raise AssertionError(f"no {username} in {path}")


def admin_password(path: Path) -> str:
    return password_of(path, "admin")


@dataclass(frozen=True)
class Server:
    """A running server with the demo city loaded."""

    base_url: str
    admin_password: str
    credentials: Path

    def password(self, username: str) -> str:
        """The demo password of ``username``."""
        return password_of(self.credentials, username)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    if not CHROMIUM.is_file():
        skip_or_fail("Chromium not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        skip_or_fail("playwright not installed")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Load the demo city (divisions and grids included) into SQLite and serve it."""
    with demo_server(tmp_path_factory.mktemp("map"), CITYOPS_LANGUAGE="zh-CN") as running:
        credentials = running.var / "demo-credentials.txt"
        yield Server(running.base_url, admin_password(credentials), credentials)
