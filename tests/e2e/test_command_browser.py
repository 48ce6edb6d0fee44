"""The command center in a real browser (headless Chromium against a real ``cityops serve``).

Signed in as the demo admin: the cards fill, the map shades the district, the charts draw; a
case created through the API arrives in the live feed and moves the "new" card; clicking the
district drills down (breadcrumb back up); the dark theme and English work; and nothing is
asked of any other origin.
"""

from __future__ import annotations

from typing import Any

import httpx2 as httpx
import pytest

from tests.e2e.conftest import Server

WAIT_MS = 20_000


def _sign_in(page: Any, server: Server) -> None:
    page.goto(f"{server.base_url}/login")
    page.fill("#username", "admin")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/")


def _card(page: Any, name: str) -> str:
    return str(page.text_content(f"[data-card={name}] .kpi-value") or "").strip()


def _new_case(server: Server) -> dict[str, Any]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        token = client.post(
            "/api/v1/auth/login", json={"username": "admin", "password": server.admin_password}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        grid = client.get(
            "/api/v1/geo/divisions", params={"level": "grid", "limit": 1}, headers=headers
        ).json()["features"][0]
        lon, lat = _inside(grid["geometry"])
        response = client.post(
            "/api/v1/cases",
            json={
                "channel": "hotline",
                "description": "路边有暴露垃圾，很久没人清理",
                "lon": lon,
                "lat": lat,
            },
            headers=headers,
        )
        assert response.status_code == 201, response.text
        return dict(response.json()["case"])


def _until(page: Any, condition: Any) -> None:
    """Poll from Python: the page's CSP (no 'unsafe-eval') refuses string predicates."""
    for _ in range(WAIT_MS // 200):
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError("the page never got there")


def _inside(geometry: dict[str, Any]) -> tuple[float, float]:
    import shapely.geometry

    point = shapely.geometry.shape(geometry).representative_point()
    return point.x, point.y


@pytest.mark.slow
def test_the_command_center_fills_updates_live_and_drills_down(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )
    try:
        _sign_in(page, server)
        page.goto(f"{server.base_url}/command?lang=zh-CN")
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        assert "城市运行指挥中心" in page.text_content("h1")
        assert _card(page, "open").isdigit()
        assert int(_card(page, "open")) > 0
        assert page.locator("#command-map path.leaflet-interactive").count() >= 1
        assert page.locator("#chart-departments canvas").count() == 1
        new_before = int(_card(page, "accepted"))

        # A case accepted now arrives in the feed by SSE and the "new" card counts it.
        case = _new_case(server)
        page.wait_for_selector(
            f"#feed li[data-type=CaseAccepted]:has-text('{case['number']}')", timeout=WAIT_MS
        )
        _until(page, lambda: int(_card(page, "accepted")) > new_before)

        # Drill into the district and back up by the breadcrumb.
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        page.locator("#command-map path.leaflet-interactive").first.click()
        _until(page, lambda: len(page.get_attribute("#command", "data-division") or "") == 6)
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        assert page.locator("#trail [aria-current=page]").count() == 1
        assert page.locator("#command-map path.leaflet-interactive").count() > 1  # its streets
        page.locator("#trail button").first.click()
        _until(page, lambda: page.get_attribute("#command", "data-division") == "")

        # The wall screen's dark theme, and English.
        page.click("#theme-toggle")
        assert page.get_attribute("html", "data-theme") == "dark"
        page.goto(f"{server.base_url}/command?lang=en")
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        assert "command center" in (page.text_content("h1") or "")
        assert page.get_attribute("html", "data-theme") == "dark"  # remembered
        page.goto(f"{server.base_url}/command?lang=zh-CN")
    finally:
        context.close()

    outside = [url for url in requested if not url.startswith(f"{server.base_url}/")]
    assert outside == [], f"requests left {server.base_url}: {outside}"
    assert any("/api/v1/situation?" in url for url in requested)
    assert problems == []
