"""Webhooks: events delivered to a real HTTP receiver on loopback, signed, retried with back-off."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cityops.adapters.webhook_sender import post
from cityops.notify.webhooks import MAX_ATTEMPTS, backoff, sign
from tests.web.problems import assert_rule


class Receiver:
    """A loopback HTTP server that records requests and answers with scripted statuses."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                length = int(self.headers["Content-Length"])
                outer.requests.append((dict(self.headers), self.rfile.read(length)))
                self.send_response(outer.statuses.pop(0) if outer.statuses else 200)
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.server.shutdown()


@pytest.fixture
def admin(services, system):
    _, secret = services.api_keys.issue(
        system, name="ops", permissions=["apikeys:write", "apikeys:read", "alerts:manage"]
    )
    return {"X-API-Key": secret}


def _raise_an_alert(services, system) -> None:
    services.alerts.put_rules(
        system,
        [{"key": "loud", "kind": "threshold", "metric": "noise_laeq", "condition": {"above": 70}}],
    )
    services.devices.register_thing(system, {"key": "NZ-1"})
    services.devices.add_datastream(system, "NZ-1", {"metric": "noise_laeq"})
    reading = {
        "datastream": "NZ-1/noise_laeq",
        "time": services.clock.now().isoformat(),
        "value": 80,
    }
    services.ingest.ingest(system, [reading])
    services.bus.drain()  # the subscriber plans the deliveries


def test_an_alert_reaches_the_receiver_signed(client, services, system, admin, receiver):
    created = client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["AlertRaised"], "description": "值班系统"},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    _raise_an_alert(services, system)
    assert services.webhooks.send_due(post) == 1
    ((headers, body),) = receiver.requests
    event = json.loads(body)
    assert event["type"] == "AlertRaised"
    assert event["payload"]["rule"] == "loud"
    assert headers["X-Cityops-Event"] == "AlertRaised"
    timestamp = int(headers["X-Cityops-Timestamp"])
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    assert headers["X-Cityops-Signature"] == "sha256=" + expected.hexdigest()
    assert services.webhooks.send_due(post) == 0  # delivered once
    assert "secret" not in client.get("/api/v1/webhooks", headers=admin).json()[0]


def test_failures_are_retried_with_back_off_then_given_up(
    client, services, system, admin, receiver, clock
):
    hook = client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["*"]}, headers=admin
    ).json()
    receiver.statuses = [500, 503]
    _raise_an_alert(services, system)
    assert services.webhooks.send_due(post) == 0  # 500
    assert services.webhooks.send_due(post) == 0  # not due yet: waits 10 s
    assert len(receiver.requests) == 1
    clock.advance(backoff(1))
    assert services.webhooks.send_due(post) == 0  # 503
    clock.advance(backoff(2))
    assert services.webhooks.send_due(post) == 1
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
    assert {d["status"] for d in deliveries} == {"delivered"}
    ids = {h["X-Cityops-Delivery"] for h, _ in receiver.requests}
    assert len(ids) == 1  # one delivery id across retries: receivers deduplicate on it
    # A receiver that is down for good: the delivery is given up after MAX_ATTEMPTS.
    receiver.server.shutdown()
    receiver.server.server_close()
    services.ingest.ingest(
        system,
        [{"datastream": "NZ-1/noise_laeq", "time": clock.now().isoformat(), "value": 20}],
    )
    services.bus.drain()
    for _ in range(MAX_ATTEMPTS):
        services.webhooks.send_due(post)
        clock.advance(timedelta(hours=1))
    deliveries = client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=admin).json()
    assert deliveries[0]["status"] == "failed"
    assert deliveries[0]["attempts"] == MAX_ATTEMPTS


def test_back_off_doubles_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [10, 20, 40, 80]
    assert backoff(30) == timedelta(hours=1)


def test_signatures_depend_on_secret_time_and_body():
    assert sign("s", 1, b"x") != sign("s", 2, b"x")
    assert sign("s", 1, b"x") != sign("t", 1, b"x")
    assert sign("s", 1, b"x") == sign("s", 1, b"x")


def test_a_bad_url_is_refused_with_its_rule(client, admin):
    assert_rule(
        client.post("/api/v1/webhooks", json={"url": "ftp://x"}, headers=admin), "url", "http_url"
    )
