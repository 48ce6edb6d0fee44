"""Admin pages over HTTP: who gets each page, the nav link, the forms, the embedded messages.

Also checks the admin scripts' messages: every key they use is in both catalogues and embedded
in the pages (as tests/unit/web/test_workspace_messages.py does for the workspace scripts).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import cityops.web
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.web.i18n import LANGUAGES, Translator, catalogue
from cityops.web.routes.admin_pages import ADMIN_MESSAGES, ADMIN_PERMISSIONS, SECTIONS
from tests.conftest import bearer

PAGES = ["/admin", *(f"/admin/{name}" for name in SECTIONS)]
STATIC = Path(cityops.web.__file__).parent / "static"
SCRIPTS = sorted(STATIC.glob("admin*.js"))
NAV_LINK = '<a href="/admin">'


def _messages(html: str) -> dict[str, str]:
    found = re.search(r'<script type="application/json" id="messages">(.*?)</script>', html, re.S)
    assert found is not None
    return dict(json.loads(found.group(1)))


def _sections(html: str) -> list[str]:
    nav = re.search(r'<nav class="admin-nav".*?</nav>', html, re.S)
    assert nav is not None
    return re.findall(r'href="/admin/(\w+)"', nav.group(0))


@pytest.fixture
def commander(client, make_user):  # type: ignore[no-untyped-def]
    """A 指挥中心 user: users:read, but no other admin permission."""
    return bearer(client, make_user("commander", Role.COMMAND_CENTER))


@pytest.fixture
def district_admin(client, services, system, make_user):  # type: ignore[no-untyped-def]
    """An admin within one department only."""
    services.accounts.create_department(system, code="SZ", name="市政")
    return bearer(client, make_user("szadmin", Role.ADMIN, Scope("department", "SZ"), "SZ"))


# --- who gets each page ---------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_sign_in(client):
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/login"
    english = client.get("/admin/users?lang=en", follow_redirects=False)
    assert english.headers["location"] == "/login?lang=en"


def test_the_admin_gets_every_page_with_every_section(client, city):
    for path in PAGES:
        page = client.get(path, headers=city.admin)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html")
        assert _sections(page.text) == list(SECTIONS), path
        assert NAV_LINK in page.text
    overview = client.get("/admin", headers=city.admin).text
    for name in SECTIONS:
        assert f'<h2><a href="/admin/{name}">' in overview


def test_others_are_refused_every_page(client, city):
    for headers in (city.viewer, city.dispatcher, city.intake, city.handler_sz, city.patroller):
        for path in PAGES:
            response = client.get(path, headers=headers)
            assert response.status_code == 403, path
            assert response.headers["content-type"].startswith("application/problem+json")


def test_a_commander_reads_users_but_nothing_else(client, commander):
    overview = client.get("/admin", headers=commander)
    assert overview.status_code == 200
    assert _sections(overview.text) == ["users"]
    assert '<h2><a href="/admin/departments">' not in overview.text
    users = client.get("/admin/users", headers=commander)
    assert users.status_code == 200
    assert 'data-write="false"' in users.text
    assert 'id="user-form"' not in users.text  # no users:write: no forms to change anything
    assert 'id="grant-form"' not in users.text
    for name in ("departments", "rules", "apikeys", "audit"):
        assert client.get(f"/admin/{name}", headers=commander).status_code == 403, name


def test_a_department_admin_gets_the_pages_the_api_scopes(client, district_admin):
    # Holding the permissions in one department opens the pages; the API limits what they show.
    for path in PAGES:
        assert client.get(path, headers=district_admin).status_code == 200, path


def test_writers_get_the_forms(client, city):
    users = client.get("/admin/users", headers=city.admin).text
    assert 'data-write="true"' in users
    for control in ("user-username", "user-password", "user-role", "grant-user", "grant-role"):
        assert f'id="{control}"' in users
        assert f'for="{control}"' in users  # every control has a label
    assert re.findall(r'<option value="(\w+)">', users.split('id="user-role"')[1])[:2] == [
        "admin",
        "command_center",
    ]
    assert "data-scope-kind" in users
    keys = client.get("/admin/apikeys", headers=city.admin).text
    assert 'id="key-form"' in keys
    assert 'value="telemetry:write"' in keys  # the issuer's permissions to choose from
    rules = client.get("/admin/rules", headers=city.admin).text
    for field in ("department_code", "limit_normal", "limit_urgent", "keywords"):
        assert f'data-error-for="{field}"' in rules  # where the API's errors go
    audit = client.get("/admin/audit", headers=city.admin).text
    for field in ("actor", "action", "object_type", "object_id", "since", "until"):
        assert f'id="audit-{field}"' in audit


def test_the_current_section_is_marked(client, city):
    page = client.get("/admin/rules", headers=city.admin).text
    assert '<a href="/admin/rules" aria-current="page">' in page
    assert page.count('aria-current="page"') == 1


# --- the nav link ---------------------------------------------------------------------------


def test_the_nav_links_to_admin_for_those_who_may_use_it(client, city, commander):
    for path in ("/", "/work"):
        assert NAV_LINK in client.get(path, headers=city.admin).text, path
        assert NAV_LINK in client.get(path, headers=commander).text, path
        assert NAV_LINK not in client.get(path, headers=city.dispatcher).text, path
        assert NAV_LINK not in client.get(path, headers=city.viewer).text, path
    zh = client.get("/", headers=city.admin).text
    assert f"{NAV_LINK}管理</a>" in zh
    assert f"{NAV_LINK}Admin</a>" in client.get("/?lang=en", headers=city.admin).text


def test_every_admin_permission_opens_a_section() -> None:
    assert set(ADMIN_PERMISSIONS) == set(SECTIONS.values())
    assert "users:read" in ADMIN_PERMISSIONS


# --- messages -------------------------------------------------------------------------------


def test_the_pages_embed_their_messages_in_the_chosen_language(client, city):
    zh = _messages(client.get("/admin/users", headers=city.admin).text)
    en = _messages(client.get("/admin/users?lang=en", headers=city.admin).text)
    assert zh["admin.users.create"] == "创建用户"
    assert en["admin.users.create"] == "Create user"
    assert zh["role.dispatcher"] == "派遣员"
    assert "scope.department" in zh
    assert "ws.failed" in zh  # ws.js's own messages
    assert not any(key.startswith(("login.", "home.", "cmd.")) for key in zh)


LITERAL = re.compile(r"""\bmsg\(\s*"([a-z_.]+)"\s*[,)]""")
ANY_ADMIN_KEY = re.compile(r""""(admin\.[a-z_.]+[a-z_])\"""")
BUILT = re.compile(r"""\bmsg\(\s*"([a-z_.]+\.)"\s*\+""")
ENDINGS = {
    "role.": [r.value for r in Role],
    "scope.": ["division", "department"],
}


def _keys(pattern: re.Pattern[str]) -> set[str]:
    return {m.group(1) for path in SCRIPTS for m in pattern.finditer(path.read_text("utf-8"))}


def test_the_admin_scripts_use_messages() -> None:
    assert {p.name for p in SCRIPTS} >= {"admin.js", "admin_users.js", "admin_rules.js"}
    assert len(_keys(LITERAL)) > 40
    assert _keys(BUILT) == set(ENDINGS)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_key_the_admin_scripts_use_exists_and_is_embedded(language: str) -> None:
    messages = catalogue(language)
    embedded = Translator(language).messages(*ADMIN_MESSAGES)
    built = {prefix + end for prefix, ends in ENDINGS.items() for end in ends}
    for key in sorted(_keys(LITERAL) | _keys(ANY_ADMIN_KEY) | built):
        assert key in messages, f"{key} missing in {language}"
        assert key in embedded, f"{key} is not under a prefix the admin pages embed"
