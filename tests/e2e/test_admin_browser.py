"""The admin pages in a real browser (headless Chromium against a real ``cityops serve``).

Signed in as the demo admin, entirely through the pages: create a department under 区政府 (GOV);
create a user in it (the generated password is shown once, and it signs in); grant the user a role
within the department's scope (a wrong scope is answered next to the field); disable the user (it
can no longer sign in) and enable it again; edit a matter rule's time limit (an unreadable limit
is answered next to the field, then "2 工作日" is saved and listed); issue an API key (shown once,
and it works) and revoke it (it stops working); and find each of these actions in the audit log
page, newest first and through its filters. No request leaves the origin, no page script fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx2 as httpx
import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_command_browser import _until

DEPARTMENT = "E2EADM"
USERNAME = "e2e.admin.clerk"


class Admin:
    """The demo admin's browser page, watching for failures and requests elsewhere."""

    def __init__(self, browser: Any, server: Server) -> None:
        self.server = server
        self.context = browser.new_context(viewport={"width": 1440, "height": 900})
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.outside: list[str] = []
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on(
            "request",
            lambda r: None if r.url.startswith(server.base_url) else self.outside.append(r.url),
        )
        self.page.goto(f"{server.base_url}/login")
        self.page.fill("#username", "admin")
        self.page.fill("#password", server.admin_password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{server.base_url}/")

    def open(self, section: str, root: str) -> None:
        self.page.click(f'.admin-nav a[href="/admin/{section}"]')
        self.page.wait_for_url(f"{self.server.base_url}/admin/{section}")
        _until(self.page, lambda: self.page.get_attribute(root, "data-state") == "ready")

    def text(self, selector: str) -> str:
        return str(self.page.text_content(selector) or "").strip()

    def option_loaded(self, select: str, value: str) -> None:
        _until(self.page, lambda: self.page.locator(f'{select} option[value="{value}"]').count())


@pytest.fixture
def admin(browser: Any, server: Server) -> Iterator[Admin]:
    signed_in = Admin(browser, server)
    yield signed_in
    signed_in.context.close()


def _api(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, timeout=30, trust_env=False)


def _create_department(admin: Admin) -> None:
    page = admin.page
    admin.open("departments", "#admin-departments")
    page.fill("#department-code", DEPARTMENT)
    page.fill("#department-name", "端到端测试科")
    admin.option_loaded("#department-parent", "GOV")
    page.select_option("#department-parent", "GOV")
    page.click("#department-create")
    row = f'tr[data-department="{DEPARTMENT}"]'
    _until(page, lambda: page.locator(row).count() == 1)
    assert "端到端测试科" in admin.text(row)
    assert "(GOV)" in admin.text(row)
    assert DEPARTMENT in admin.text("#departments-status")


def _create_user_and_grant(admin: Admin, server: Server) -> None:
    page = admin.page
    admin.open("users", "#admin-users")
    page.fill("#user-username", USERNAME)
    page.fill("#user-display_name", "端到端受理员")
    admin.option_loaded("#user-department", DEPARTMENT)
    page.select_option("#user-department", DEPARTMENT)
    page.click("#user-create")
    _until(page, lambda: page.locator("#user-created [data-secret]").count() == 1)
    password = admin.text("#user-created [data-secret]")
    assert len(password) >= 10
    with _api(server) as client:  # the password shown once is the account's
        signed = client.post(
            "/api/v1/auth/login", json={"username": USERNAME, "password": password}
        )
        assert signed.status_code == 200, signed.text
    row = f'tr[data-user="{USERNAME}"]'
    _until(page, lambda: page.locator(row).count() == 1)
    assert "端到端测试科" in admin.text(row)

    # A scope that is not one: the API's answer appears next to the scope field.
    page.select_option("#grant-user", USERNAME)
    page.select_option("#grant-role", "dispatcher")
    page.select_option("#grant-scope-kind", "division")
    page.fill("#grant-scope-code", "not-a-code")
    page.click("#grant-add")
    _until(page, lambda: admin.text("#grant-scope-error") != "")
    assert page.get_attribute("#grant-scope-code", "aria-invalid") == "true"
    assert admin.text("#grant-error") != ""

    page.select_option("#grant-scope-kind", "department")
    page.fill("#grant-scope-code", DEPARTMENT)
    page.click("#grant-add")
    grant = f'{row} [data-grant="dispatcher@department:{DEPARTMENT}"]'
    _until(page, lambda: page.locator(grant).count() == 1)
    assert "派遣员" in admin.text(grant)
    assert admin.text("#grant-scope-error") == ""

    toggle = f'button[data-toggle="{USERNAME}"]'
    page.click(toggle)  # disabling asks to confirm
    page.click(toggle)
    _until(page, lambda: page.locator(f'{row}[data-active="false"]').count() == 1)
    with _api(server) as client:  # a disabled account cannot sign in
        refused = client.post(
            "/api/v1/auth/login", json={"username": USERNAME, "password": password}
        )
        assert refused.status_code == 401
    page.click(toggle)  # enabling needs no confirmation
    _until(page, lambda: page.locator(f'{row}[data-active="true"]').count() == 1)


def _edit_a_rule(admin: Admin, server: Server) -> tuple[str, str | None]:
    page = admin.page
    admin.open("rules", "#admin-rules")
    first = page.locator('#rules-table tbody tr[data-rule][data-division=""]').first
    code = str(first.get_attribute("data-rule"))
    page.fill("#rules-matter", code)
    page.click("#rules-filter button[type=submit]")
    row = f'tr[data-rule="{code}"][data-division=""]'
    _until(page, lambda: page.get_attribute("#admin-rules", "data-state") == "ready")
    codes = {r.get_attribute("data-rule") for r in page.locator("#rules-table tbody tr").all()}
    assert codes == {code}
    before = admin.text(f"{row} [data-field=limit_normal]")
    page.click(f"{row} button:text('编辑')")
    page.wait_for_selector("#rule-section:not([hidden])")
    assert page.input_value("#rule-matter_code") == code

    page.fill("#rule-limit_normal", "三天")  # not a working-time limit
    page.click("#rule-save")
    _until(page, lambda: admin.text("#rule-limit_normal-error") != "")
    assert page.get_attribute("#rule-limit_normal", "aria-invalid") == "true"
    assert admin.text("#rule-limit_urgent-error") == ""

    page.fill("#rule-limit_normal", "2 工作日")
    page.click("#rule-save")
    _until(page, lambda: admin.text(f"{row} [data-field=limit_normal]") == "2 工作日")
    assert page.locator("#rule-section").is_hidden()
    assert code in admin.text("#rules-status")
    return code, None if before == "–" else before


def _issue_and_revoke_a_key(admin: Admin, server: Server) -> str:
    page = admin.page
    admin.open("apikeys", "#admin-apikeys")
    page.fill("#key-name", "端到端传感器网关")
    page.check('input[name=permissions][value="telemetry:write"]')
    page.click("#key-create")
    _until(page, lambda: page.locator("#key-created [data-secret]").count() == 1)
    key = admin.text("#key-created [data-secret]")
    assert key.startswith("cok_")
    prefix = key.split("_")[1]
    with _api(server) as client:
        assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 200
    row = f'tr[data-key="{prefix}"]'
    _until(page, lambda: page.locator(row).count() == 1)
    revoke = f"{row} button[data-revoke]"
    page.click(revoke)  # the first click asks to confirm
    assert page.locator(f'{row}[data-revoked="false"]').count() == 1
    page.click(revoke)
    _until(page, lambda: page.locator(f'{row}[data-revoked="true"]').count() == 1)
    with _api(server) as client:
        assert client.get("/api/v1/auth/me", headers={"X-API-Key": key}).status_code == 401
    return prefix


def _actions(admin: Admin) -> list[str]:
    return [
        str(row.get_attribute("data-action"))
        for row in admin.page.locator("#audit-table tbody tr[data-action]").all()
    ]


def _search_audit(admin: Admin, **filters: str) -> list[str]:
    page = admin.page
    for name in ("actor", "action", "object_type", "object_id"):
        page.fill(f"#audit-{name}", filters.get(name, ""))
    page.click("#audit-search")  # the page is "loading" until the answer is shown
    _until(page, lambda: page.get_attribute("#admin-audit", "data-state") == "ready")
    return _actions(admin)


@pytest.mark.slow
def test_an_admin_manages_the_city_and_finds_it_in_the_audit_log(
    admin: Admin, server: Server
) -> None:
    page = admin.page
    page.click('nav a[href="/admin"]')
    page.wait_for_url(f"{server.base_url}/admin")
    assert admin.page.locator(".admin-nav a").count() == 6

    _create_department(admin)
    _create_user_and_grant(admin, server)
    code, old_limit = _edit_a_rule(admin, server)
    try:
        prefix = _issue_and_revoke_a_key(admin, server)

        admin.open("audit", "#admin-audit")
        newest = _actions(admin)
        assert newest.index("apikey.revoke") < newest.index("apikey.issue")  # newest first
        assert {"department.create", "user.create", "user.grant", "cases.rule_set"} <= set(newest)
        assert set(_search_audit(admin, object_id=USERNAME)) >= {
            "user.create",
            "user.grant",
            "user.disable",
            "user.update",
        }
        assert _search_audit(admin, object_type="department", object_id=DEPARTMENT) == [
            "department.create"
        ]
        rule_changes = _search_audit(admin, action="cases.rule_set", object_id=f"{code}@city")
        assert rule_changes[:1] == ["cases.rule_set"]
        assert _search_audit(admin, object_type="apikey", object_id=prefix) == [
            "apikey.revoke",
            "apikey.issue",
        ]
        assert "object_id=" + prefix in page.url  # the filters are in the address, to share
        first = page.locator("#audit-table tbody tr[data-action='apikey.revoke'] details")
        first.locator("summary").click()
        assert "revoked: false → true" in str(first.text_content())
    finally:
        with _api(server) as client:  # leave the shared demo city's rule as it was
            token = client.post(
                "/api/v1/auth/login", json={"username": "admin", "password": server.admin_password}
            ).json()["access_token"]
            headers = {"Authorization": f"Bearer {token}"}
            rule = client.get(f"/api/v1/cases/rules/{code}", headers=headers).json()
            body = {
                k: rule[k] for k in ("department_code", "filing_condition", "closing_condition")
            }
            body |= {"limit_normal": old_limit, "limit_urgent": rule["limit_urgent"]}
            body["keywords"] = rule["keywords"]
            client.put(f"/api/v1/cases/rules/{code}", json=body, headers=headers)

    assert admin.problems == []
    assert admin.outside == []
