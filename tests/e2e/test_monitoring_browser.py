"""The monitoring pages in a real browser (headless Chromium against a real ``cityops serve``).

A demo city is served, then seeded through the API with three air stations whose last hour gives
AQI levels 1, 3 and 5, a noise monitor, a water station, two traffic links, a manhole sensor,
alert rules and the alerts they raise (one opening a case). In Chromium: the overview's map has
one badge per air station in the HJ 633 colour of its AQI (computed colours checked against the
API and the standard's hex), grouping by street shades the streets in their AQI colour; the
alert panel counts open alerts by level as ``/api/v1/alerts/summary`` does and the device tile
counts the devices online; an alert raised while the page is open arrives by the live feed; a
device's page draws an ECharts chart per datastream with its latest value; on the alert queue
acknowledging and resolving change the row and the API, a case link leads to the alert's case,
and a viewer (no ``alerts:manage``) sees no buttons. Chinese by default, English on switching;
no request leaves 127.0.0.1.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

import cityops.web
from cityops.web.i18n import LANGUAGES, Translator, catalogue
from cityops.web.routes.monitoring_pages import SCRIPT_MESSAGES
from tests.e2e.conftest import Server, admin_password
from tests.e2e.server_process import demo_server

WAIT_MS = 20_000
NA = "#B0BEC5"
# HJ 633 (附录A) colours of the levels the seeded stations reach, and the warning levels'.
AQI_COLORS = {1: "#00E400", 3: "#FF7E00", 5: "#99004C"}
# PM2.5 (µg/m³) of each seeded station's last hours: IAQI 29 (优), 132 (轻度), 250 (重度).
STATIONS = {"MT-AQ-1": (20.0, 1), "MT-AQ-2": (100.0, 3), "MT-AQ-3": (200.0, 5)}
RULES = [
    {
        "key": "mt-pm25",
        "name": "PM2.5 持续超标",
        "kind": "threshold",
        "metric": "pm25",
        "things": ["MT-AQ-3"],
        "level": "II",
        "department": "STHJ",
        "condition": {"above": 150, "for_minutes": 0},
        "case": {"matter_code": "08004", "text": "PM2.5 持续超标，疑似工地扬尘"},
    },
    {
        "key": "mt-nh3n",
        "name": "氨氮超标",
        "kind": "threshold",
        "metric": "nh3n",
        "things": ["MT-WQ-1"],
        "level": "III",
        "condition": {"above": 1.5, "for_minutes": 0},
    },
    {
        "key": "mt-noise",
        "name": "噪声过高",
        "kind": "threshold",
        "metric": "noise_laeq",
        "things": ["MT-NZ-1"],
        "level": "IV",
        "condition": {"above": 80, "for_minutes": 0},
    },
    {
        "key": "mt-manhole",
        "name": "井内水位过高",
        "kind": "threshold",
        "metric": "manhole_water_level",
        "things": ["MT-MH-1"],
        "level": "I",
        "condition": {"above": 0.5, "for_minutes": 0},
    },
]
LEVELS = ("I", "II", "III", "IV")

WEB = Path(cityops.web.__file__).parent
SCRIPTS = [WEB / "static" / name for name in ("monitor.js", "monitor_map.js", "device.js")]
SCRIPTS.append(WEB / "static" / "alerts.js")
LITERAL = re.compile(r"""\bmsg\(\s*"([a-z_.A-Z0-9]+)"\s*[,)]""")
# Any whole key in quotes (in ternaries too), not a prefix a key is built from ("…" + value).
QUOTED = re.compile(r""""((?:monitor|device|alerts)\.[a-z_.A-Z0-9]+)"(?!\s*\+)""")


# --- the scripts' messages (no browser) ---------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_the_monitoring_scripts_use_exists_and_is_embedded(language: str) -> None:
    embedded = Translator(language).messages(*SCRIPT_MESSAGES)
    used = set()
    for path in SCRIPTS:
        text = path.read_text("utf-8")
        used |= {m.group(1) for m in LITERAL.finditer(text)}
        used |= {m.group(1) for m in QUOTED.finditer(text)}
    # Keys the scripts build from a prefix and a value.
    used |= {f"alerts.{kind}.{level}" for kind in ("level", "color") for level in LEVELS}
    used |= {f"alerts.status.{s}" for s in ("raised", "acknowledged", "resolved")}
    used |= {f"alerts.{a}" for a in ("acknowledge", "resolve", "acknowledge_one", "resolve_one")}
    used |= {f"alerts.done.{a}" for a in ("acknowledge", "resolve")}
    used |= {f"monitor.aqi.level{n}" for n in range(1, 7)}
    used |= {f"monitor.map.layer.{n}" for n in ("noise", "water", "traffic")}
    used |= {f"monitor.noise.{p}" for p in ("day", "night")}
    assert len(used) > 60
    assert sorted(k for k in used if k not in catalogue(language)) == []
    assert sorted(k for k in used if k not in embedded) == []


# --- the served, seeded city --------------------------------------------------------------------


@dataclass(frozen=True)
class Seeded:
    """The server and what the seeding made: alert ids by rule, and the case of mt-pm25."""

    server: Server
    alerts: dict[str, int]
    case_number: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _inside(geometry: dict[str, Any]) -> tuple[float, float]:
    import shapely.geometry

    point = shapely.geometry.shape(geometry).representative_point()
    return round(point.x, 6), round(point.y, 6)


@contextmanager
def _client(server: Server, username: str = "admin") -> Iterator[httpx.Client]:
    """An API client signed in as ``username`` (a bearer token)."""
    with httpx.Client(base_url=server.base_url, timeout=60, trust_env=False) as client:
        token = client.post(
            "/api/v1/auth/login",
            json={"username": username, "password": server.password(username)},
        ).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def _ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


def _register(
    client: httpx.Client,
    key: str,
    name: str,
    point: tuple[float, float],
    metrics: list[str],
    interval: int = 3600,
    **properties: Any,
) -> None:
    body = {"key": key, "name": name, "lon": point[0], "lat": point[1], "properties": properties}
    thing = _ok(client.post("/api/v1/things", json=body))
    assert thing["grid_code"], f"{key} fell outside every grid"
    for metric in metrics:
        _ok(
            client.post(
                f"/api/v1/things/{key}/datastreams",
                json={"metric": metric, "interval_seconds": interval},
            )
        )


def _send(client: httpx.Client, items: list[dict[str, Any]]) -> None:
    answer = _ok(client.post("/api/v1/observations", json=items))
    assert answer["rejected"] == 0, answer


def _seed(server: Server) -> Seeded:
    """Devices, readings and rules through the API, as an integration would send them."""
    now = datetime.now(UTC)
    hour = now.replace(minute=0, second=0, microsecond=0)
    with _client(server) as client:
        streets = _ok(client.get("/api/v1/geo/divisions", params={"level": "street"}))
        features = sorted(streets["features"], key=lambda f: f["properties"]["code"])
        points = [_inside(f["geometry"]) for f in features[:6]]
        air = ["pm25", "pm10", "so2", "no2", "o3", "co"]
        for index, (key, _) in enumerate(STATIONS.items()):
            # Reporting every minute: an hour of readings makes a valid hourly mean.
            _register(client, key, f"监测测试空气站{index + 1}", points[index], air, 60)
        _register(client, "MT-NZ-1", "监测测试噪声点", points[3], ["noise_laeq"], noise_zone="2")
        water = ["ph", "do", "codmn", "nh3n", "tp"]
        _register(client, "MT-WQ-1", "监测测试水质站", points[4], water, target_class="III")
        for number, shift in ((1, 0.0), (2, 0.002)):
            where = (points[5][0] + shift, points[5][1])
            _register(
                client,
                f"MT-TR-{number}",
                f"监测测试路段{number}",
                where,
                ["traffic_speed"],
                road_class="arterial",
                link_length_km=0.5,
            )
        _register(client, "MT-MH-1", "监测测试井盖", points[5], ["manhole_water_level"])
        _ok(client.put("/api/v1/alerts/rules", json=RULES))

        # Air: every minute of the last whole hour and of this one (the server accepts readings
        # up to two hours ahead), so the hourly report is valid whenever the pages ask.
        readings: list[dict[str, Any]] = []
        for key, (pm25, _) in STATIONS.items():
            for minute in range(-60, 60):
                values = {"pm25": pm25, "pm10": 40, "so2": 8, "no2": 20, "o3": 40, "co": 0.5}
                moment = hour + timedelta(minutes=minute)
                readings.append({"thing": key, "time": _iso(moment), "values": values})
        # Noise: yesterday (the index's day) within its zone's limits, and a loud reading now.
        yesterday = (now + timedelta(hours=8)).date() - timedelta(days=1)  # the city's zone
        start = datetime(yesterday.year, yesterday.month, yesterday.day, tzinfo=UTC) - timedelta(
            hours=8
        )
        for step in range(0, 24 * 6):
            moment = start + timedelta(minutes=10 * step)
            readings.append({"datastream": "MT-NZ-1/noise_laeq", "time": _iso(moment), "value": 45})
        readings.append({"datastream": "MT-NZ-1/noise_laeq", "time": _iso(now), "value": 85})
        values = {"ph": 7.5, "do": 6.0, "codmn": 5.0, "nh3n": 2.0, "tp": 0.2}
        readings.append({"thing": "MT-WQ-1", "time": _iso(now), "values": values})
        for minutes, speeds in ((5, (18, 42)), (2, (16, 44))):
            for number, speed in enumerate(speeds, 1):
                moment = now - timedelta(minutes=minutes)
                key = f"MT-TR-{number}/traffic_speed"
                readings.append({"datastream": key, "time": _iso(moment), "value": speed})
        readings.append(
            {"datastream": "MT-MH-1/manhole_water_level", "time": _iso(now), "value": 0.1}
        )
        _send(client, readings)

        alerts = {a["rule"]: a for a in _ok(client.get("/api/v1/alerts", params={"status": "all"}))}
        assert {"mt-pm25", "mt-nh3n", "mt-noise"} <= set(alerts)
        assert "mt-manhole" not in alerts
        case_id = alerts["mt-pm25"]["case_id"]
        assert case_id, "the PM2.5 rule's alert opened no case"
        number = _ok(client.get(f"/api/v1/cases/{case_id}"))["number"]
        return Seeded(server, {rule: a["id"] for rule, a in alerts.items()}, str(number))


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A demo city of its own (this module adds devices, rules, alerts and a case)."""
    with demo_server(
        tmp_path_factory.mktemp("monitor"),
        CITYOPS_LANGUAGE="zh-CN",
        CITYOPS_TELEMETRY_FUTURE_SECONDS="7200",
        CITYOPS_ALERT_SWEEP_SECONDS="0",  # no missing-data sweeps: alerts come from the test
    ) as running:
        credentials = running.var / "demo-credentials.txt"
        server = Server(running.base_url, admin_password(credentials), credentials)
        yield _seed(server)


# --- in the browser -----------------------------------------------------------------------------


class Watched:
    """A page with what it asked of the network and the errors it reported."""

    def __init__(self, browser: Any, server: Server, username: str) -> None:
        self.context = browser.new_context(viewport={"width": 1600, "height": 1000})
        self.page = self.context.new_page()
        self.requested: list[str] = []
        self.problems: list[str] = []
        self.page.on("request", lambda request: self.requested.append(request.url))
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on(
            "console",
            lambda message: (
                self.problems.append(f"console: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        self.page.goto(f"{server.base_url}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", server.password(username))
        self.page.click("button[type=submit]")
        self.page.wait_for_url(f"{server.base_url}/")

    def close(self, server: Server) -> None:
        self.context.close()
        outside = [url for url in self.requested if not url.startswith(f"{server.base_url}/")]
        assert server.base_url.startswith("http://127.0.0.1:")
        assert outside == [], f"requests left {server.base_url}: {outside}"
        assert self.problems == []


def _until(page: Any, condition: Any) -> None:
    """Poll from Python: the pages' CSP (no 'unsafe-eval') refuses string predicates."""
    for _ in range(WAIT_MS // 200):
        if condition():
            return
        page.wait_for_timeout(200)
    raise AssertionError("the page never got there")


def _attribute(page: Any, selector: str, name: str) -> str:
    return str(page.get_attribute(selector, name) or "")


def _rgb(hex_color: str) -> str:
    red, green, blue = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def _style(page: Any, selector: str, prop: str) -> str:
    script = "([s, p]) => getComputedStyle(document.querySelector(s)).getPropertyValue(p)"
    return str(page.evaluate(script, [selector, prop])).strip()


def _text(page: Any, selector: str) -> str:
    return str(page.text_content(selector) or "").strip()


def _online_devices(client: httpx.Client) -> int:
    streams = _ok(client.get("/api/v1/datastreams"))
    return len({s["thing_id"] for s in streams if s["online"]})


@pytest.mark.slow
def test_the_overview_colours_stations_and_divisions_and_counts_alerts_live(
    browser: Any, seeded: Seeded
) -> None:
    server = seeded.server
    watched = Watched(browser, server, "admin")
    page = watched.page
    with _client(server) as client:
        online_before = _online_devices(client)
        page.goto(f"{server.base_url}/monitor")
        page.wait_for_selector("#monitor[data-state=ready][data-map=ready]", timeout=WAIT_MS)
        page.wait_for_selector("#monitor[data-alerts=ready]", timeout=WAIT_MS)
        assert _text(page, "h1") == "监测总览"
        assert page.get_attribute("html", "lang") == "zh-CN"
        assert page.locator("nav a[href='/monitor']").inner_text() == "监测"
        assert page.locator("nav a[href='/alerts']").inner_text() == "告警"

        # One badge per air station, in its AQI colour (the standard's hex for the seeded ones).
        air = _ok(client.get("/api/v1/indices/air", params={"group_by": "station"}))
        placed = [i for i in air["items"] if i["lat"] is not None]
        assert page.locator("#monitor-map .aqi-marker").count() == len(placed)
        for item in placed:
            badge = f"#monitor-map .aqi-badge[data-station='{item['station']}']"
            assert _style(page, badge, "background-color") == _rgb(item["color"] or NA)
        by_key = {i["station"]: i for i in placed}
        for key, (_, level) in STATIONS.items():
            assert by_key[key]["aqi"]["level"] == level
            badge = f"#monitor-map .aqi-badge[data-station='{key}']"
            assert _style(page, badge, "background-color") == _rgb(AQI_COLORS[level])
            assert _text(page, badge) == str(by_key[key]["aqi"]["aqi"])
        assert page.locator("#monitor-map .shape-water [data-station='MT-WQ-1']").count() == 1

        # Grouped by street: the streets are shaded in the colour of their AQI.
        page.select_option("#group-by", "street")
        page.wait_for_selector("#monitor[data-group=street][data-map=ready]", timeout=WAIT_MS)
        assert page.locator("#monitor-map .aqi-marker").count() == 0
        streets = _ok(client.get("/api/v1/indices/air", params={"group_by": "street"}))
        assert streets["items"]
        seen_levels = set()
        for item in streets["items"]:
            shape = f"#monitor-map path[data-code='{item['division']}']"
            assert _style(page, shape, "fill") == _rgb(item["color"] or NA)
            seen_levels.add(item["aqi"]["level"])
        assert len(seen_levels) >= 2
        page.select_option("#group-by", "station")
        page.wait_for_selector("#monitor[data-group=station][data-map=ready]", timeout=WAIT_MS)
        assert page.locator("#monitor-map .aqi-marker").count() == len(placed)

        # The tiles: devices online (between the counts before and after), alerts by level.
        things = _ok(client.get("/api/v1/things"))
        online_after = _online_devices(client)
        shown = int(_text(page, "#devices-online"))
        assert online_after <= shown <= online_before
        assert shown >= 8  # the seeded devices report on time
        assert str(len(things)) in _text(page, "#devices-total")
        assert page.locator("#devices tbody tr").count() == len(things)
        assert re.fullmatch(r"\d+(\.\d)?", _text(page, "[data-tile=traffic] .tile-number"))
        assert _text(page, "[data-tile=water] .tile-number").endswith("%")
        for chart in ("aqi", "traffic", "water", "noise"):
            assert page.locator(f"#chart-{chart} canvas").count() == 1

        def counts() -> dict[str, int]:
            return {
                level: int(_text(page, f".level-count[data-level={level}] .level-number"))
                for level in LEVELS
            }

        summary = _ok(client.get("/api/v1/alerts/summary"))["open_by_level"]
        assert counts() == summary
        assert summary["I"] == 0
        assert page.locator("#alert-list li[data-alert]").count() >= 3

        # A new alert (level I) raised through the API arrives by the live feed.
        reading = {
            "datastream": "MT-MH-1/manhole_water_level",
            "time": _iso(datetime.now(UTC)),
            "value": 0.8,
        }
        _send(client, [reading])
        raised = _ok(client.get("/api/v1/alerts", params={"rule": "mt-manhole"}))
        assert len(raised) == 1
        page.wait_for_selector(f"#alert-list li[data-alert='{raised[0]['id']}']", timeout=5_000)
        _until(page, lambda: counts() == _ok(client.get("/api/v1/alerts/summary"))["open_by_level"])
        assert counts()["I"] == 1

        # English after switching.
        page.click("nav a.lang")
        page.wait_for_selector("#monitor[data-state=ready]", timeout=WAIT_MS)
        assert _text(page, "h1") == "Monitoring overview"
        assert page.get_attribute("html", "lang") == "en"
        page.goto(f"{server.base_url}/monitor?lang=zh-CN")
        page.wait_for_selector("#monitor[data-state=ready]", timeout=WAIT_MS)
    watched.close(server)


@pytest.mark.slow
def test_a_device_page_draws_a_chart_per_datastream(browser: Any, seeded: Seeded) -> None:
    server = seeded.server
    watched = Watched(browser, server, "admin")
    page = watched.page
    page.goto(f"{server.base_url}/devices/MT-AQ-2")
    page.wait_for_selector("#device[data-state=ready]", timeout=WAIT_MS)
    assert "监测测试空气站2" in _text(page, "h1")
    assert _attribute(page, "#device", "data-online") == "true"
    card = "#streams [data-stream='MT-AQ-2/pm25']"
    assert _text(page, f"{card} .stream-value") == "100"
    assert _text(page, f"{card} .stream-unit") == "µg/m³"
    assert "在线" in _text(page, f"{card} .state")
    assert page.locator("#streams section.stream").count() == 6
    assert page.locator("#streams section.stream canvas").count() == 6
    read = """(id) => echarts.getInstanceByDom(document.getElementById(id)).getOption()
      .series.map((s) => s.data.filter((p) => p[1] !== null).length)"""
    chart = str(page.get_attribute(f"{card} .chart", "id"))
    assert page.evaluate(read, chart)[2] >= 1  # the hourly means
    page.click(".range button[data-range='7d']")
    _until(page, lambda: _attribute(page, "#device", "data-range") == "7d")
    page.wait_for_selector("#device[data-state=ready]", timeout=WAIT_MS)
    assert _attribute(page, ".range button[data-range='7d']", "aria-pressed") == "true"
    assert page.evaluate(read, chart)[2] >= 1
    assert watched.problems == []
    page.goto(f"{server.base_url}/devices/NO-SUCH-DEVICE")
    page.wait_for_selector("#device[data-state=failed]", timeout=WAIT_MS)
    assert "NO-SUCH-DEVICE" in _text(page, "#device-message")
    watched.problems.clear()  # the 404 of the unknown device is logged by the browser
    watched.close(server)


@pytest.mark.slow
def test_the_alert_queue_acknowledges_resolves_and_links_cases(
    browser: Any, seeded: Seeded
) -> None:
    server = seeded.server
    watched = Watched(browser, server, "admin")
    page = watched.page
    nh3n, noise, pm25 = (seeded.alerts[k] for k in ("mt-nh3n", "mt-noise", "mt-pm25"))
    with _client(server) as client:
        page.goto(f"{server.base_url}/alerts")
        page.wait_for_selector("#alerts[data-state=ready]", timeout=WAIT_MS)
        assert _text(page, "h1") == "告警队列"
        row = f"#alert-table tr[data-alert='{nh3n}']"
        assert _text(page, f"{row} .level") == "三级 · 黄色"
        assert _style(page, f"{row} .level-dot", "background-color") == _rgb("#FFFF00")
        assert _text(page, f"#alert-table tr[data-alert='{pm25}'] .level") == "二级 · 橙色"
        link = page.locator(f"#alert-table tr[data-alert='{pm25}'] a[href^='/cases/']")
        assert link.get_attribute("href") == f"/cases/{seeded.case_number}"

        # Acknowledge (确认): the row and the API say so; the button is gone.
        assert _attribute(page, row, "data-status") == "raised"
        page.click(f"{row} button[data-action=acknowledge]")
        _until(page, lambda: _attribute(page, row, "data-status") == "acknowledged")
        assert "已确认" in _text(page, f"{row} td.status")
        assert page.locator(f"{row} button[data-action=acknowledge]").count() == 0
        assert _ok(client.get(f"/api/v1/alerts/{nh3n}"))["status"] == "acknowledged"

        # Filters (kept in the address): all statuses of level IV; resolve (解除) it there.
        page.select_option("#filter-status", "all")
        page.wait_for_selector("#alerts[data-state=ready]", timeout=WAIT_MS)
        page.select_option("#filter-level", "IV")
        _until(page, lambda: "level=IV" in page.url)
        page.wait_for_selector("#alerts[data-state=ready]", timeout=WAIT_MS)
        levels = page.eval_on_selector_all(
            "#alert-table tr[data-alert]", "rows => rows.map(r => r.dataset.level)"
        )
        assert levels == ["IV"]
        row = f"#alert-table tr[data-alert='{noise}']"
        page.click(f"{row} button[data-action=resolve]")
        _until(page, lambda: _attribute(page, row, "data-status") == "resolved")
        assert page.locator(f"{row} button").count() == 0
        assert _ok(client.get(f"/api/v1/alerts/{noise}"))["status"] == "resolved"
        summary = _ok(client.get("/api/v1/alerts/summary"))["open_by_level"]
        shown = str(summary["IV"])
        _until(page, lambda: _text(page, ".level-count[data-level=IV] .level-number") == shown)

        # English.
        page.goto(f"{server.base_url}/alerts?status=open&lang=en")
        page.wait_for_selector("#alerts[data-state=ready]", timeout=WAIT_MS)
        assert _text(page, "h1") == "Alert queue"
        assert _text(page, f"#alert-table tr[data-alert='{pm25}'] .level") == "Level II · orange"
        button = f"#alert-table tr[data-alert='{pm25}'] button[data-action=acknowledge]"
        assert _text(page, button) == "Acknowledge"
        page.goto(f"{server.base_url}/alerts?lang=zh-CN")
    watched.close(server)

    # A viewer (alerts:read without alerts:manage) sees the queue and no buttons.
    watched = Watched(browser, server, "viewer")
    page = watched.page
    page.goto(f"{server.base_url}/alerts")
    page.wait_for_selector("#alerts[data-state=ready]", timeout=WAIT_MS)
    assert page.locator(f"#alert-table tr[data-alert='{pm25}']").count() == 1
    assert page.locator("#alert-table button").count() == 0
    assert page.locator("#alert-table th").count() == 8  # no actions column
    page.goto(f"{server.base_url}/monitor")
    page.wait_for_selector("#monitor[data-state=ready][data-alerts=ready]", timeout=WAIT_MS)
    watched.close(server)


@pytest.mark.slow
def test_the_monitoring_pages_with_data_pass_wcag_aa_rules(browser: Any, seeded: Seeded) -> None:
    """The audit of test_accessibility_browser.py, on pages with alerts, buttons and case links."""
    from tests.e2e.test_accessibility_browser import _violations

    server = seeded.server
    context = browser.new_context(viewport={"width": 1440, "height": 900}, bypass_csp=True)
    page = context.new_page()
    page.goto(f"{server.base_url}/login")
    page.fill("#username", "commander")  # alerts:manage and events:read
    page.fill("#password", server.password("commander"))
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.base_url}/")
    ready = {
        "/monitor": "#monitor[data-state=ready][data-map=ready][data-alerts=ready]",
        "/devices/MT-AQ-1": "#device[data-state=ready]",
        "/alerts?status=all": "#alerts[data-state=ready]",
        "/alerts?lang=en": "#alerts[data-state=ready]",
    }
    found: dict[str, list[str]] = {}
    for path, selector in ready.items():
        page.goto(f"{server.base_url}{path}")
        page.wait_for_selector(selector, timeout=WAIT_MS)
        page.wait_for_timeout(300)
        found[path] = _violations(page)
    page.goto(f"{server.base_url}/monitor?lang=zh-CN")
    page.wait_for_selector("#monitor[data-state=ready]", timeout=WAIT_MS)
    page.select_option("#group-by", "street")
    page.wait_for_selector("#monitor[data-group=street][data-map=ready]", timeout=WAIT_MS)
    found["/monitor (by street)"] = _violations(page)
    context.close()
    assert found == {path: [] for path in found}
