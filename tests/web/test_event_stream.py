"""The live feed over Server-Sent Events: frames, resuming after Last-Event-ID, permissions."""

from __future__ import annotations

import json

from cityops.auth.permissions import Role
from tests.conftest import bearer
from tests.web.problems import assert_problem


def read_frames(client, headers, **params) -> list[dict]:
    with client.stream("GET", "/api/v1/events/stream", params=params, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    frames = []
    for block in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            frames.append({"id": int(fields["id"]), "event": fields["event"], **fields})
    return frames


def test_stream_sends_events_and_resumes_after_the_last_id(client, services, system, make_user):
    headers = bearer(client, make_user("boss", Role.COMMAND_CENTER))
    so_far = read_frames(client, headers, idle=0.2, poll=0.05)
    assert so_far, "creating the user already made events"
    assert [f["id"] for f in so_far] == sorted(f["id"] for f in so_far)
    last = so_far[-1]["id"]
    for code in ("SZ", "HWS", "CGJ"):
        services.accounts.create_department(system, code=code, name=code)
    rest = read_frames(client, {**headers, "Last-Event-ID": str(last)}, idle=0.2, poll=0.05)
    assert all(f["id"] > last for f in rest)
    created = [json.loads(f["data"]) for f in rest if f["event"] == "DepartmentCreated"]
    assert [d["payload"]["code"] for d in created] == ["SZ", "HWS", "CGJ"]
    one = read_frames(client, headers, after=0, limit=1)
    assert [f["id"] for f in one] == [so_far[0]["id"]]
    nothing_new = read_frames(client, {**headers, "Last-Event-ID": str(rest[-1]["id"])}, idle=0.2)
    assert nothing_new == []


def test_stream_needs_events_read_and_a_wellformed_id(client, make_user):
    viewer = bearer(client, make_user("look", Role.VIEWER))
    assert_problem(client.get("/api/v1/events/stream", params={"idle": 0.1}, headers=viewer), 403)
    boss = bearer(client, make_user("boss", Role.COMMAND_CENTER))
    response = client.get(
        "/api/v1/events/stream", params={"idle": 0.1}, headers={**boss, "Last-Event-ID": "x1"}
    )
    assert_problem(response, 422)
