"""Start and stop a real ``cityops serve`` process for the end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from cityops.settings import Settings

STARTUP_SECONDS = 30.0
SHUTDOWN_SECONDS = 15.0


def environment(**values: str) -> dict[str, str]:
    """The current environment without any CITYOPS_* setting, plus ``values``."""
    settings = {f"CITYOPS_{name.upper()}" for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in settings}
    env.update(values)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGINT (what Ctrl-C sends), then SIGKILL if it has not exited in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=SHUTDOWN_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=SHUTDOWN_SECONDS)


def wait_until_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    with httpx.Client(base_url=base_url, timeout=2.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(
                    f"server exited with {process.returncode}:\n{log.read_text(errors='replace')}"
                )
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    pytest.fail(f"server not healthy after {STARTUP_SECONDS}s:\n{log.read_text(errors='replace')}")


@dataclass(frozen=True)
class DemoServer:
    """A running ``cityops serve`` on the demo city: where it listens and what it wrote."""

    base_url: str
    var: Path
    log: Path


@contextmanager
def demo_server(root: Path, **settings: str) -> Iterator[DemoServer]:
    """Load the demo city into SQLite under ``root``, serve it in dev mode, stop it after."""
    var = root / "var"
    database_url = f"sqlite:///{root / 'cityops.db'}"
    loaded = subprocess.run(
        [sys.executable, "-m", "cityops", "demo", "load", "--cases", "500", "--sensor-days", "1"],
        cwd=root,
        env=environment(
            CITYOPS_MODE="demo", CITYOPS_DATABASE_URL=database_url, CITYOPS_DATA_DIR=str(var)
        ),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert loaded.returncode == 0, loaded.stderr
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cityops", "serve", "--port", str(port)],
            cwd=root,
            env=environment(
                CITYOPS_MODE="dev",
                CITYOPS_DATABASE_URL=database_url,
                CITYOPS_DATA_DIR=str(var),
                CITYOPS_HOST="127.0.0.1",
                **settings,
            ),
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, base_url, log)
        yield DemoServer(base_url, var, log)
    finally:
        stop(process)
