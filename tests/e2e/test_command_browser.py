"""The command center in a real browser (headless Chromium against a real ``cityops serve``).

Signed in as the demo admin: the cards fill, the map shades the district, the charts draw (trend
by channel, top matter classes and the department leaderboard by name, channels); a case created
through the API arrives in the live feed and moves the "new" card; clicking the district and then
a street drills down and narrows the charts (breadcrumb back up); the dark theme and English
work; and nothing is asked of any other origin. The one map: case markers clustered and coloured
by their worst light, a marker's popup linking to the case page, the measure select re-shading
the divisions and the legend, and the components layer shown only zoomed in and toggled off.
"""

from __future__ import annotations

import re
from typing import Any

import httpx2 as httpx
import pytest

from tests.e2e.conftest import Server

WAIT_MS = 20_000
CHARTS = ("trend", "classes", "departments", "channels")
# What a chart shows, read from ECharts (a function, not a string predicate: the CSP allows it).
READ_CHART = """(id) => {
  const option = echarts.getInstanceByDom(document.getElementById(id)).getOption();
  return {
    series: option.series.map((s) => ({ name: s.name, type: s.type, data: s.data })),
    categories: (option.yAxis || []).map((axis) => axis.data || []),
  };
}"""


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


def _chart(page: Any, name: str) -> dict[str, Any]:
    return dict(page.evaluate(READ_CHART, f"chart-{name}"))


def _chart_theme_background(page: Any, name: str) -> str:
    """The background of the chart's ECharts theme: none in the default one, dark in "dark"."""
    script = "(id) => echarts.getInstanceByDom(document.getElementById(id)).getModel()"
    script += ".getTheme().get('backgroundColor') || ''"
    return str(page.evaluate(script, f"chart-{name}"))


def _total(series: dict[str, Any]) -> int:
    return sum(value or 0 for value in series["data"])


def _ready_after(page: Any, action: Any) -> None:
    """Do something that refreshes the page (it goes to loading at once) and wait for ready."""
    action()
    page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)


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
        for chart in CHARTS:
            assert page.locator(f"#chart-{chart} canvas").count() == 1, chart
        trend = _chart(page, "trend")["series"]
        assert [s["type"] for s in trend[-2:]] == ["line", "line"]  # closed, closed on time
        assert len(trend[-1]["data"]) == 24  # today: the last 24 hours
        new_before = int(_card(page, "accepted"))

        # A case accepted now arrives in the feed by SSE and the "new" card counts it.
        case = _new_case(server)
        page.wait_for_selector(
            f"#feed li[data-type=CaseAccepted]:has-text('{case['number']}')", timeout=WAIT_MS
        )
        _until(page, lambda: int(_card(page, "accepted")) > new_before)

        # The last 30 days: a trend by day and channel, the classes and departments by name.
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        _ready_after(page, lambda: page.select_option("#period", "month"))
        trend = _chart(page, "trend")["series"]
        assert len(trend[-1]["data"]) == 30
        bars = [s for s in trend if s["type"] == "bar"]
        assert bars
        assert sum(_total(s) for s in bars) > 0
        classes = _chart(page, "classes")
        city_classes = _total(classes["series"][0])
        assert city_classes > 0
        assert 1 <= len(classes["categories"][0]) <= 10
        assert all(re.search("[\u4e00-\u9fff]", name) for name in classes["categories"][0])
        board = _chart(page, "departments")
        names = board["categories"][0]
        assert names
        assert all(re.search("[\u4e00-\u9fff]", name) for name in names)  # names, not codes
        assert [s["name"] for s in board["series"]] == ["按期结案率 %", "超期（红灯）"]
        city_open_red = _total(board["series"][1])
        assert _chart(page, "channels")["series"][0]["data"]

        # Drill into the district, then a street: the charts narrow; back up by the breadcrumb.
        # (Dispatched: the case markers' clusters may sit over the middle of the district.)
        page.locator("#command-map path.leaflet-interactive").first.dispatch_event("click")
        _until(page, lambda: len(page.get_attribute("#command", "data-division") or "") == 6)
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        assert page.locator("#trail [aria-current=page]").count() == 1
        assert page.locator("#command-map path.leaflet-interactive").count() > 1  # its streets
        # A street (dispatched: a real click may land on a neighbour drawn over its box's middle).
        page.locator("#command-map path.leaflet-interactive").first.dispatch_event("click")
        _until(page, lambda: len(page.get_attribute("#command", "data-division") or "") == 9)
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        street_classes = _chart(page, "classes")
        assert 0 < _total(street_classes["series"][0]) < city_classes
        street_board = _chart(page, "departments")
        assert street_board != board
        assert _total(street_board["series"][1]) <= city_open_red
        page.locator("#trail button").first.click()
        _until(page, lambda: page.get_attribute("#command", "data-division") == "")

        # The wall screen's dark theme (the charts' too, on toggling and on loading), and English.
        assert not any(_chart_theme_background(page, chart) for chart in CHARTS)
        page.click("#theme-toggle")
        assert page.get_attribute("html", "data-theme") == "dark"
        assert all(_chart_theme_background(page, chart) for chart in CHARTS)
        page.goto(f"{server.base_url}/command?lang=en")
        page.wait_for_selector("#command[data-state=ready]", timeout=WAIT_MS)
        assert "command center" in (page.text_content("h1") or "")
        assert page.get_attribute("html", "data-theme") == "dark"  # remembered
        assert all(_chart_theme_background(page, chart) for chart in CHARTS)
        assert _chart(page, "departments")["series"][0]["name"] == "On-time closing %"
        page.goto(f"{server.base_url}/command?lang=zh-CN")
    finally:
        context.close()

    outside = [url for url in requested if not url.startswith(f"{server.base_url}/")]
    assert outside == [], f"requests left {server.base_url}: {outside}"
    assert any("/api/v1/situation?" in url for url in requested)
    assert problems == []


SHAPES = "#command-map path.leaflet-interactive:not(.map-component):not(.map-place)"
# The lightest (none) and darkest shade of each measure: the city's only district has the
# highest value, so it takes the darkest shade unless the value is zero.
SHADES = {
    "open": ("#e8f1fb", "#08519c"),
    "red": ("#fdecea", "#a50f15"),
    "density": ("#f2f0f7", "#6a51a3"),
}


def _wait_for(page: Any, attribute: str, value: str) -> None:
    page.wait_for_selector(f"#command[data-{attribute}={value}]", timeout=WAIT_MS)


def _a_single_marker(page: Any) -> Any:
    """Click clusters (each zooms in, or spreads its cases at the last zoom) until one shows."""
    for _ in range(12):
        single = page.locator("#command-map .case-marker")
        if single.count():
            return single.first
        page.locator("#command-map .case-cluster").first.click()
        page.wait_for_timeout(700)
    raise AssertionError("no single case marker after zooming into clusters")


@pytest.mark.slow
def test_the_one_map_has_markers_measures_and_layers(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1920, "height": 1080})
    page = context.new_page()
    problems: list[str] = []
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
        _wait_for(page, "state", "ready")
        _wait_for(page, "markers", "ready")

        # Markers for every open case with a point, in clusters coloured by their worst light.
        assert int(page.get_attribute("#command", "data-marker-count") or 0) > 0
        clusters = page.locator("#command-map .case-cluster")
        assert clusters.count() > 0
        for index in range(clusters.count()):
            classes = clusters.nth(index).get_attribute("class") or ""
            assert re.search(r"\blight-(red|yellow|green|none)\b", classes), classes
        if int(_card(page, "overdue")) > 0:  # a red case is alone or makes its cluster red
            assert page.locator("#command-map .light-red").count() > 0

        # The measure select: the district's shade and the legend follow it.
        counted = {"open": int(_card(page, "open")), "red": int(_card(page, "overdue"))}
        counted["density"] = counted["open"]
        assert page.get_attribute(SHAPES, "fill") == SHADES["open"][1]
        assert page.text_content("#legend-measure") == "在办案件数"
        for measure, name in (("red", "超期（红灯）案件数"), ("density", "每平方公里在办案件数")):
            page.select_option("#map-measure", measure)
            assert page.get_attribute("#legend", "data-measure") == measure
            assert page.text_content("#legend-measure") == name
            shade = SHADES[measure][1 if counted[measure] else 0]
            assert page.get_attribute(SHAPES, "fill") == shade, measure
        assert "km²" in (page.text_content("#legend-steps") or "")
        page.select_option("#map-measure", "open")
        assert page.get_attribute(SHAPES, "fill") == SHADES["open"][1]

        # The components layer: ticked, it asks to zoom in; zoomed in, it shows; unticked, gone.
        page.get_by_label("部件", exact=True).check()
        _wait_for(page, "layers", "zoom")
        assert "16" in (page.text_content("#map-note") or "")
        assert page.locator("#command-map .map-component").count() == 0
        for _ in range(10):
            if float(page.get_attribute("#command", "data-zoom") or 0) >= 16:
                break
            page.click("#command-map .leaflet-control-zoom-in")
            page.wait_for_timeout(400)
        _wait_for(page, "layers", "ready")
        assert page.locator("#command-map .map-component").count() > 0
        page.get_by_label("部件", exact=True).uncheck()
        _wait_for(page, "layers", "off")
        assert page.locator("#command-map .map-component").count() == 0

        # A live event while a case's popup is open refreshes the figures but leaves the popup
        # (and its markers) alone; closing the popup brings the markers up to date.
        marker = _a_single_marker(page)
        marker.click()
        popup = page.locator("#command-map .leaflet-popup-content a")
        popup.wait_for(timeout=WAIT_MS)
        shown = int(page.get_attribute("#command", "data-marker-count") or 0)
        case = _new_case(server)
        page.wait_for_selector(f"#feed li:has-text('{case['number']}')", timeout=WAIT_MS)
        page.wait_for_timeout(1500)  # the feed's refresh waits a second to batch events
        _wait_for(page, "state", "ready")
        assert page.get_attribute("#command", "data-markers") == "ready"
        assert popup.count() == 1
        page.click("#command-map .leaflet-popup-close-button")
        _until(page, lambda: page.get_attribute("#command", "data-marker-count") == str(shown + 1))
        _wait_for(page, "markers", "ready")
        _until(page, lambda: popup.count() == 0)  # the popup fades out before it goes
        # A marker's popup links to the case page, which opens that case.
        marker = _a_single_marker(page)
        number = (marker.get_attribute("title") or "").split(" ")[0]
        marker.click()
        link = page.locator("#command-map .leaflet-popup-content a")
        link.wait_for(timeout=WAIT_MS)
        assert link.get_attribute("href") == f"/cases/{number}"
        link.click()
        page.wait_for_url(f"{server.base_url}/cases/{number}")
        page.wait_for_selector("#case[data-state=ready]", timeout=WAIT_MS)
        assert page.text_content("#case-number") == number
    finally:
        context.close()
    assert problems == []
