"""Unit tests of the typed settings: secrets in production, clear errors, masking, docs."""

from __future__ import annotations

import json
import os
import re
import string
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from cityops.settings import (
    KNOWN_WEAK_SECRETS,
    MIN_SECRET_LENGTH,
    Settings,
    SettingsError,
    load_settings,
    mask_url_password,
)

STRONG = "k3Q9vX2mZ7pL5tR8wB1nC4yH6jF0dGsA-strong"
SETTINGS_DOC = Path(__file__).parents[2] / "docs" / "settings.md"

# The autouse fixture below only isolates the environment; it need not run per example.
isolated = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=60)


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No CITYOPS_* variable from the outside, and no real .env file in the working directory."""
    for name in list(os.environ):
        if name.startswith("CITYOPS_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def not_weak(secret: str) -> bool:
    return secret.strip().lower() not in KNOWN_WEAK_SECRETS


# --- the secret in production ---------------------------------------------------------------


def test_production_is_the_default_mode() -> None:
    assert Settings(secret_key=STRONG).mode == "production"  # type: ignore[arg-type]


def test_production_refuses_a_missing_secret() -> None:
    with pytest.raises(ValidationError, match="CITYOPS_SECRET_KEY"):
        Settings(mode="production")


@pytest.mark.parametrize("secret", sorted(KNOWN_WEAK_SECRETS))
def test_production_refuses_known_weak_secrets(secret: str) -> None:
    with pytest.raises(ValidationError, match="CITYOPS_SECRET_KEY"):
        Settings(mode="production", secret_key=secret)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "secret",
    [
        "change-me" + " " * 40,
        " " * 20 + "Change-Me" + " " * 20,
        "SECRET" + "\t" * 30,
        " " * 40,
        "\n" * 32,
    ],
    ids=["padded-change-me", "centered-change-me", "tab-padded-secret", "spaces", "newlines"],
)
def test_production_refuses_weak_secrets_padded_to_length(secret: str) -> None:
    assert len(secret) >= MIN_SECRET_LENGTH
    with pytest.raises(ValidationError, match="CITYOPS_SECRET_KEY"):
        Settings(mode="production", secret_key=secret)  # type: ignore[arg-type]


def test_production_refuses_31_characters_and_accepts_32() -> None:
    assert MIN_SECRET_LENGTH == 32
    with pytest.raises(ValidationError):
        Settings(mode="production", secret_key="x" * 31)  # type: ignore[arg-type]
    accepted = Settings(mode="production", secret_key="x" * 32)  # type: ignore[arg-type]
    assert accepted.secret_key is not None
    assert accepted.secret_key.get_secret_value() == "x" * 32


@isolated
@given(st.text(max_size=MIN_SECRET_LENGTH - 1))
def test_production_refuses_every_short_secret(secret: str) -> None:
    with pytest.raises(ValidationError):
        Settings(mode="production", secret_key=secret)  # type: ignore[arg-type]


@isolated
@given(st.text(min_size=MIN_SECRET_LENGTH, max_size=80).filter(not_weak))
def test_production_accepts_every_long_unknown_secret(secret: str) -> None:
    loaded = Settings(mode="production", secret_key=secret)  # type: ignore[arg-type]
    assert loaded.secret_key is not None
    assert loaded.secret_key.get_secret_value() == secret


@pytest.mark.parametrize("mode", ["dev", "demo"])
@pytest.mark.parametrize("secret", [None, "", "dev", "demo", "short"])
def test_dev_and_demo_accept_any_secret(mode: str, secret: str | None) -> None:
    loaded = Settings(mode=mode, secret_key=secret)  # type: ignore[arg-type]
    assert loaded.mode == mode


def test_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_SECRET_KEY", STRONG)
    loaded = load_settings()
    assert loaded.mode == "production"
    assert loaded.secret_key is not None
    assert loaded.secret_key.get_secret_value() == STRONG


def test_weak_secret_from_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_MODE", "production")
    monkeypatch.setenv("CITYOPS_SECRET_KEY", "change-me")
    with pytest.raises(SettingsError, match="CITYOPS_SECRET_KEY"):
        load_settings()


def test_secret_repr_is_masked() -> None:
    loaded = Settings(mode="production", secret_key=STRONG)  # type: ignore[arg-type]
    assert STRONG not in repr(loaded)
    assert STRONG not in str(loaded.secret_key)


# --- load_settings error messages -----------------------------------------------------------


@pytest.mark.parametrize(
    ("environment", "variable"),
    [
        ({}, "CITYOPS_SECRET_KEY"),  # production by default, and no secret
        ({"CITYOPS_SECRET_KEY": "too-short"}, "CITYOPS_SECRET_KEY"),
        ({"CITYOPS_MODE": "production", "CITYOPS_SECRET_KEY": "changeme"}, "CITYOPS_SECRET_KEY"),
        ({"CITYOPS_MODE": "staging"}, "CITYOPS_MODE"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_TIMEZONE": "Mars/Olympus"}, "CITYOPS_TIMEZONE"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_DATABASE_URL": "mysql://x/y"}, "CITYOPS_DATABASE_URL"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_DATABASE_POOL_SIZE": "0"}, "CITYOPS_DATABASE_POOL_SIZE"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_PORT": "abc"}, "CITYOPS_PORT"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_PORT": "70000"}, "CITYOPS_PORT"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_LANGUAGE": "fr"}, "CITYOPS_LANGUAGE"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_SESSION_TTL_HOURS": "0"}, "CITYOPS_SESSION_TTL_HOURS"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_LOG_LEVEL": "TRACE"}, "CITYOPS_LOG_LEVEL"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_COOKIE_SECURE": "maybe"}, "CITYOPS_COOKIE_SECURE"),
        ({"CITYOPS_MODE": "dev", "CITYOPS_TRUSTED_PROXIES": "[1]"}, "CITYOPS_TRUSTED_PROXIES"),
        (
            {"CITYOPS_MODE": "dev", "CITYOPS_TRUSTED_PROXIES": "10.0.0.1"},
            "CITYOPS_TRUSTED_PROXIES",
        ),
        (
            {"CITYOPS_MODE": "dev", "CITYOPS_EVENT_POLL_SECONDS": "-1"},
            "CITYOPS_EVENT_POLL_SECONDS",
        ),
    ],
    ids=lambda v: (
        v if isinstance(v, str) else "-".join(f"{k[8:]}={x}" for k, x in v.items()) or "no-env"
    ),
)
def test_load_settings_names_the_variable_first(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], variable: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(f"{variable}:") or message.startswith(f"{variable}."), message
    assert "\n" not in message


def test_load_settings_overrides_win_over_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CITYOPS_MODE", "production")
    monkeypatch.setenv("CITYOPS_PORT", "9000")
    loaded = load_settings(mode="dev", port=8123)
    assert loaded.mode == "dev"
    assert loaded.port == 8123


def test_dotenv_in_the_working_directory_is_read(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("CITYOPS_MODE=dev\nCITYOPS_PORT=8555\n", encoding="utf-8")
    assert load_settings().port == 8555
    monkeypatch.setenv("CITYOPS_PORT", "8666")
    assert load_settings().port == 8666  # the environment wins over .env


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_MODE", "dev")
    loaded = load_settings()
    assert loaded.database_url == "sqlite:///var/cityops.db"
    assert loaded.timezone == "Asia/Shanghai"
    assert loaded.language == "zh-CN"
    assert loaded.port == 8000
    assert loaded.trusted_proxies == []
    assert loaded.secret_key is None


def test_trusted_proxies_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CITYOPS_MODE", "dev")
    monkeypatch.setenv("CITYOPS_TRUSTED_PROXIES", '["10.0.0.1", "10.0.0.2"]')
    assert load_settings().trusted_proxies == ["10.0.0.1", "10.0.0.2"]


# --- time zone ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "UTC", "Europe/Berlin", "America/New_York"])
def test_known_time_zones_are_accepted(zone: str) -> None:
    loaded = Settings(mode="dev", timezone=zone)
    assert loaded.timezone == zone
    assert loaded.zone == ZoneInfo(zone)


@pytest.mark.parametrize(
    "zone", ["Mars/Olympus", "", "Asia", "Asia/", "../etc/passwd", "/etc/localtime", "CST+8"]
)
def test_unknown_time_zones_are_rejected(zone: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(mode="dev", timezone=zone)
    assert str(caught.value).startswith("CITYOPS_TIMEZONE:")


@isolated
@given(st.text(max_size=40))
def test_any_time_zone_text_is_accepted_or_a_settings_error(zone: str) -> None:
    try:
        loaded = load_settings(mode="dev", timezone=zone)
    except SettingsError as error:
        message = str(error)
    else:
        assert loaded.zone == ZoneInfo(zone)
        return
    assert message.startswith("CITYOPS_TIMEZONE:")


# --- database URL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///var/cityops.db",
        "sqlite:////srv/cityops/cityops.db",
        "sqlite://",
        "postgresql+psycopg://cityops:pw@db:5432/cityops",
        "postgresql://cityops@localhost/cityops",
    ],
)
def test_supported_database_urls(url: str) -> None:
    assert Settings(mode="dev", database_url=url).database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mysql://root@localhost/cityops",
        "postgres://cityops@localhost/cityops",
        "postgresql+psycopg2://cityops@localhost/cityops",
        "postgresql+asyncpg://cityops@localhost/cityops",
        "SQLITE:///var/cityops.db",
        " sqlite:///var/cityops.db",
        "var/cityops.db",
    ],
)
def test_unsupported_database_urls_are_rejected(url: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(mode="dev", database_url=url)
    assert str(caught.value).startswith("CITYOPS_DATABASE_URL:")


# --- cookies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "explicit", "secure"),
    [
        ("production", None, True),
        ("dev", None, False),
        ("demo", None, False),
        ("production", False, False),
        ("dev", True, True),
    ],
)
def test_secure_cookies(mode: str, explicit: bool | None, secure: bool) -> None:
    loaded = Settings(mode=mode, secret_key=STRONG, cookie_secure=explicit)  # type: ignore[arg-type]
    assert loaded.secure_cookies is secure


# --- masking --------------------------------------------------------------------------------


def test_masked_shows_every_field_json_ready() -> None:
    loaded = Settings(mode="production", secret_key=STRONG)  # type: ignore[arg-type]
    shown = loaded.masked()
    assert set(shown) == set(Settings.model_fields)
    assert shown["secret_key"] == "********"
    assert shown["data_dir"] == "var"
    assert shown["mode"] == "production"
    assert shown["port"] == 8000
    json.dumps(shown)


def test_masked_without_a_secret() -> None:
    assert Settings(mode="dev").masked()["secret_key"] is None


def test_masked_hides_the_database_password() -> None:
    loaded = Settings(
        mode="dev",
        database_url="postgresql+psycopg://cityops:hunter2-db-pass@db.internal:5432/cityops",
    )
    shown = loaded.masked()
    assert shown["database_url"] == "postgresql+psycopg://cityops:********@db.internal:5432/cityops"
    assert "hunter2-db-pass" not in json.dumps(shown)


secrets_text = st.text(string.ascii_letters + string.digits + "-_", min_size=32, max_size=64)


@isolated
@given(secret=secrets_text, password=secrets_text)
def test_masked_never_contains_secrets(secret: str, password: str) -> None:
    loaded = Settings(
        mode="production",
        secret_key=secret,  # type: ignore[arg-type]
        database_url=f"postgresql+psycopg://cityops:{password}@db:5432/cityops",
    )
    dumped = json.dumps(loaded.masked(), ensure_ascii=False)
    assert secret not in dumped
    assert password not in dumped
    assert str(loaded.masked()).count("********") == 2


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        (
            "postgresql+psycopg://cityops:s3cret@db:5432/cityops",
            "postgresql+psycopg://cityops:********@db:5432/cityops",
        ),
        (
            "postgresql://cityops:p@ss:w0rd@db/cityops?sslmode=require",
            "postgresql://cityops:********@db/cityops?sslmode=require",
        ),
        (
            "postgresql+psycopg://cityops:@db/cityops",
            "postgresql+psycopg://cityops:********@db/cityops",
        ),
        ("postgresql+psycopg://cityops@db/cityops", "postgresql+psycopg://cityops@db/cityops"),
        ("postgresql+psycopg://db/cityops", "postgresql+psycopg://db/cityops"),
        ("sqlite:///var/cityops.db", "sqlite:///var/cityops.db"),
        ("sqlite://", "sqlite://"),
        ("not a url", "not a url"),
        ("", ""),
    ],
)
def test_mask_url_password(url: str, masked: str) -> None:
    assert mask_url_password(url) == masked


url_part = st.text(string.ascii_letters + string.digits + ".-", min_size=1, max_size=12)


@given(
    scheme=st.sampled_from(["postgresql", "postgresql+psycopg"]),
    user=url_part,
    password=st.text(min_size=1, max_size=30),
    host=url_part,
    port=st.integers(1, 65535),
    database=url_part,
)
def test_mask_url_password_hides_any_password(
    scheme: str, user: str, password: str, host: str, port: int, database: str
) -> None:
    url = f"{scheme}://{user}:{password}@{host}:{port}/{database}"
    assert mask_url_password(url) == f"{scheme}://{user}:********@{host}:{port}/{database}"


@given(st.text())
def test_mask_url_password_never_raises_and_keeps_urls_without_credentials(text: str) -> None:
    masked = mask_url_password(text)
    if "@" not in text or "://" not in text:
        assert masked == text


# --- documentation --------------------------------------------------------------------------


def test_every_setting_is_documented() -> None:
    assert SETTINGS_DOC.is_file(), f"{SETTINGS_DOC} is missing"
    text = SETTINGS_DOC.read_text(encoding="utf-8")
    missing = [
        f"CITYOPS_{name.upper()}"
        for name in Settings.model_fields
        if not re.search(rf"(?<![A-Z0-9_])CITYOPS_{name.upper()}(?![A-Z0-9_])", text)
    ]
    assert not missing, f"not documented in docs/settings.md: {', '.join(missing)}"
