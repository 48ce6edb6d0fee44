"""Start and stop a real ``cityops serve`` for the benchmarks, on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cityops_command() -> str:
    """Return the ``cityops`` console script of the interpreter running the benchmark."""
    return str(Path(sys.executable).parent / "cityops")


def server_env(url: str, data_dir: Path, secret: str) -> dict[str, str]:
    """Return this process's environment for a cityops on ``url``: dev mode, quiet, no sweeps.

    ``CITYOPS_MQTT_URL`` is removed, so the server opens no MQTT door unless the caller adds one.
    """
    env = dict(os.environ)
    env.update(
        CITYOPS_DATABASE_URL=url,
        CITYOPS_MODE="dev",
        CITYOPS_SECRET_KEY=secret,
        CITYOPS_DATA_DIR=str(data_dir),
        CITYOPS_LOG_LEVEL="WARNING",
        CITYOPS_CASE_SWEEP_SECONDS="0",
    )
    env.pop("CITYOPS_MQTT_URL", None)
    return env


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """Terminate a process we started (SIGTERM, then SIGKILL after 30 s); return its code."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@contextlib.contextmanager
def serving(
    env: dict[str, str], log: Path, startup_seconds: float = 120.0
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """Run ``cityops serve`` with ``env``, output to ``log``; yield (base URL, process).

    Waits until ``/healthz`` answers 200; the server is stopped when the block ends.
    """
    port = free_port()
    command = [cityops_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as out:
        process = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_seconds
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"cityops serve exited: {log.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"cityops serve did not start in {startup_seconds:.0f} s")
            time.sleep(0.3)
        yield base, process
    finally:
        stop(process)
