"""A demo city in a temporary SQLite store, served by a real ``cityops serve`` on loopback.

Shared by the browser benchmark (``benchmarks/command_browser.py``) and the screenshots
(``scripts/screenshots.py``): load the demo with ``cityops demo load``, serve it on a free port,
read the demo accounts' passwords.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2 as httpx

CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium (``apt-get install chromium``): Playwright drives it, nothing is downloaded."""

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def environment(root: Path, **extra: str) -> dict[str, str]:
    """Return this environment without CITYOPS_* settings, pointed at the store under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYOPS_")}
    env.update(
        CITYOPS_DATABASE_URL=f"sqlite:///{root / 'cityops.db'}",
        CITYOPS_DATA_DIR=str(root / "var"),
        CITYOPS_LANGUAGE="zh-CN",
        **extra,
    )
    return env


def load_demo(root: Path, cases: int) -> None:
    """Load the demo city with ``cases`` cases of history into the store under ``root``."""
    subprocess.run(
        [sys.executable, "-m", "cityops", "demo", "load", "--cases", str(cases)],
        cwd=root,
        env=environment(root, CITYOPS_MODE="demo"),
        check=True,
        capture_output=True,
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """Serve the store under ``root`` on a free loopback port; yield its base URL."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with (root / "serve.log").open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "cityops", "serve", "--port", str(port)],
            cwd=root,
            env=environment(
                root, CITYOPS_MODE="dev", CITYOPS_HOST="127.0.0.1", CITYOPS_LOG_LEVEL="WARNING"
            ),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"cityops serve did not start; see {root / 'serve.log'}")
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def passwords(root: Path) -> dict[str, str]:
    """Return the demo accounts' passwords (``cityops demo load`` wrote them)."""
    found = {}
    for line in (root / "var" / "demo-credentials.txt").read_text("utf-8").splitlines():
        fields = line.split()
        if len(fields) == 3 and not line.startswith("#"):
            found[fields[0]] = fields[2]
    return found


@contextmanager
def api_client(base: str, username: str, password: str) -> Iterator[httpx.Client]:
    """Yield an HTTP client signed in as ``username`` (bearer token)."""
    with httpx.Client(base_url=base, timeout=60) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": username, "password": password}
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client
