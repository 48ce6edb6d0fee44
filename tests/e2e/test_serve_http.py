"""The real ``cityops serve`` process, spoken to over real HTTP on a loopback port."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx2 as httpx
import pytest

from tests.e2e.server_process import (
    demo_server,
    environment,
    free_port,
    stop,
)

pytestmark = pytest.mark.slow


def _read_credentials(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        username, _role, password = line.split()
        found[username] = password
    return found


@dataclass(frozen=True)
class Server:
    """A running server and what the tests need to talk to it."""

    base_url: str
    credentials: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Load the demo city into a fresh SQLite file, then serve it in dev mode."""
    with demo_server(tmp_path_factory.mktemp("e2e")) as running:
        credentials = _read_credentials(running.var / "demo-credentials.txt")
        yield Server(base_url=running.base_url, credentials=credentials, log=running.log)


@pytest.fixture
def http(server: Server) -> Iterator[httpx.Client]:
    """An HTTP client bound to the server (no proxies from the environment)."""
    with httpx.Client(base_url=server.base_url, timeout=10.0, trust_env=False) as client:
        yield client


def test_the_server_announces_itself(server: Server) -> None:
    text = server.log.read_text(errors="replace")
    assert f"cityops dev mode on {server.base_url}" in text
    assert "store: sqlite" in text


def test_healthz_and_readyz(http: httpx.Client) -> None:
    health = http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["status"] == "ok"

    ready = http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"store": "ok", "migrations": "ok"}


def test_admin_signs_in_with_the_demo_password_and_sees_itself(
    http: httpx.Client, server: Server
) -> None:
    assert http.get("/api/v1/auth/me").status_code == 401

    wrong = http.post("/api/v1/auth/login", json={"username": "admin", "password": "wrong-pass-1"})
    assert wrong.status_code == 401

    login = http.post(
        "/api/v1/auth/login",
        json={"username": "admin", "password": server.credentials["admin"]},
    )
    assert login.status_code == 200, login.text
    token = login.json()["access_token"]
    assert token

    me = http.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
    body = me.json()
    assert body["name"] == "admin"
    assert body["kind"] == "user"
    assert {"role": "admin", "scope": "city"} in body["grants"]
    assert "users:write" in body["permissions"]

    bogus = http.get("/api/v1/auth/me", headers={"Authorization": "Bearer not-a-real-token"})
    assert bogus.status_code == 401


def test_docs_page_uses_the_locally_served_swagger_ui(http: httpx.Client) -> None:
    docs = http.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    bundle = "/static/vendor/swagger-ui/swagger-ui-bundle.js"
    assert bundle in docs.text
    assert "cdn" not in docs.text.lower()

    script = http.get(bundle)
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert len(script.content) > 100_000
    assert "SwaggerUIBundle" in script.text

    spec = http.get("/openapi.json")
    assert spec.status_code == 200
    assert "/api/v1/auth/login" in spec.json()["paths"]


def test_responses_carry_a_request_id_and_security_headers(http: httpx.Client) -> None:
    response = http.get("/healthz")
    assert response.headers.get("X-Request-ID")
    csp = response.headers.get("Content-Security-Policy", "")
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers.get("X-Content-Type-Options") == "nosniff"

    other = http.get("/healthz")
    assert other.headers["X-Request-ID"] != response.headers["X-Request-ID"]

    echoed = http.get("/readyz", headers={"X-Request-ID": "e2e-trace-42"})
    assert echoed.headers["X-Request-ID"] == "e2e-trace-42"

    failed = http.get("/api/v1/auth/me")
    assert failed.status_code == 401
    assert failed.headers.get("X-Request-ID")
    assert "Content-Security-Policy" in failed.headers


def test_python_m_cityops_help_lists_every_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cityops", "--help"],
        cwd=tmp_path,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = lines.index("Commands:")
    commands = {line.split()[0] for line in lines[start + 1 :] if line.strip()}
    assert {"serve", "db", "users", "apikeys", "settings", "audit", "demo"} <= commands


def test_settings_json_from_a_subprocess(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cityops", "settings", "--json"],
        cwd=tmp_path,
        env=environment(CITYOPS_MODE="dev", CITYOPS_PORT="8765"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["port"] == 8765


def _serve_expecting_refusal(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``serve`` where it must refuse to start; fail (after killing it) if it serves."""
    process = subprocess.Popen(
        [sys.executable, "-m", "cityops", "serve", "--port", str(free_port())],
        cwd=tmp_path,
        env=environment(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        stop(process)
        process.communicate()
        pytest.fail("serve started instead of refusing")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def test_serve_refuses_an_unmigrated_store(tmp_path: Path) -> None:
    store = tmp_path / "empty.db"
    result = _serve_expecting_refusal(
        tmp_path,
        CITYOPS_MODE="dev",
        CITYOPS_DATABASE_URL=f"sqlite:///{store}",
        CITYOPS_DATA_DIR=str(tmp_path / "var"),
    )
    assert result.returncode != 0
    assert "cityops db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_in_production_without_a_secret_refuses_with_one_line(tmp_path: Path) -> None:
    result = _serve_expecting_refusal(
        tmp_path,
        CITYOPS_MODE="production",
        CITYOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}",
        CITYOPS_DATA_DIR=str(tmp_path / "var"),
    )
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "CITYOPS_SECRET_KEY" in lines[0]
    assert not (tmp_path / "x.db").exists()
