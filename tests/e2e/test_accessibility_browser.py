"""Accessibility in a real browser: axe-core's WCAG 2.1 A/AA rules on every page, and the keyboard.

axe-core (MPL-2.0) is vendored under tests/e2e/vendor/axe-core: nothing is fetched. It is
injected into each page of a context that bypasses the pages' CSP (a test-only script); the
pages themselves are unchanged. The rules include colour contrast (AA) on the light theme,
labels of every control, names of buttons and links, table headers and the document language.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server
from tests.e2e.test_command_browser import _until

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:5]}"
        for v in result["violations"]
    ]


def _signed_in(browser: Any, server: Server, username: str) -> Any:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server.base_url}/login")
    assert _violations(page) == []
    page.fill("#username", username)
    page.fill("#password", server.password(username))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/")
    return page


def _a_case_number(page: Any) -> str:
    found = page.evaluate("() => fetch('/api/v1/cases?status=closed&limit=1').then(r => r.json())")
    return str(found["items"][0]["number"])


@pytest.mark.slow
def test_every_page_passes_wcag_aa_rules(browser: Any, server: Server) -> None:
    page = _signed_in(browser, server, "dispatcher")
    number = _a_case_number(page)
    ready = {
        "/": None,
        "/work?queue=dispatch": "#work",
        "/intake": None,
        f"/cases/{number}": "#case",
        "/command": "#command",
        f"/status?number={number}": None,
        "/monitor": "#monitor",
        "/devices/AQ-001": "#device",  # the demo's first air station
        "/alerts": "#alerts",
    }
    found: dict[str, list[str]] = {}
    for path, root in ready.items():
        page.goto(f"{server.base_url}{path}")
        if root is not None:
            _until(page, lambda root=root: page.get_attribute(root, "data-state") == "ready")
        page.wait_for_timeout(300)
        found[path] = _violations(page)
    assert found == {path: [] for path in ready}
    page.context.close()


@pytest.mark.slow
def test_the_admin_pages_pass_wcag_aa_rules(browser: Any, server: Server) -> None:
    page = _signed_in(browser, server, "admin")
    ready = {
        "/admin": "#admin",
        "/admin/users": "#admin-users",
        "/admin/departments": "#admin-departments",
        "/admin/rules": "#admin-rules",
        "/admin/apikeys": "#admin-apikeys",
        "/admin/audit": "#admin-audit",
    }
    found: dict[str, list[str]] = {}
    for path, root in ready.items():
        page.goto(f"{server.base_url}{path}")
        _until(page, lambda root=root: page.get_attribute(root, "data-state") == "ready")
        page.wait_for_timeout(300)
        found[path] = _violations(page)
    # The forms that open on demand, and an error shown next to its field.
    page.goto(f"{server.base_url}/admin/rules")
    _until(page, lambda: page.get_attribute("#admin-rules", "data-state") == "ready")
    page.click("#rules-table tbody tr[data-rule] button")
    page.fill("#rule-limit_normal", "三天")
    page.click("#rule-save")
    _until(page, lambda: bool(page.text_content("#rule-limit_normal-error")))
    found["/admin/rules (editing)"] = _violations(page)
    assert found == {path: [] for path in found}
    page.context.close()


@pytest.mark.slow
def test_the_intake_form_works_from_the_keyboard_with_visible_focus(
    browser: Any, server: Server
) -> None:
    page = _signed_in(browser, server, "dispatcher")
    page.goto(f"{server.base_url}/intake")
    reached: list[str] = []
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return [e.id || e.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
        if focused[0] in ("channel", "description", "lon", "lat", "accept-file"):
            assert focused[1] != "none", f"no visible focus on {focused[0]}"
            assert focused[2] != "0px", f"no visible focus on {focused[0]}"
        reached.append(focused[0])
    order = [name for name in ("channel", "description", "lon", "lat") if name in reached]
    assert order == ["channel", "description", "lon", "lat"]
    assert reached.index("channel") < reached.index("description") < reached.index("lat")
    page.focus("#description")
    page.keyboard.type("路边有暴露垃圾，很久没人清理")
    _until(page, lambda: page.locator("#classes input[name=matter]").count() > 0)
    page.context.close()
