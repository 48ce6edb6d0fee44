"""Shared fixtures: real stores (SQLite always, PostgreSQL when CITYOPS_TEST_DATABASE_URL is set).

Locally, PostgreSQL tests skip with one line when no server is configured; with
CITYOPS_REQUIRE_SERVICES=1 (what `make ci` sets) a missing server fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.auth.secrets import PasswordHasher
from cityops.bootstrap import Services, bootstrap
from cityops.kernel.clock import FrozenClock
from cityops.settings import Settings
from cityops.storage import migrate
from cityops.storage.engine import create_store_engine
from cityops.storage.schema import metadata

PG_URL_ENV = "CITYOPS_TEST_DATABASE_URL"
REQUIRE_ENV = "CITYOPS_REQUIRE_SERVICES"
TEST_SECRET = "test-secret-key-that-is-long-enough-0123456789"
BACKENDS = ["sqlite", "postgresql"]


def pytest_report_header(config: pytest.Config) -> str:
    """Say in one line which stores the suite runs on."""
    if os.environ.get(PG_URL_ENV):
        return "stores: SQLite and PostgreSQL"
    if _services_required():
        return f"stores: PostgreSQL REQUIRED but {PG_URL_ENV} is not set: its tests will fail"
    return f"stores: SQLite only; PostgreSQL tests skip (set {PG_URL_ENV} or run `make ci`)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say in one line when the PostgreSQL tier was skipped for lack of a server."""
    if not os.environ.get(PG_URL_ENV) and terminalreporter.stats.get("skipped"):
        terminalreporter.write_line(
            f"PostgreSQL tier skipped: no server configured (set {PG_URL_ENV} or run `make ci`)"
        )


def _services_required() -> bool:
    return os.environ.get(REQUIRE_ENV, "") not in ("", "0", "false")


def skip_or_fail(reason: str) -> None:
    """Skip locally when a service binary is missing; fail where services are required (CI)."""
    if _services_required():
        pytest.fail(f"{reason} (CITYOPS_REQUIRE_SERVICES is set)")
    pytest.skip(reason)


MQTT_URL_ENV = "CITYOPS_TEST_MQTT_URL"


@pytest.fixture(scope="session")
def mqtt_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Mosquitto broker's URL: CITYOPS_TEST_MQTT_URL, or one started for the session."""
    configured = os.environ.get(MQTT_URL_ENV)
    if configured:
        yield configured
        return
    if not any(Path(p).exists() for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto")):
        skip_or_fail("MQTT tests need Mosquitto (apt-get install mosquitto) or " + MQTT_URL_ENV)
    workdir = tmp_path_factory.mktemp("mosquitto")
    script = Path(__file__).resolve().parents[1] / "scripts" / "mqtt-throwaway.sh"
    started = subprocess.run(
        ["bash", str(script), "start", str(workdir)], capture_output=True, text=True, check=True
    )
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run(["bash", str(script), "stop", str(workdir)], check=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test (migrating once is faster)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = create_store_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_database(worker_id: str) -> Iterator[str]:
    """A migrated PostgreSQL database of this test worker's own."""
    base = os.environ.get(PG_URL_ENV)
    if not base:
        skip_or_fail(f"PostgreSQL tests need {PG_URL_ENV}")
        raise AssertionError("unreachable")
    # Unique per process: parallel sessions against one server must not share a database.
    name = f"cityops_t_{worker_id}_{os.getpid()}".replace("-", "_")
    admin_url = make_url(base).set(database="postgres")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    engine = create_store_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    engine = create_store_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as connection:
        # TRUNCATE does not fire the row-level append-only triggers; tests start clean.
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The store under test: every store-touching test runs on both."""
    return str(request.param)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A clean, migrated store of the current backend."""
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        path = tmp_path / "cityops.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url: str = request.getfixturevalue("postgres_database")
    _truncate_postgres(url)
    return url


@pytest.fixture
def clock() -> FrozenClock:
    """A clock frozen at a fixed instant."""
    return FrozenClock(datetime(2026, 11, 20, 2, 0, tzinfo=UTC))


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """Argon2id with tiny costs: the same code path, fast enough for hundreds of tests."""
    return PasswordHasher(time_cost=1, memory_cost=1024)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Dev-mode settings pointing at the test store."""
    return Settings(
        mode="dev",
        database_url=database_url,
        data_dir=tmp_path / "var",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
    )


@pytest.fixture
def services(settings: Settings, clock: FrozenClock, hasher: PasswordHasher) -> Iterator[Services]:
    """The real services on the real store, with a frozen clock."""
    built = bootstrap(settings, clock=clock, hasher=hasher)
    yield built
    built.close()


@pytest.fixture
def system() -> Principal:
    """The all-powerful principal the CLI uses."""
    return Principal.system("test")


@dataclass(frozen=True)
class Account:
    """A user the test created, with its password."""

    username: str
    password: str


PASSWORD = "correct-horse-battery"


@pytest.fixture
def make_user(services: Services, system: Principal):  # type: ignore[no-untyped-def]
    """Create a user with one role in a scope (default: city)."""

    def make(
        username: str,
        role: Role = Role.VIEWER,
        scope: Scope | None = None,
        department_code: str | None = None,
    ) -> Account:
        services.accounts.create_user(
            system,
            username=username,
            password=PASSWORD,
            department_code=department_code,
            grants=[RoleGrant(role, scope or Scope.city())],
        )
        return Account(username, PASSWORD)

    return make


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    """An HTTP client for the app built around the test services."""
    from cityops.web.app import create_app

    with TestClient(create_app(services=services)) as test_client:
        yield test_client


def bearer(client: TestClient, account: Account) -> dict[str, str]:
    """Sign in through the API and return the Authorization header."""
    response = client.post(
        "/api/v1/auth/login", json={"username": account.username, "password": account.password}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
