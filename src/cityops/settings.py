"""One typed settings object, read from ``CITYOPS_*`` environment variables and an optional .env.

Every field is documented in docs/settings.md (a test fails when one is not). Build it once in
the composition root (:func:`cityops.bootstrap.bootstrap`) and pass it down; nothing reads the
environment at import time.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cityops.kernel.errors import ValidationFailed
from cityops.kernel.worktime import parse_hours, parse_limit

# Values that must never protect a production deployment.
KNOWN_WEAK_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev", "demo", "cityops"})
MIN_SECRET_LENGTH = 32


class SettingsError(ValueError):
    """The settings are unusable; the message names the setting and the rule."""


class Settings(BaseSettings):
    """Everything a deployment can configure."""

    model_config = SettingsConfigDict(
        env_prefix="CITYOPS_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    mode: Literal["production", "dev", "demo"] = Field(
        "production", description="production refuses weak secrets; dev and demo do not."
    )
    database_url: str = Field(
        "sqlite:///var/cityops.db",
        description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db.",
    )
    database_pool_size: int = Field(10, ge=1, le=200, description="PostgreSQL pool size.")
    sqlite_wal_limit_mb: int = Field(
        64,
        ge=0,
        le=65_536,
        description=(
            "SQLite: `serve` and `ts mqtt` checkpoint and empty the write-ahead log once it "
            "grows past this many MiB (checked every second; 0: never)."
        ),
    )
    secret_key: SecretStr | None = Field(
        None, description="Signs CSRF tokens; at least 32 characters outside dev/demo."
    )
    timezone: str = Field("Asia/Shanghai", description="Time zone shown at the edges (IANA).")
    language: Literal["zh-CN", "en"] = Field("zh-CN", description="Default UI language.")
    host: str = Field("127.0.0.1", description="Address `cityops serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `cityops serve` listens on.")
    data_dir: Path = Field(Path("var"), description="Where files (uploads, demo credentials) go.")
    session_ttl_hours: float = Field(12.0, gt=0, le=24 * 30, description="Sign-in lifetime.")
    cookie_secure: bool | None = Field(
        None, description="Send the session cookie only over HTTPS (default: on in production)."
    )
    login_max_failures_per_account: int = Field(
        5, ge=1, description="Failed sign-ins per account in the window before refusing."
    )
    login_max_failures_per_address: int = Field(
        20, ge=1, description="Failed sign-ins per client address in the window before refusing."
    )
    login_failure_window_seconds: int = Field(
        900, ge=1, description="The sliding window for sign-in failures."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        "INFO", description="Log level."
    )
    log_format: Literal["text", "json"] = Field("text", description="text, or one JSON per line.")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Proxy addresses whose X-Forwarded-For is believed (JSON list).",
    )
    working_hours: str = Field(
        "09:00-12:00,13:30-17:30",
        description="Working periods of a working day, local time, for deadlines (工作时).",
    )
    calendar_file: Path | None = Field(
        None, description="JSON file of a city's extra holidays and working days."
    )
    event_poll_seconds: float = Field(
        1.0,
        gt=0,
        le=60,
        description="How often the event bus checks the outbox for others' events.",
    )
    map_tile_url: str | None = Field(
        None,
        description="Map tile URL template with {z}, {x} and {y}; none draws on a plain ground.",
    )
    map_tile_attribution: str = Field(
        "", max_length=300, description="Text shown on the map for the tiles' source."
    )
    case_limit_normal: str = Field(
        "5 工作日",
        description="Handling time limit of a normal case when no matter rule names one.",
    )
    case_limit_urgent: str = Field(
        "4 工作时",
        description="Handling time limit of an urgent case when no matter rule names one.",
    )
    case_light_yellow: float = Field(
        0.8, gt=0, le=1, description="Share of the time limit used when a case turns yellow."
    )
    case_escalation_ladder: str = Field(
        "8:street,24:district,40:city",
        description="Working hours overdue : level, comma-separated, for escalating red cases.",
    )
    case_sweep_seconds: float = Field(
        60.0, ge=0, le=3600, description="How often `serve` checks deadlines (0: never)."
    )
    case_dedupe_metres: float = Field(
        50.0, ge=0, le=5000, description="Open cases of the same class this close are duplicates."
    )
    case_dedupe_hours: float = Field(
        72.0, ge=0, le=24 * 90, description="…if accepted within this many hours."
    )
    case_auto_dispatch: bool = Field(
        False, description="File and dispatch at intake when class and route are both certain."
    )
    case_auto_dispatch_confidence: float = Field(
        0.8, ge=0, le=1, description="Classifier confidence needed for auto-dispatch."
    )
    case_max_photo_bytes: int = Field(
        10 * 1024 * 1024, ge=1024, description="Largest photo accepted, in bytes."
    )
    case_kpi_weights: str | None = Field(
        None, description="JSON role → measure → weight for KPI composite scores (sum 1 per role)."
    )
    telemetry_partition_days: int = Field(
        7,
        ge=1,
        le=366,
        description="PostgreSQL: days per observations partition (do not change once data exist).",
    )
    telemetry_raw_days: int = Field(
        0, ge=0, le=36_500, description="Keep raw readings this many days (0: for ever)."
    )
    telemetry_minute_days: int = Field(
        0,
        ge=0,
        le=36_500,
        description=(
            "Keep minute rollups this many days (0: for ever); raw readings that are a "
            "datastream's minute level are kept as long."
        ),
    )
    telemetry_offline_grace: float = Field(
        3.0, ge=1, le=100, description="A datastream is offline after this many silent intervals."
    )
    telemetry_future_seconds: int = Field(
        300, ge=0, le=86_400, description="Readings later than now plus this are refused."
    )
    telemetry_fold_seconds: float = Field(
        1.0,
        ge=0,
        le=600,
        description=(
            "How often `serve` and `ts mqtt` look whether a fold of new readings into the "
            "rollups is due."
        ),
    )
    telemetry_fold_min_readings: int = Field(
        100_000,
        ge=1,
        le=10_000_000,
        description=(
            "A background fold waits until this many readings are queued (folds of more "
            "readings per datastream cost less per reading) …"
        ),
    )
    telemetry_fold_max_seconds: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="… or until this many seconds have passed since its last fold.",
    )
    telemetry_fold_workers: int = Field(
        2,
        ge=1,
        le=32,
        description=(
            "PostgreSQL: folds run at once, each on its share of the datastreams "
            "(SQLite folds with one)."
        ),
    )
    alert_sweep_seconds: float = Field(
        60.0, ge=0, le=3600, description="How often `serve` judges missing-data alert rules."
    )
    webhook_poll_seconds: float = Field(
        2.0, ge=0, le=600, description="How often `serve` sends due webhook deliveries (0: never)."
    )
    mqtt_url: str | None = Field(
        None,
        description="MQTT broker for readings, mqtt://[user:password@]host:port (unset: off).",
    )
    mqtt_topics: str = Field(
        "cityops/telemetry/#,v1.1/#", description="Comma-separated topic filters to subscribe to."
    )
    mqtt_group: str = Field(
        "cityops", description="Shared-subscription group: workers in one group split the load."
    )
    mqtt_client_id: str = Field(
        "cityops-ingest", description="Client id: its session keeps unacknowledged messages."
    )
    classifier_model: Path | None = Field(
        None,
        description="Trained classifier to use (default: the data dir's, else the shipped seed).",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            # OSError: with the tzdata package installed, "Asia" names a directory.
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("working_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        try:
            parse_hours(value)
        except ValidationFailed as error:
            raise ValueError(error.issues[0].message) from None
        return value

    @field_validator("case_limit_normal", "case_limit_urgent")
    @classmethod
    def _valid_limit(cls, value: str) -> str:
        try:
            parse_limit(value)
        except ValidationFailed as error:
            raise ValueError(error.issues[0].message) from None
        return value

    @field_validator("database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must start with sqlite: or postgresql+psycopg:")
        return value

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        if any(part not in value for part in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain {z}, {x} and {y}")
        if "{s}" in value:
            raise ValueError("{s} (several tile hosts) is not supported: name one host")
        if any(c.isspace() or c in "\"'<>;," for c in value):
            raise ValueError("must not contain spaces, quotes, <, >, ; or ,")
        if value.startswith("/") and not value.startswith("//"):
            return value  # a path on this server (e.g. behind the same reverse proxy)
        if tile_origin(value) is None:
            raise ValueError("must be an http(s)://host[:port]/… URL or a path starting with /")
        return value

    @model_validator(mode="after")
    def _strong_secret_in_production(self) -> Settings:
        if self.mode == "production":
            secret = self.secret_key.get_secret_value() if self.secret_key else ""
            if secret.strip().lower() in KNOWN_WEAK_SECRETS or len(secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "CITYOPS_SECRET_KEY: must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters in production mode "
                    "(or set CITYOPS_MODE=dev for local work)"
                )
        return self

    @property
    def secure_cookies(self) -> bool:
        """Whether cookies carry the Secure flag."""
        return self.mode == "production" if self.cookie_secure is None else self.cookie_secure

    @property
    def map_tile_origin(self) -> str | None:
        """The origin map tiles come from when it is not this server's (for the CSP)."""
        return tile_origin(self.map_tile_url) if self.map_tile_url else None

    @property
    def zone(self) -> ZoneInfo:
        """The display time zone."""
        return ZoneInfo(self.timezone)

    def masked(self) -> dict[str, Any]:
        """Return every setting as JSON-ready data with secrets and passwords masked."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "********"
            elif name == "database_url":
                value = mask_url_password(value)
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown


_HOST = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$")


def tile_origin(url: str) -> str | None:
    """Return ``scheme://host[:port]`` of an absolute http(s) URL, or None for anything else.

    The result goes into a Content-Security-Policy header, so only plain host names, IPv4
    addresses and bracketed IPv6 addresses pass.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or parts.username or parts.password:
        return None
    if ":" in host:
        if not re.fullmatch(r"[0-9a-f:.]+", host):
            return None
        host = f"[{host}]"
    elif not _HOST.match(host):
        return None
    default = {"http": 80, "https": 443}[parts.scheme]
    return f"{parts.scheme}://{host}" + (f":{port}" if port and port != default else "")


def mask_url_password(url: str) -> str:
    """Hide the password in a database URL (``user:pw@host`` and ``?password=pw`` forms)."""
    url = re.sub(r"([?&]password=)[^&]*", r"\1********", url, flags=re.IGNORECASE)
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, at, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':********' if colon else ''}{at}{host}"


def load_settings(**overrides: Any) -> Settings:
    """Build the settings from the environment; raise SettingsError with one clear line."""
    from pydantic import ValidationError
    from pydantic_settings import SettingsError as SourceError

    try:
        return Settings(**overrides)
    except SourceError as error:
        # e.g. a list setting that is not valid JSON: "error parsing value for field "x" …"
        field = str(error).split('"')[1] if str(error).count('"') >= 2 else "settings"
        raise SettingsError(f"CITYOPS_{field.upper()}: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        message = str(first["msg"]).removeprefix("Value error, ")
        if first["loc"]:
            field = ".".join(str(p) for p in first["loc"])
            raise SettingsError(f"CITYOPS_{field.upper()}: {message}") from None
        # Model-wide rules name their variable at the start of the message.
        raise SettingsError(message) from None
