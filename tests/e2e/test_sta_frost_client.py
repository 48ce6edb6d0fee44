"""A real ``cityops serve`` on loopback, spoken to by the PyPI client ``frost-sta-client``.

The store starts empty (migrated); an API key with ``telemetry:read`` and ``telemetry:write`` is
issued with the CLI before the server starts, and the client sends it as ``X-API-Key`` through an
``AuthHandler`` whose ``add_auth_header`` returns a requests auth that sets the header. The run
is repeated on PostgreSQL when CITYOPS_TEST_DATABASE_URL is set. Readings are dated the day
before the test runs, so the server's real clock never finds them in the future.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import frost_sta_client as fsc
import geojson
import httpx2 as httpx
import pytest
import requests
from requests.auth import AuthBase

from tests.conftest import BACKENDS, _truncate_postgres
from tests.e2e.server_process import environment, free_port, stop, wait_until_healthy

pytestmark = [
    pytest.mark.slow,
    # The client's own use of furl (query.list) warns; nothing of ours.
    pytest.mark.filterwarnings("ignore:furl.pathstr is deprecated:DeprecationWarning"),
]

OM = "http://www.opengis.net/def/observationType/OGC-OM/2.0/OM_Measurement"
DAY = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%d")


def at(minute: int) -> str:
    return f"{DAY}T08:{minute:02d}:00Z"


class ApiKeyHeader(AuthBase):
    """Sets cityops' X-API-Key header on each request."""

    def __init__(self, key: str) -> None:
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["X-API-Key"] = self.key
        return request


class ApiKeyAuth(fsc.AuthHandler):
    """The client's auth handler, answering with the API key header instead of basic auth."""

    def __init__(self, key: str) -> None:
        super().__init__(username=None, password=None)
        self.key = key

    def add_auth_header(self) -> AuthBase:
        return ApiKeyHeader(self.key)


@dataclass(frozen=True)
class StaServer:
    """A running server: its SensorThings root and an integration's API key."""

    root: str
    api_key: str


def _cli(root: Path, env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "cityops", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaServer]:
    """An empty, migrated store (SQLite, or PostgreSQL when configured) served in dev mode."""
    root = tmp_path_factory.mktemp(f"sta-{request.param}")
    if request.param == "sqlite":
        database_url = f"sqlite:///{root / 'cityops.db'}"
    else:
        database_url = request.getfixturevalue("postgres_database")
        _truncate_postgres(database_url)
    env = environment(
        CITYOPS_MODE="dev",
        CITYOPS_DATABASE_URL=database_url,
        CITYOPS_DATA_DIR=str(root / "var"),
        CITYOPS_HOST="127.0.0.1",
    )
    _cli(root, env, "db", "upgrade")
    issued = _cli(
        root,
        env,
        "apikeys",
        "create",
        "sta-gateway",
        "--permission",
        "telemetry:read",
        "--permission",
        "telemetry:write",
    )
    api_key = next(line[5:].strip() for line in issued.splitlines() if line.startswith("key: "))
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    log = root / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "cityops", "serve", "--port", str(port)],
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until_healthy(process, base_url, log)
        yield StaServer(f"{base_url}/sta/v1.1", api_key)
    finally:
        stop(process)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # The client uses requests, which would send loopback calls through a configured proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def service(server: StaServer) -> fsc.SensorThingsService:
    return fsc.SensorThingsService(server.root, auth_handler=ApiKeyAuth(server.api_key))


@pytest.fixture(scope="module")
def station(service: fsc.SensorThingsService) -> dict[str, Any]:
    """A Thing with its Location (deep insert), a Sensor, an ObservedProperty, a Datastream."""
    thing = fsc.Thing(
        name="东区空气站",
        description="air quality station",
        properties={"key": "AQ-E2E", "operator": "环保局"},
        locations=[
            fsc.Location(
                name="东区楼顶",
                description="roof",
                encoding_type="application/geo+json",
                location=geojson.Point((113.62, 34.75)),
            )
        ],
    )
    service.create(thing)
    sensor = fsc.Sensor(
        name="SDS011",
        description="laser particle sensor",
        encoding_type="application/pdf",
        metadata="https://example.org/sds011.pdf",
    )
    service.create(sensor)
    observed = fsc.ObservedProperty(
        name="PM2.5", definition="https://example.org/vocab#PM2.5", description="fine particles"
    )
    service.create(observed)
    datastream = fsc.Datastream(
        name="东区 PM2.5",
        description="minute readings",
        observation_type=OM,
        unit_of_measurement=fsc.UnitOfMeasurement(
            name="microgram per cubic metre",
            symbol="µg/m³",
            definition="http://qudt.org/vocab/unit/MicroGM-PER-M3",
        ),
        thing=thing,
        sensor=sensor,
        observed_property=observed,
    )
    service.create(datastream)
    first = fsc.Observation(phenomenon_time=at(0), result=12, datastream=datastream)
    service.create(first)
    batch = fsc.DataArrayValue()
    batch.datastream = datastream
    batch.components = {
        fsc.DataArrayValue.Property.PHENOMENON_TIME,
        fsc.DataArrayValue.Property.RESULT,
    }
    for minute in range(1, 10):
        batch.add_observation(fsc.Observation(phenomenon_time=at(minute), result=10 * minute))
    document = fsc.DataArrayDocument()
    document.add_data_array_value(batch)
    created = service.observations().create(document)
    return {
        "thing": thing,
        "sensor": sensor,
        "observed": observed,
        "datastream": datastream,
        "first": first,
        "created": created,
    }


def test_creates_answer_with_location_headers_the_client_reads(service, station, server):
    thing, datastream = station["thing"], station["datastream"]
    assert isinstance(thing.id, int)
    assert isinstance(datastream.id, int)
    assert isinstance(station["first"].id, int)
    found = service.things().find(thing.id)
    assert found.name == "东区空气站"
    assert found.properties == {"key": "AQ-E2E", "operator": "环保局"}
    location = httpx.post(
        f"{server.root}/Sensors",
        json={"name": "raw", "encodingType": "text/html", "metadata": "x"},
        headers={"X-API-Key": server.api_key},
        trust_env=False,
    )
    assert location.status_code == 201
    assert location.headers["Location"].startswith(f"{server.root}/Sensors(")
    links = [o.self_link for o in station["created"]]
    assert len(links) == 9
    assert all(link.startswith(f"{server.root}/Observations(") for link in links)


def test_the_client_reads_back_with_filter_and_expand(service, station):
    things = list(service.things().query().filter("name eq '东区空气站'").list())
    assert [t.id for t in things] == [station["thing"].id]
    expanded = service.things().query().expand("Datastreams,Locations").list()
    thing = next(iter(expanded))
    assert [d.name for d in thing.datastreams] == ["东区 PM2.5"]
    assert thing.locations.entities[0].location["coordinates"] == [113.62, 34.75]
    streams = list(station["thing"].get_datastreams().query().list())
    assert [s.id for s in streams] == [station["datastream"].id]
    unit = streams[0].unit_of_measurement
    assert (unit.symbol, unit.definition) == ("µg/m³", "http://qudt.org/vocab/unit/MicroGM-PER-M3")
    observed = list(service.observed_properties().query().filter("name eq 'PM2.5'").list())
    assert observed[0].properties == {"metric": "pm25"}


def test_observations_filter_order_page_count_and_select(service, station):
    query = (
        service.observations()
        .query()
        .filter(f"phenomenonTime ge {at(5)} and result gt 30")
        .orderby("phenomenonTime", "asc")
    )
    assert [o.result for o in query.list()] == [50, 60, 70, 80, 90]
    newest_first = service.observations().query().orderby("phenomenonTime").top(2).list()
    assert [o.result for o in newest_first.entities] == [90, 80]  # the client's default DESC
    paged = service.observations().query().orderby("result", "asc").top(3).list()
    assert paged.next_link is not None
    assert [o.result for o in paged] == [10, 12, 20, 30, 40, 50, 60, 70, 80, 90]
    skipped = service.observations().query().orderby("result", "asc").skip(8).list()
    assert [o.result for o in skipped] == [80, 90]
    counted = service.observations().query().count().top(1).list()
    assert counted.count == 10
    chosen = service.things().query().select("name", "id").list()
    assert [(t.id, t.name, t.description) for t in chosen] == [
        (station["thing"].id, "东区空气站", None)
    ]
    under = station["datastream"].get_observations().query().filter("result lt 20").list()
    assert sorted(o.result for o in under) == [10, 12]


def test_patch_and_update_through_the_client(service, station):
    thing = station["thing"]
    service.patch(thing, [{"op": "replace", "path": "/description", "value": "屋顶空气站"}])
    assert service.things().find(thing.id).description == "屋顶空气站"
    found = service.things().find(thing.id)
    found.name = "东区空气站（新）"
    service.update(found)
    again = service.things().find(thing.id)
    assert (again.name, again.description) == ("东区空气站（新）", "屋顶空气站")
    assert again.properties["key"] == "AQ-E2E"
    sensor = station["sensor"]
    service.patch(sensor, [{"op": "add", "path": "/properties/serial", "value": "A-17"}])
    assert service.sensors().find(sensor.id).properties == {"serial": "A-17"}


def test_a_bad_observation_is_refused_naming_the_field(service, station):
    too_high = fsc.Observation(
        phenomenon_time=at(30), result=5000, datastream=station["datastream"]
    )
    with pytest.raises(requests.HTTPError) as refused:
        service.create(too_high)
    assert refused.value.response.status_code == 422
    problem = refused.value.response.json()
    assert problem["errors"][0]["field"] == "result"
    assert problem["errors"][0]["rule"] == "in_range"
    batch = fsc.DataArrayValue()
    batch.datastream = station["datastream"]
    batch.components = {
        fsc.DataArrayValue.Property.PHENOMENON_TIME,
        fsc.DataArrayValue.Property.RESULT,
    }
    batch.add_observation(fsc.Observation(phenomenon_time=at(40), result=41))
    batch.add_observation(fsc.Observation(phenomenon_time=at(41), result=-1))
    document = fsc.DataArrayDocument()
    document.add_data_array_value(batch)
    good, bad = service.observations().create(document)
    assert good.self_link.startswith("http")
    assert bad.self_link.startswith("error: result:")
    assert "in_range" in bad.self_link
