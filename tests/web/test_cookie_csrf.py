"""The browser flow: the HTML sign-in form, the session cookie, CSRF protection and i18n."""

from __future__ import annotations

import re

import pytest

from cityops.auth.model import RoleGrant
from cityops.auth.permissions import Role
from cityops.auth.scopes import Scope
from cityops.web.security import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import PASSWORD

CSRF_INPUT = re.compile(r'<input type="hidden" name="csrf_token" value="([0-9a-f]{64})">')
PROBLEM_JSON = "application/problem+json"


def csrf_token_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match is not None, "the page has no hidden csrf_token field"
    return match.group(1)


def set_cookie_headers(response, name: str) -> list[str]:
    return [
        value
        for value in response.headers.get_list("set-cookie")
        if value.split("=", 1)[0].strip() == name
    ]


def cookie_attributes(header: str) -> dict[str, str]:
    parts = [p.strip() for p in header.split(";")]
    attributes = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        attributes[key.lower()] = value
    return attributes


@pytest.fixture
def wang(services, system):
    """An admin with a Chinese display name."""
    services.accounts.create_user(
        system,
        username="wang.xm",
        password=PASSWORD,
        display_name="王小明",
        grants=[RoleGrant(Role.ADMIN, Scope.city())],
    )
    return "wang.xm"


def open_login_page(client) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    return csrf_token_of(page.text)


def sign_in(client, username: str, password: str = PASSWORD):
    token = open_login_page(client)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    return response, token


def test_login_page_sets_the_csrf_cookie_and_a_hidden_token(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    [cookie] = set_cookie_headers(page, CSRF_COOKIE)
    attributes = cookie_attributes(cookie)
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "strict"
    assert client.cookies.get(CSRF_COOKIE)
    token = csrf_token_of(page.text)
    # The token is not the cookie's nonce itself: it is derived from it with the secret.
    assert token != client.cookies.get(CSRF_COOKIE)


def test_login_page_keeps_an_existing_csrf_cookie(client):
    first = open_login_page(client)
    again = client.get("/login")
    assert set_cookie_headers(again, CSRF_COOKIE) == []
    assert csrf_token_of(again.text) == first


def test_form_login_sets_a_httponly_lax_session_cookie_and_redirects_home(client, wang):
    response, _ = sign_in(client, wang)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    [cookie] = set_cookie_headers(response, SESSION_COOKIE)
    attributes = cookie_attributes(cookie)
    assert "httponly" in attributes
    assert attributes["samesite"].lower() == "lax"
    assert attributes["path"] == "/"
    assert int(attributes["max-age"]) == 12 * 3600
    # dev mode: no Secure flag, so that http://localhost works.
    assert "secure" not in attributes
    assert client.cookies.get(SESSION_COOKIE)


def test_home_page_shows_name_and_role_in_chinese_by_default(client, wang):
    sign_in(client, wang)
    home = client.get("/")
    assert home.status_code == 200
    assert '<html lang="zh-CN">' in home.text
    assert "王小明" in home.text
    assert "系统管理员" in home.text
    assert "全市" in home.text
    assert "Administrator" not in home.text


def test_lang_en_switches_to_english_and_is_remembered_in_a_cookie(client, wang):
    sign_in(client, wang)
    home = client.get("/", params={"lang": "en"})
    assert home.status_code == 200
    assert '<html lang="en">' in home.text
    assert "Welcome, 王小明" in home.text
    assert "Administrator" in home.text
    assert "系统管理员" not in home.text
    [cookie] = set_cookie_headers(home, "cityops_lang")
    assert cookie.startswith("cityops_lang=en")
    # The cookie keeps English without the query parameter.
    again = client.get("/")
    assert "Administrator" in again.text
    # And ?lang=zh-CN switches back.
    back = client.get("/", params={"lang": "zh-CN"})
    assert "系统管理员" in back.text


def test_unknown_lang_falls_back_to_chinese_and_sets_no_cookie(client, wang):
    sign_in(client, wang)
    home = client.get("/", params={"lang": "xx"})
    assert home.status_code == 200
    assert "系统管理员" in home.text
    assert set_cookie_headers(home, "cityops_lang") == []


def test_form_login_without_csrf_token_is_403_and_sets_no_session(client, wang):
    open_login_page(client)
    response = client.post(
        "/login", data={"username": wang, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert set_cookie_headers(response, SESSION_COOKIE) == []
    assert client.cookies.get(SESSION_COOKIE) is None
    assert "页面已过期" in response.text


def test_form_login_with_a_wrong_csrf_token_is_403_and_sets_no_session(client, wang):
    token = open_login_page(client)
    wrong = ("0" if token[0] != "0" else "1") + token[1:]
    response = client.post(
        "/login",
        data={"username": wang, "password": PASSWORD, "csrf_token": wrong},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert set_cookie_headers(response, SESSION_COOKIE) == []


def test_form_login_without_the_csrf_cookie_is_403(client, wang):
    token = open_login_page(client)
    client.cookies.delete(CSRF_COOKIE)
    response = client.post(
        "/login",
        data={"username": wang, "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert set_cookie_headers(response, SESSION_COOKIE) == []


def test_form_login_with_a_wrong_password_is_401_and_sets_no_session(client, wang):
    response, _ = sign_in(client, wang, "not-the-password")
    assert response.status_code == 401
    assert set_cookie_headers(response, SESSION_COOKIE) == []
    assert "用户名或密码错误" in response.text


def test_cookie_json_post_needs_the_csrf_header(client, wang):
    _, token = sign_in(client, wang)
    body = {"code": "SZ", "name": "市政管理处"}

    refused = client.post("/api/v1/departments", json=body)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith(PROBLEM_JSON)

    wrong = client.post("/api/v1/departments", json=body, headers={"X-CSRF-Token": "0" * 64})
    assert wrong.status_code == 403

    # Nothing was created by the refused calls.
    assert client.get("/api/v1/departments").json() == []

    created = client.post("/api/v1/departments", json=body, headers={"X-CSRF-Token": token})
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "SZ"


def test_cookie_get_needs_no_csrf_header(client, wang):
    sign_in(client, wang)
    me = client.get("/api/v1/auth/me")
    assert me.status_code == 200
    assert me.json()["name"] == wang


def test_logout_with_csrf_token_ends_the_session(client, wang):
    _, token = sign_in(client, wang)
    session = client.cookies.get(SESSION_COOKIE)
    assert session
    response = client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    [cleared] = set_cookie_headers(response, SESSION_COOKIE)
    assert "max-age=0" in cleared.lower() or "expires=" in cleared.lower()

    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303
    # The session is ended on the server too, not only forgotten by the browser.
    client.cookies.set(SESSION_COOKIE, session)
    assert client.get("/api/v1/auth/me").status_code == 401


def test_logout_without_csrf_token_is_refused_and_keeps_the_session(client, wang):
    sign_in(client, wang)
    response = client.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/api/v1/auth/me").status_code == 200


def test_anonymous_home_redirects_to_login(client):
    response = client.get("/", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    english = client.get("/", params={"lang": "en"}, follow_redirects=False)
    assert english.status_code == 303
    assert english.headers["location"] == "/login?lang=en"
