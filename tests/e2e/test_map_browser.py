"""The home page map: in a real browser (headless Chromium against a real ``cityops serve``).

The browser test signs in through the login form, waits for Leaflet to draw the demo district's
grids, clicks the map to locate a point, and checks that the page asked nothing of any other
origin. The quick tests before it check the one outside origin a deployment may allow: its own
map tile server (CITYOPS_MAP_TILE_URL), in the settings, the CSP and the page.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cityops.auth.model import Principal, RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.auth.secrets import PasswordHasher
from cityops.bootstrap import bootstrap
from cityops.kernel.clock import FrozenClock
from cityops.settings import Settings, SettingsError, load_settings, tile_origin
from cityops.web.app import create_app
from tests.conftest import PASSWORD, TEST_SECRET
from tests.e2e.conftest import Server

DRAW_MS = 20_000
TILES = "https://tiles.example.gov.cn/{z}/{x}/{y}.png"


# -- the tile server: settings, CSP, page ----------------------------------------------------


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        (TILES, "https://tiles.example.gov.cn"),
        ("https://TILES.Example.gov.cn:443/{z}/{x}/{y}.png", "https://tiles.example.gov.cn"),
        ("http://10.1.2.3:8080/wmts/{z}/{x}/{y}.png?layer=base", "http://10.1.2.3:8080"),
        ("https://[fd00::5]:8443/{z}/{x}/{y}.png", "https://[fd00::5]:8443"),
        ("ftp://tiles.example.gov.cn/{z}/{x}/{y}.png", None),
        ("https://user:pw@tiles.example.gov.cn/{z}/{x}/{y}.png", None),
        ("https://tiles_example/{z}/{x}/{y}.png", None),
        ("https://tiles.example.gov.cn:99999/{z}/{x}/{y}.png", None),
        ("//tiles.example.gov.cn/{z}/{x}/{y}.png", None),
    ],
)
def test_tile_origin(url: str, origin: str | None) -> None:
    assert tile_origin(url) == origin


def test_tile_url_defaults_to_none_and_may_be_a_path_on_this_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("CITYOPS_MAP_TILE_URL", raising=False)
    assert Settings(mode="dev").map_tile_url is None
    assert Settings(mode="dev", map_tile_url="  ").map_tile_url is None
    local = Settings(mode="dev", map_tile_url="/tiles/{z}/{x}/{y}.png")
    assert local.map_tile_url == "/tiles/{z}/{x}/{y}.png"
    assert local.map_tile_origin is None
    assert (
        Settings(mode="dev", map_tile_url=TILES).map_tile_origin == "https://tiles.example.gov.cn"
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://tiles.example.gov.cn/tiles.png",  # no {z}/{x}/{y}
        "https://{s}.tiles.example.gov.cn/{z}/{x}/{y}.png",  # several hosts
        "https://tiles.example.gov.cn/{z}/{x}/{y}.png; script-src *",  # CSP injection
        "https://tiles.example.gov.cn/{z}/{x}/{y}.png' 'unsafe-inline",
        "javascript:alert(1)//{z}/{x}/{y}",
        "//tiles.example.gov.cn/{z}/{x}/{y}.png",
        "tiles/{z}/{x}/{y}.png",
    ],
)
def test_bad_tile_urls_are_refused_naming_the_setting(url: str) -> None:
    with pytest.raises(SettingsError, match="CITYOPS_MAP_TILE_URL"):
        load_settings(mode="dev", map_tile_url=url)


def _csp(response: Any) -> dict[str, str]:
    policy = response.headers["Content-Security-Policy"]
    return {d.split()[0]: d.strip() for d in policy.split(";") if d.strip()}


@contextmanager
def _app_client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings)
    try:
        yield TestClient(app)
    finally:
        app.state.services.close()


def test_without_a_tile_server_images_come_only_from_this_server(tmp_path: Path) -> None:
    settings = Settings(
        mode="dev",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        data_dir=tmp_path / "var",
        map_tile_url=None,
    )
    with _app_client(settings) as client:
        directives = _csp(client.get("/healthz"))
        assert directives["img-src"] == "img-src 'self' data:"
        assert directives["connect-src"] == "connect-src 'self'"


def test_the_tile_server_origin_is_allowed_for_images_and_nothing_else(tmp_path: Path) -> None:
    settings = Settings(
        mode="dev",
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
        data_dir=tmp_path / "var",
        map_tile_url=TILES,
    )
    with _app_client(settings) as client:
        directives = _csp(client.get("/healthz"))
        assert directives["img-src"] == "img-src 'self' data: https://tiles.example.gov.cn"
        others = [d for name, d in directives.items() if name != "img-src"]
        assert not any("tiles.example" in d for d in others), others
        assert directives["default-src"] == "default-src 'self'"
        assert directives["script-src"] == "script-src 'self'"
        assert directives["connect-src"] == "connect-src 'self'"


@pytest.fixture
def tiled_client(
    sqlite_template: Path, tmp_path: Path, clock: FrozenClock, hasher: PasswordHasher
) -> Iterator[TestClient]:
    """The app on a fresh SQLite store, with a tile server and an attribution with markup."""
    store = tmp_path / "tiles.db"
    shutil.copy(sqlite_template, store)
    settings = Settings(
        mode="dev",
        database_url=f"sqlite:///{store}",
        data_dir=tmp_path / "var",
        secret_key=TEST_SECRET,  # type: ignore[arg-type]
        map_tile_url=TILES,
        map_tile_attribution="© 某市测绘院 <b>",
    )
    services = bootstrap(settings, clock=clock, hasher=hasher)
    services.accounts.create_user(
        Principal.system("test"),
        username="wang.xm",
        password=PASSWORD,
        grants=[RoleGrant(Role.ADMIN, Scope.city())],
    )
    try:
        with TestClient(create_app(services=services)) as client:
            yield client
    finally:
        services.close()


def test_the_home_page_hands_the_map_its_settings_and_same_origin_assets(
    tiled_client: TestClient,
) -> None:
    page = tiled_client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
    assert token is not None
    tiled_client.post(
        "/login",
        data={"username": "wang.xm", "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    home = tiled_client.get("/")
    assert home.status_code == 200
    html = home.text
    assert 'id="map"' in html
    assert re.search(r'<div id="map"[^>]*aria-label="[^"]+"', html)
    assert f'data-tile-url="{TILES}"' in html
    assert 'data-tile-attribution="© 某市测绘院 &lt;b&gt;"' in html
    assert "<script>" not in html  # no inline script: the CSP would refuse it
    for asset in (
        "/static/vendor/leaflet/leaflet.js",
        "/static/vendor/leaflet/leaflet.css",
        "/static/map.js",
    ):
        assert asset in html
        assert tiled_client.get(asset).status_code == 200, asset
    directives = _csp(home)
    assert directives["img-src"] == "img-src 'self' data: https://tiles.example.gov.cn"


# -- in the browser ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_home_map_draws_grids_and_locates_a_click_without_leaving_the_origin(
    browser: Any, server: Server
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    requested: list[str] = []
    problems: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def on_console(message: Any) -> None:
        if message.type == "error":  # CSP violations are reported here
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    try:
        # Sign in through the real form (CSRF token, HttpOnly session cookie).
        page.goto(f"{server.base_url}/login")
        page.fill("#username", "admin")
        page.fill("#password", server.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{server.base_url}/")

        map_element = page.locator("#map")
        assert map_element.get_attribute("aria-label")
        page.wait_for_selector("#map[data-state=ready]", timeout=DRAW_MS)
        assert page.locator(".leaflet-district-pane path").count() >= 1
        assert page.locator(".leaflet-community-pane path").count() > 10
        legend = page.locator(".leaflet-control-layers").inner_text()
        assert "单元网格" in legend
        assert "社区" in legend

        # The whole district fits at a zoom below 15: communities, no grids yet.
        assert page.locator(".leaflet-grid-pane path").count() == 0
        for _ in range(4):
            if page.locator(".leaflet-grid-pane path").count():
                break
            page.click(".leaflet-control-zoom-in")
            page.wait_for_timeout(800)
        page.wait_for_function(
            "document.querySelectorAll('.leaflet-grid-pane path').length > 0", timeout=DRAW_MS
        )
        assert page.locator(".leaflet-grid-pane path").count() > 0
        assert "单元网格" in (page.text_content("#map-status") or "")

        # A click in the middle of the district names its grid, community, street and district.
        box = map_element.bounding_box()
        assert box is not None
        assert box["height"] >= 480
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("#map-locate[data-state=done]", timeout=DRAW_MS)
        located = page.text_content("#map-locate") or ""
        grid = page.get_attribute("#map-locate", "data-grid") or ""
        assert re.fullmatch(r"[0-9A-Z]{15}", grid), located
        assert grid in located
        assert "黄浦区" in located
        popup = page.locator(".leaflet-popup-content").inner_text()
        assert grid in popup
    finally:
        context.close()

    assert requested, "the browser made no requests at all?"
    outside = [url for url in requested if not url.startswith(f"{server.base_url}/")]
    assert outside == [], f"requests left {server.base_url}: {outside}"
    assert any("/api/v1/geo/divisions?" in url and "level=grid" in url for url in requested)
    assert any("bbox=" in url for url in requested)
    assert any("/api/v1/geo/locate?" in url for url in requested)
    assert problems == []
