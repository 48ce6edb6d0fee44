"""Health checks, the API docs, the offline promise (no outside URLs) and the common headers."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from cityops.auth.permissions import Role
from cityops.bootstrap import bootstrap
from cityops.settings import Settings
from cityops.web.app import create_app
from tests.conftest import PASSWORD

STATIC = Path(str(resources.files("cityops.web").joinpath("static")))
PROBLEM_JSON = "application/problem+json"


class LinkCollector(HTMLParser):
    """Collects every URL-bearing attribute of an HTML page."""

    URL_ATTRIBUTES = frozenset({"src", "href", "action", "formaction", "poster", "data"})

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in self.URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name == "srcset" and value is not None:
                for candidate in value.split(","):
                    self.urls.append((tag, name, candidate.strip().split(" ")[0]))


def links_of(html: str) -> list[tuple[str, str, str]]:
    collector = LinkCollector()
    collector.feed(html)
    collector.close()
    return collector.urls


def is_same_origin_path(url: str) -> bool:
    """A path on this server, a query or fragment of this page, or inline data (loads nothing)."""
    if url.startswith("//"):
        return False
    return url.startswith(("/", "?", "#")) or url.startswith("data:")


# -- health ------------------------------------------------------------------------------------


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {}}


def test_readyz_when_migrated(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok", "checks": {"store": "ok", "migrations": "ok"}}


def _unready_client(tmp_path: Path, database_url: str) -> tuple[TestClient, object]:
    services = bootstrap(
        Settings(
            mode="dev",
            database_url=database_url,
            data_dir=tmp_path / "var",
            secret_key="x" * 40,  # type: ignore[arg-type]
        )
    )
    return TestClient(create_app(services=services)), services


def test_readyz_is_503_when_the_store_is_not_migrated(tmp_path):
    client, services = _unready_client(tmp_path, f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with client:
            response = client.get("/readyz")
            assert response.status_code == 503, response.text
            body = response.json()
            assert body["status"] == "unavailable"
            assert body["checks"]["store"] == "ok"
            assert body["checks"]["migrations"] != "ok"
            assert "head" in body["checks"]["migrations"]
            # Liveness does not depend on the store.
            assert client.get("/healthz").status_code == 200
    finally:
        services.close()


def test_readyz_is_503_when_the_store_is_unreachable(tmp_path):
    # Nothing listens on port 1: the connection is refused at once.
    url = "postgresql+psycopg://cityops@127.0.0.1:1/cityops?connect_timeout=2"
    client, services = _unready_client(tmp_path, url)
    try:
        with client:
            response = client.get("/readyz")
            assert response.status_code == 503, response.text
            assert response.json()["status"] == "unavailable"
            assert response.json()["checks"]["store"] != "ok"
    finally:
        services.close()


# -- OpenAPI and docs --------------------------------------------------------------------------


def test_openapi_json_describes_our_api(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    spec = json.loads(response.text)
    assert spec["openapi"].startswith("3.")
    assert spec["info"]["title"] == "cityops API"
    paths = spec["paths"]
    for path in (
        "/api/v1/auth/login",
        "/api/v1/auth/me",
        "/api/v1/users",
        "/api/v1/users/{username}",
        "/api/v1/departments",
        "/api/v1/apikeys",
        "/api/v1/audit",
        "/api/v1/events",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    assert "post" in paths["/api/v1/users"]
    # Server-rendered pages are not part of the API description.
    assert "/login" not in paths
    assert "/" not in paths


def test_docs_page_serves_the_vendored_swagger_ui(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="swagger-ui"' in response.text
    assert 'data-spec-url="/openapi.json"' in response.text
    scripts = [url for tag, _, url in links_of(response.text) if tag == "script"]
    assert any(url.endswith("/static/vendor/swagger-ui/swagger-ui-bundle.js") for url in scripts)
    assert any(url.endswith("/static/docs.js") for url in scripts)
    for _, _, url in links_of(response.text):
        assert client.get(url).status_code == 200, url


def test_static_files_are_served(client):
    css = client.get("/static/app.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/static/docs.js").status_code == 200
    assert client.get("/static/nope.js").status_code == 404


# -- offline: no outside URLs ------------------------------------------------------------------


def signed_in_home(client, services, system) -> str:
    from cityops.auth.model import RoleGrant
    from cityops.auth.scopes import Scope

    services.accounts.create_user(
        system, username="wang.xm", password=PASSWORD, grants=[RoleGrant(Role.ADMIN, Scope.city())]
    )
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text).group(1)
    client.post(
        "/login",
        data={"username": "wang.xm", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    home = client.get("/")
    assert home.status_code == 200
    assert "wang.xm" in home.text
    return home.text


@pytest.mark.parametrize("page", ["/login", "/", "/docs", "/login?lang=en"])
def test_pages_link_only_to_same_origin_paths(client, services, system, page):
    if page == "/":
        html = signed_in_home(client, services, system)
    else:
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
    urls = links_of(html)
    assert urls, "the page has no links at all?"
    outside = [f"<{tag} {name}={url!r}>" for tag, name, url in urls if not is_same_origin_path(url)]
    assert outside == [], f"{page} links outside a same-origin path: {outside}"


def test_pages_do_not_follow_a_forged_host_header(client):
    response = client.get("/login", headers={"Host": "evil.example"})
    assert response.status_code == 200
    assert "evil.example" not in response.text


def _static_files(suffixes: tuple[str, ...]) -> list[Path]:
    return sorted(
        path
        for path in STATIC.rglob("*")
        if path.is_file()
        and path.suffix in suffixes
        and not (path.parent.parent.name == "vendor" and path.name.startswith("LICENSE"))
    )


def test_there_are_static_files_to_check():
    names = {p.name for p in _static_files((".css", ".js"))}
    assert {"app.css", "docs.js", "swagger-ui.css", "swagger-ui-bundle.js"} <= names


CSS_URL = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.DOTALL)
CSS_IMPORT = re.compile(r"@import\s+(?:url\()?\s*['\"]?([^'\")\s;]+)")


@pytest.mark.parametrize("path", _static_files((".css",)), ids=lambda p: p.name)
def test_stylesheets_load_nothing_from_outside(path):
    text = path.read_text(encoding="utf-8")
    loaded = [m.group(2) for m in CSS_URL.finditer(text)] + CSS_IMPORT.findall(text)
    outside = [
        url[:80]
        for url in loaded
        if not (url.startswith("data:") or (not re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I)))
        or url.startswith("//")
    ]
    assert outside == [], f"{path.name} loads {outside}"
    if "vendor" not in path.parts:
        assert "http://" not in text
        assert "https://" not in text


@pytest.mark.parametrize(
    "path", [p for p in _static_files((".js",)) if "vendor" not in p.parts], ids=lambda p: p.name
)
def test_our_scripts_contain_no_outside_urls(path):
    text = path.read_text(encoding="utf-8")
    assert "http://" not in text
    assert "https://" not in text
    assert not re.search(r"['\"]//[a-z0-9]", text, re.I)


def test_swagger_ui_is_configured_not_to_call_the_online_validator():
    text = (STATIC / "docs.js").read_text(encoding="utf-8")
    assert re.search(r"\bvalidatorUrl\s*:\s*null\b", text)
    assert re.search(r"\burl\s*:\s*holder\.dataset\.specUrl\b", text)


def test_vendored_swagger_ui_carries_its_license():
    folder = STATIC / "vendor" / "swagger-ui"
    license_text = (folder / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    assert (folder / "swagger-ui-bundle.js").stat().st_size > 100_000
    assert (folder / "swagger-ui.css").is_file()


@pytest.mark.parametrize(
    "folder", sorted(p for p in (STATIC / "vendor").iterdir() if p.is_dir()), ids=lambda p: p.name
)
def test_every_vendored_library_carries_its_license_and_says_its_version(folder):
    assert (folder / "LICENSE").read_text(encoding="utf-8").strip()
    version = (folder / "VERSION").read_text(encoding="utf-8")
    assert re.match(r"[a-z-]+ \d+\.\d+\.\d+ ", version), version


# -- common headers ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/healthz", "/login", "/docs", "/api/v1/auth/me", "/nope"])
def test_responses_carry_csp_and_a_request_id(client, path):
    response = client.get(path, follow_redirects=False)
    csp = response.headers["Content-Security-Policy"]
    directives = {d.strip().split(" ")[0]: d.strip() for d in csp.split(";") if d.strip()}
    assert directives["default-src"] == "default-src 'self'"
    assert "'unsafe-eval'" not in csp
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", response.headers["X-Request-ID"])


def test_each_request_gets_its_own_request_id(client):
    first = client.get("/healthz").headers["X-Request-ID"]
    second = client.get("/healthz").headers["X-Request-ID"]
    assert first != second


def test_a_well_formed_client_request_id_is_echoed(client):
    response = client.get("/healthz", headers={"X-Request-ID": "trace-42.abc_DEF"})
    assert response.headers["X-Request-ID"] == "trace-42.abc_DEF"
    problem = client.get("/api/v1/auth/me", headers={"X-Request-ID": "trace-43"})
    assert problem.headers["X-Request-ID"] == "trace-43"
    assert problem.json()["request_id"] == "trace-43"


@pytest.mark.parametrize(
    "offered", ["has space", "x" * 65, "semi;colon", "new\\nline", "<script>", "ünïcode"]
)
def test_a_malformed_client_request_id_is_replaced(client, offered):
    response = client.get("/healthz", headers={"X-Request-ID": offered.encode("utf-8")})
    request_id = response.headers["X-Request-ID"]
    assert request_id != offered
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", request_id)


def test_the_request_id_reaches_the_audit_log(client, make_user):
    admin = make_user("root", Role.ADMIN)
    response = client.post(
        "/api/v1/auth/login",
        json={"username": admin.username, "password": admin.password},
        headers={"X-Request-ID": "login-trace-1"},
    )
    token = response.json()["access_token"]
    audit = client.get(
        "/api/v1/audit",
        params={"action": "auth.login"},
        headers={"Authorization": f"Bearer {token}"},
    ).json()["items"]
    assert audit[0]["request_id"] == "login-trace-1"


@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/v1/users/x/nope", "/api"])
def test_unknown_api_path_is_404_problem_json(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["status"] == 404
    assert body["title"] == "Not found"
    assert body["request_id"] == response.headers["X-Request-ID"]


def test_wrong_method_is_405_problem_json(client):
    response = client.delete("/api/v1/auth/me")
    assert response.status_code == 405
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "GET" in response.headers["Allow"]


def test_an_unexpected_error_is_a_500_problem_with_the_request_id(services):
    app = create_app(services=services)

    def boom() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    app.add_api_route("/api/v1/boom", boom, methods=["GET"])
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/api/v1/boom", headers={"X-Request-ID": "trace-500"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert "hunter2" not in response.text
    body = response.json()
    assert body["title"] == "Internal error"
    assert body["status"] == 500
    # The detail promises that "the request id helps find why": it must be there to quote.
    assert response.headers.get("X-Request-ID") == "trace-500"
    assert body.get("request_id") == "trace-500"
    assert "default-src 'self'" in response.headers.get("Content-Security-Policy", "")
