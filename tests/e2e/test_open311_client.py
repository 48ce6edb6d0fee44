"""A real ``cityops serve`` on loopback, spoken to by the PyPI Open311 client ``georeport``.

The store starts empty (migrated, no demo city); the citizen app's API key is issued with the
CLI against the same store before the server starts. ``georeport`` 0.3.1 can only read (it has
no call to post a request), so posting is done with httpx2, form-encoded exactly as GeoReport
v2 describes, and read back with the client. Two quirks of the client are worked around here,
on the test side only: with XML it returns ``xmltodict``'s parse, so one request comes back as
a dict rather than a list of one (and none as ``None``, on which it fails with a TypeError).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from georeport import GeoReport

from tests.e2e.server_process import environment, free_port, stop, wait_until_healthy

pytestmark = pytest.mark.slow

MANHOLE = "01001"  # 供水井盖异常


@dataclass(frozen=True)
class Open311Server:
    """A running server, its Open311 root and a citizen app's API key."""

    base_url: str
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


@contextmanager
def empty_server(root: Path) -> Iterator[Open311Server]:
    """Migrate an empty SQLite store, issue an API key with the CLI, serve it in dev mode."""
    var = root / "var"
    env = environment(
        CITYOPS_MODE="dev",
        CITYOPS_DATABASE_URL=f"sqlite:///{root / 'cityops.db'}",
        CITYOPS_DATA_DIR=str(var),
        CITYOPS_HOST="127.0.0.1",
    )
    _cli(root, env, "db", "upgrade")
    issued = _cli(root, env, "apikeys", "create", "citizen-app", "--permission", "cases:create")
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
        yield Open311Server(base_url, f"{base_url}/open311/v2", api_key)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Open311Server]:
    """One empty server for the module."""
    with empty_server(tmp_path_factory.mktemp("open311")) as running:
        yield running


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    # georeport uses requests, which would send loopback calls through a configured proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def http(server: Open311Server) -> Iterator[httpx.Client]:
    """A plain HTTP client (no proxies from the environment)."""
    with httpx.Client(base_url=server.root, timeout=10.0, trust_env=False) as client:
        yield client


def _as_list(parsed: Any) -> list[dict[str, Any]]:
    """Undo the client's XML quirk: one element parses as a dict, none as None."""
    if parsed is None:
        return []
    return parsed if isinstance(parsed, list) else [parsed]


def _post(http: httpx.Client, api_key: str, **fields: str) -> httpx.Response:
    return http.post("/requests.json", data={"api_key": api_key, "service_code": MANHOLE, **fields})


def test_the_client_reads_the_services_in_json_and_xml(server: Open311Server) -> None:
    services = GeoReport(server.root).get_service_list()
    assert len(services) == 250
    manhole = next(s for s in services if s["service_code"] == MANHOLE)
    assert manhole["service_name"] == "供水井盖异常"
    assert manhole["group"] == "市政公用设施类"

    in_xml = GeoReport(server.root, output_format="xml").get_service_list()
    assert len(in_xml) == 250
    assert in_xml[0]["service_code"] == MANHOLE
    assert in_xml[0]["metadata"] == "false"

    definition = GeoReport(server.root, jurisdiction="city").get_service_definition(MANHOLE)
    assert definition == {"service_code": MANHOLE, "attributes": []}
    xml_definition = GeoReport(server.root, output_format="xml").get_service_definition(MANHOLE)
    assert xml_definition["service_code"] == MANHOLE


def test_a_form_post_is_read_back_with_the_client(
    server: Open311Server, http: httpx.Client
) -> None:
    posted = _post(
        http,
        server.api_key,
        lat="31.2304",
        long="121.4737",
        description="南京东路口的供水井盖松动了",
        media_url="https://photos.example.cn/manhole.jpg",
        first_name="三丰",
        last_name="张",
        phone="13812345678",
    )
    assert posted.status_code == 201, posted.text
    assert posted.request.headers["content-type"] == "application/x-www-form-urlencoded"
    number = posted.json()[0]["service_request_id"]

    client = GeoReport(server.root)
    found = client.get_service_request(number)
    assert found["service_request_id"] == number
    assert found["status"] == "open"
    assert found["service_code"] == MANHOLE
    assert found["description"] == "南京东路口的供水井盖松动了"
    assert found["media_url"] == "https://photos.example.cn/manhole.jpg"
    assert found["lat"] == pytest.approx(31.2304)
    assert found["requested_datetime"].endswith("+08:00")

    listed = client.get_service_requests(service_code=MANHOLE, status="open")
    assert number in [r["service_request_id"] for r in listed]
    by_id = client.get_service_requests(service_request_id=number)
    assert [r["service_request_id"] for r in by_id] == [number]
    assert client.get_service_requests(status="closed") == []

    in_xml = GeoReport(server.root, output_format="xml")
    one = in_xml.get_service_request(number)
    assert one["service_request_id"] == number
    assert one["long"] == "121.4737"
    assert one["zipcode"] is None
    assert _as_list(in_xml.get_service_requests(service_request_id=number))[0]["status"] == "open"

    for record in (found, one, *listed):
        assert "13812345678" not in str(record)
        assert "三丰" not in str(record)


def test_errors_come_back_in_the_open311_format(server: Open311Server, http: httpx.Client) -> None:
    bad_key = _post(http, "cok_forged", lat="31.23", long="121.47")
    assert bad_key.status_code == 403
    assert bad_key.json()[0]["code"] == 403

    no_code = http.post("/requests.xml", data={"api_key": server.api_key, "lat": "31.2"})
    assert no_code.status_code == 400
    assert no_code.headers["content-type"] == "text/xml; charset=utf-8"
    assert "<code>400</code>" in no_code.text
    assert "service_code" in no_code.text

    unknown = http.get("/services/99999.json")
    assert unknown.status_code == 404
    assert unknown.json()[0]["code"] == 404

    number = _post(http, server.api_key, address_string="幸福路88号").json()[0][
        "service_request_id"
    ]
    rating = http.post(
        f"/requests/{number}/rating.json", data={"api_key": server.api_key, "rating": "5"}
    )
    assert rating.status_code == 409
    assert "closed" in rating.json()[0]["description"]
