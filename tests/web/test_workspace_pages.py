"""Workspace pages over HTTP: which page and tabs each role gets, and the moves a case offers."""

from __future__ import annotations

import json
import re

from tests.web.cases_city import act, dispatched, new_case


def _messages(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="messages">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in ("/work", "/intake", "/cases/1"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"


def test_the_workspace_shows_a_tab_per_role_queue(client, city):
    page = client.get("/work", headers=city.dispatcher)
    assert page.status_code == 200
    assert 'data-queue="dispatch"' in page.text
    assert re.findall(r'data-queue-tab="(\w+)"', page.text) == ["dispatch"]
    assert 'data-bulk="dispatch"' in page.text
    assert 'data-bulk="void"' in page.text
    handler = client.get("/work", headers=city.handler_sz).text
    assert re.findall(r'data-queue-tab="(\w+)"', handler) == ["department"]
    assert "data-bulk" not in handler  # no bulk actions without cases:file / dispatch
    viewer = client.get("/work?queue=dispatch", headers=city.viewer).text
    assert 'data-queue="command"' in viewer  # a queue not offered falls back to the first


def test_the_page_embeds_its_messages_in_the_chosen_language(client, city):
    zh = _messages(client.get("/work", headers=city.dispatcher).text)
    en = _messages(client.get("/work?lang=en", headers=city.dispatcher).text)
    assert zh["cmd.dispatch"] == "派遣"
    assert en["cmd.dispatch"] == "Dispatch"
    assert zh["status.closed"] == "结案"
    assert not any(key.startswith(("login.", "home.")) for key in zh)


def test_only_those_who_create_cases_get_the_intake_form(client, city):
    clerk = client.get("/intake", headers=city.intake)
    assert clerk.status_code == 200
    assert 'id="accept"' in clerk.text
    assert 'id="accept-file"' not in clerk.text  # the clerk may not file
    dispatcher = client.get("/intake", headers=city.dispatcher).text
    assert 'id="accept-file"' in dispatcher
    assert 'id="accept-merge"' in dispatcher
    assert client.get("/intake", headers=city.viewer).status_code == 403


def test_the_case_page_is_a_shell_for_any_reader(client, city):
    assert client.get("/cases/202611230000001", headers=city.viewer).status_code == 200
    assert client.get("/cases/not-a-number", headers=city.viewer).status_code == 200
    assert client.get("/cases/" + "9" * 65, headers=city.viewer).status_code == 422


def test_a_case_offers_each_role_its_own_moves(client, city):
    case_id = new_case(client, city.intake)["case"]["id"]
    path = f"/api/v1/cases/{case_id}"
    assert client.get(path, headers=city.intake).json()["your_commands"] == []
    mine = client.get(path, headers=city.dispatcher).json()
    assert set(mine["allowed_commands"]) > set(mine["your_commands"]) >= {"file", "reject"}
    assert "self_handle" not in mine["your_commands"]  # allowed now, but not a dispatcher's
    dispatched_id = dispatched(client, city)
    handler = client.get(f"/api/v1/cases/{dispatched_id}", headers=city.handler_sz).json()
    assert {"start", "report", "return"} <= set(handler["your_commands"])
    assert "dispatch" not in handler["your_commands"]
    act(client, city.handler_sz, dispatched_id, "report", comment="修好了")
    patroller = client.get(f"/api/v1/cases/{dispatched_id}", headers=city.patroller).json()
    assert set(patroller["your_commands"]) >= {"verify_pass", "verify_fail"}


def test_the_home_page_links_to_the_pages_each_role_may_open(client, city):
    clerk = client.get("/", headers=city.intake).text
    assert 'href="/work"' in clerk
    assert 'href="/intake"' in clerk
    handler = client.get("/", headers=city.handler_sz).text
    assert 'href="/work"' in handler
    assert 'href="/intake"' not in handler  # a department handler does not register cases
