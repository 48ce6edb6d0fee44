"""Fuzz every operation of the OpenAPI description: no input may make the server fail (5xx).

The store is real, on both backends: PostgreSQL refuses what SQLite quietly accepts (NUL bytes,
integers beyond 64 bits), so a missing bound shows up there as a 500.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode

from cityops.alerts.ports import AlertFilter
from cityops.auth.permissions import Role
from cityops.bootstrap import bootstrap
from cityops.cases.intake import IntakeRequest
from cityops.cases.model import case_number
from cityops.cases.rules import MatterRule
from cityops.geo.geometry import from_geojson
from cityops.geo.model import DivisionInput
from cityops.settings import Settings
from cityops.web.app import create_app
from tests.conftest import PASSWORD

pytestmark = pytest.mark.slow

FUZZ_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def _documented_operations() -> list[tuple[str, str]]:
    """Return (METHOD, path) of every documented operation (building the app connects nowhere)."""
    services = bootstrap(
        Settings(
            mode="dev",
            database_url="sqlite://",
            data_dir=Path(tempfile.gettempdir()),
            secret_key="x" * 40,  # type: ignore[arg-type]
        )
    )
    try:
        spec = create_app(services=services).openapi()
    finally:
        services.close()
    return sorted((m.upper(), p) for p, ops in spec["paths"].items() for m in ops)


# The live feed streams until the client leaves; tests/web/test_event_stream.py covers it.
ENDLESS = {("GET", "/api/v1/events/stream")}
OPERATIONS = [op for op in _documented_operations() if op not in ENDLESS]


def test_every_api_route_is_fuzzed():
    paths = {path for _, path in OPERATIONS}
    assert len(OPERATIONS) >= 20
    assert "/api/v1/users/{username}" in paths
    assert "/api/v1/apikeys/{key_id}" in paths


def _edge_date_times() -> st.SearchStrategy[str]:
    """RFC 3339 instants at the ends of the representable range, with extreme offsets."""
    day = st.sampled_from(["0001-01-01", "9999-12-31", "1970-01-01"])
    clock = st.sampled_from(["00:00:00", "23:59:59.999999"])
    offset = st.sampled_from(["Z", "+14:00", "-14:00", "+23:59", "-23:59"])
    return st.builds("{}T{}{}".format, day, clock, offset)


@pytest.fixture
def fuzz_schema(services):
    """The schema loaded from an app built around the test's services (lifespan started)."""
    from schemathesis.python import asgi
    from schemathesis.specs.openapi import unregister_string_format
    from schemathesis.specs.openapi.formats import rfc3339_values

    # Ordinary instants, plus the edges of the range where time-zone conversion can overflow.
    schemathesis.openapi.format(
        "date-time", st.one_of(rfc3339_values("date-time"), _edge_date_times())
    )
    app = create_app(services=services)
    try:
        yield schemathesis.openapi.from_asgi("/openapi.json", app)
    finally:
        unregister_string_format("date-time")
        # Schemathesis keeps an app's lifespan running for the process; end ours with the test.
        asgi.shutdown_lifespans()


@pytest.fixture
def admin(services, system, make_user):
    """An admin, and a user, a department and an API key for path parameters to name."""
    make_user("root", Role.ADMIN)
    services.accounts.create_department(system, code="SZ", name="市政")
    make_user("zhang.san", Role.VIEWER, department_code="SZ")
    key, _ = services.api_keys.issue(system, name="gateway", permissions=["telemetry:write"])
    grid = "310101002001001"
    square = {
        "type": "Polygon",
        "coordinates": [
            [[121.47, 31.23], [121.48, 31.23], [121.48, 31.24], [121.47, 31.24], [121.47, 31.23]]
        ],
    }
    report = services.divisions.import_divisions(
        system,
        [
            DivisionInput(0, "310101", "黄浦区", None, from_geojson(square)),
            DivisionInput(1, "310101002", "南京东路街道", "310101", from_geojson(square)),
            DivisionInput(2, "310101002001", "云南中路居委会", "310101002", from_geojson(square)),
            DivisionInput(3, grid, "第1网格", "310101002001", from_geojson(square)),
        ],
    )
    assert report.written, report.issues
    component = "31010101037000001"
    imported = services.components.import_rows(
        system,
        [
            {
                "id": component,
                "name": "路灯",
                "department_code": "SZ",
                "department_name": "市政",
                "status": "完好",
                "initial_date": "20200101",
                "lon": 121.475,
                "lat": 31.235,
            }
        ],
    )
    assert imported.written, imported.issues
    services.matter_rules.put(system, MatterRule("01002", department_code="SZ"))
    case = services.intake.accept(
        system,
        IntakeRequest(
            channel="hotline", description="井盖破损", lon=121.475, lat=31.235, matter_code="01002"
        ),
    ).case
    photo = services.cases.add_photo(
        system, case.id, b"\x89PNG\r\n\x1a\n" + bytes(8), "image/png", "a.png"
    )
    services.alerts.put_rules(
        system,
        [{"key": "pm25-high", "kind": "threshold", "metric": "pm25", "condition": {"above": 100}}],
    )
    services.devices.register_thing(system, {"key": "AQ-1", "lon": 121.475, "lat": 31.235})
    services.devices.add_datastream(system, "AQ-1", {"metric": "pm25"})
    reading = {"datastream": "AQ-1/pm25", "time": services.clock.now().isoformat(), "value": 150}
    services.ingest.ingest(system, [reading])
    (alert,) = services.alerts.queue(system, AlertFilter(statuses=("raised",)))
    webhook, _ = services.webhooks.register(system, {"url": "http://127.0.0.1:9/hook"})
    return "root", {
        "username": "zhang.san",
        "alert_id": alert.id,
        "webhook_id": webhook.id,
        "key": "pm25-high",
        "code": "SZ",
        "key_id": key.id,
        "component_id": component,
        "grid": grid,
        "matter_code": "01002",
        "ref": str(case.id),
        "command": "urge",
        "attachment_id": photo.id,
        "fmt": "json",
        "service_code": "01002",
        "service_request_id": case_number(case.id, case.accepted_at, services.case_policy.zone),
    }


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_input_makes_the_server_fail(fuzz_schema, services, admin, method, path):
    operation = fuzz_schema[path][method]
    username, existing = admin
    strategies = [
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    ]
    names = {p.name for p in operation.path_parameters}
    if names:
        # Also fuzz the bodies and queries against objects that exist.
        missing = names - set(existing)
        assert not missing, f"add an existing value for {missing} to the admin fixture"
        real = {name: existing[name] for name in names}
        if path.startswith("/api/v1/geo/") and "code" in real:
            real["code"] = existing["grid"]
        strategies.append(
            operation.as_strategy(generation_mode=GenerationMode.POSITIVE, path_parameters=real)
        )
    strategy = st.one_of(strategies)
    statuses: list[int] = []

    @FUZZ_SETTINGS
    @given(case=strategy)
    def fuzz(case) -> None:
        # A fresh session per case: a fuzzed logout or password change must not starve the rest.
        token = services.signin.login(username, PASSWORD, None).token
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        statuses.append(response.status_code)
        case.validate_response(response, checks=[not_a_server_error])
        assert response.status_code < 500, case.as_curl_command()

    fuzz()
    assert statuses, "nothing was sent"
