"""Settings, read from environment variables only (Doppler injects them in production)."""

from __future__ import annotations

import functools
import ipaddress
import os
import secrets
import time
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from podium.database_url import is_postgres_url, plain_url, sqlalchemy_url
from podium.rate_limit import RateLimit, RateLimitSetting

# Where a browser app runs in development (Vite's and SvelteKit's default port).
DEVELOPMENT_ORIGINS = ("http://localhost:5173", "http://127.0.0.1:5173")


# What each URL setting is called in the environment, for the messages that name it.
_URL_VARIABLES = {"database_url": "DATABASE_URL", "database_read_url": "PODIUM_DATABASE_READ_URL"}


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class PgBouncerMode(StrEnum):
    """What sits between the app and PostgreSQL (`PODIUM_DATABASE_PGBOUNCER`).

    `off`: PostgreSQL itself, or a pooler that tracks prepared statements (PgBouncer >= 1.21
    with `max_prepared_statements`). `session`: a pooler that gives each client its own server
    connection. `transaction`: a pooler that shares server connections between transactions
    and does not track prepared statements (PgBouncer < 1.21): no named prepared statements.
    """

    OFF = "off"
    SESSION = "session"
    TRANSACTION = "transaction"


class LinkCheckMode(StrEnum):
    """Who runs the project link checks (`PODIUM_LINK_CHECKS`, docs/link-checks.md).

    `off`: no check is queued. `worker`: checks are queued and `podium worker` runs them.
    `inline`: queued, and every `podium serve` (or `podium dev`) process runs them as well.
    """

    OFF = "off"
    WORKER = "worker"
    INLINE = "inline"


class MetricsAccess(StrEnum):
    """Who may read `/metrics` (`PODIUM_METRICS`): nobody (404), anyone who reaches the port, or
    a scraper sending `Authorization: Bearer $PODIUM_METRICS_TOKEN` (else 401)."""

    OFF = "off"
    PUBLIC = "public"
    TOKEN = "token"


class LogFormat(StrEnum):
    """`PODIUM_LOG_FORMAT`: one JSON object per line (for a log pipeline), or text for people."""

    JSON = "json"
    TEXT = "text"


class MissingSecretError(RuntimeError):
    """A secret that production needs is not set; the message names the variable."""


class Settings(BaseSettings):
    # No env_file on purpose: secrets come from the environment only. populate_by_name: code
    # (the tests, the dev server) passes fields by name, also those whose variable has aliases.
    model_config = SettingsConfigDict(
        env_prefix="PODIUM_", extra="ignore", frozen=True, populate_by_name=True
    )

    env: Environment = Environment.DEVELOPMENT
    # DATABASE_URL carries no PODIUM_ prefix: it is the platform's conventional name.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    # A streaming replica for anonymous public reads (docs/operations.md); unset, every
    # statement goes to DATABASE_URL. `DATABASE_URL_READ` is the platform-style alias.
    database_read_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("PODIUM_DATABASE_READ_URL", "DATABASE_URL_READ"),
    )
    # Past this replay lag, in seconds, the replica's reads go to the primary (0: no bound).
    database_read_max_lag: float = Field(default=10.0, ge=0)
    # Connections per worker, reads and writes alike (one pool): workers times this must stay
    # below what PostgreSQL (or PgBouncer) allows.
    database_pool_size: int = Field(default=20, ge=1)
    # See PgBouncerMode and docs/operations.md ("PgBouncer"); `podium serve` refuses a pooler that
    # this leaves unsafe.
    database_pgbouncer: PgBouncerMode = PgBouncerMode.OFF
    # Bounded waits, in seconds (docs/operations.md): opening a connection, waiting for a free
    # one, PostgreSQL's statement_timeout (0: none sent, the server's own applies), closing an
    # idle one (0: never), and the whole request (answered 503 past it).
    database_connect_timeout: float = Field(default=5.0, gt=0)
    database_acquire_timeout: float = Field(default=5.0, gt=0)
    database_statement_timeout: float = Field(default=5.0, ge=0)
    database_idle_timeout: float = Field(default=60.0, ge=0)
    request_timeout: float = Field(default=15.0, gt=0)

    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 60 * 24 * 2
    magic_link_minutes: int = 15
    # The permutation key behind every public ID: changing it breaks every link in the wild.
    id_key: SecretStr | None = None

    frontend_url: str = "http://localhost:5173"
    # Browser origins allowed to call the API (comma-separated); unset: see `allowed_origins`.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Development state that must outlive a restart (the embedded database, the JWT secret).
    state_dir: Path = Path(".podium")
    loops_api_key: SecretStr | None = None
    loops_transactional_id: str | None = None
    loops_api_url: str = "https://app.loops.so"
    login_mails_per_window: int = 3
    login_mail_window_seconds: int = 600

    review_factory_url: str | None = None
    review_factory_token: SecretStr | None = None

    max_body_bytes: int = 1_000_000

    # Rate limits (docs/security.md), shared by every worker and instance through the
    # rate_limits table; each `N/<window>` or `off`. Keyed on the caller's account, or on the
    # client address where there is none yet; sized for 500 people behind one venue NAT.
    rate_limit_signup: RateLimitSetting = RateLimit(500, 3600)  # per client address
    rate_limit_login: RateLimitSetting = RateLimit(500, 3600)  # per client address
    rate_limit_verify: RateLimitSetting = RateLimit(1000, 3600)  # per client address
    rate_limit_event_create: RateLimitSetting = RateLimit(20, 3600)
    rate_limit_project_create: RateLimitSetting = RateLimit(30, 3600)
    rate_limit_votes: RateLimitSetting = RateLimit(30, 60)
    rate_limit_edits: RateLimitSetting = RateLimit(120, 600)
    # Wrong (or unusable) join codes, per account and per client address.
    rate_limit_join_user: RateLimitSetting = RateLimit(10, 600)
    rate_limit_join_address: RateLimitSetting = RateLimit(100, 600)
    # Rows of limits at rest are deleted this often by each worker (0: never).
    rate_limit_purge_seconds: float = Field(default=600.0, ge=0)
    # Reverse proxies (CIDRs, comma-separated) whose X-Forwarded-For is believed; unset: the
    # socket's peer is the client.
    trusted_proxies: Annotated[
        tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...], NoDecode
    ] = ()

    # Sign-up checks: Cloudflare Turnstile when a secret is set (the token in X-Turnstile-Token).
    turnstile_secret: SecretStr | None = None
    turnstile_verify_url: str = "https://challenges.cloudflare.com/turnstile/v0/siteverify"
    turnstile_timeout: float = Field(default=5.0, gt=0)
    # When siteverify cannot be reached: refuse the sign-up (false, the default) or let it in.
    turnstile_fail_open: bool = False
    # Project link checks (docs/link-checks.md).
    link_checks: LinkCheckMode = LinkCheckMode.WORKER
    github_api_url: str = "https://api.github.com"
    github_token: SecretStr | None = None
    # `ip:port` pairs the link checker may reach although they are not public addresses: for
    # the tests' loopback fakes only; refused in production.
    link_check_allow_hosts: Annotated[tuple[str, ...], NoDecode] = ()
    link_check_timeout: float = Field(default=10.0, gt=0)
    link_check_max_attempts: int = Field(default=3, ge=1)
    link_check_retry_seconds: float = Field(default=60.0, ge=0)
    link_check_recheck_seconds: int = Field(default=60, ge=0)
    # How long a deleted event or project stays in the trash before `podium purge` removes it.
    trash_retention_days: int = Field(default=30, ge=0, le=36500)

    @property
    def trash_retention(self) -> timedelta:
        return timedelta(days=self.trash_retention_days)

    # Unset: `token` when PODIUM_METRICS_TOKEN is set, else `off` in production (the port is
    # public there) and `public` in development. See docs/operations.md ("Metrics").
    metrics: MetricsAccess | None = None
    metrics_token: SecretStr | None = None
    # Unset: json in production, text in development. `access_log`: one line per request.
    log_format: LogFormat | None = None
    access_log: bool = True

    @field_validator("database_url", "database_read_url")
    @classmethod
    def _async_driver(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None or value == "":
            return None
        if not is_postgres_url(value):
            variable = _URL_VARIABLES[info.field_name or ""]
            raise ValueError(f"{variable} must be a postgresql:// or postgresql+asyncpg:// URL")
        return sqlalchemy_url(value)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_networks(cls, value: object) -> object:
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",") if part.strip()]
            try:
                return tuple(ipaddress.ip_network(part, strict=False) for part in parts)
            except ValueError as exc:
                raise ValueError(
                    f"PODIUM_TRUSTED_PROXIES: {exc} (write CIDRs, comma-separated)"
                ) from None
        return value

    @field_validator("link_check_allow_hosts", mode="before")
    @classmethod
    def _split_allow_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("link_check_allow_hosts")
    @classmethod
    def _allow_hosts_are_addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from podium.link_checks.guard import parse_allowed

        parse_allowed(value)  # raises ValueError naming the bad entry
        return value

    @model_validator(mode="after")
    def _no_ssrf_exemption_in_production(self) -> Settings:
        if self.is_production and self.link_check_allow_hosts:
            # The exemption lets the link checker reach private addresses: tests only.
            raise ValueError("PODIUM_LINK_CHECK_ALLOW_HOSTS must not be set in production")
        return self

    @field_validator("cors_origins")
    @classmethod
    def _origins_are_origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            parts = urlsplit(origin)
            is_origin = parts.scheme in ("http", "https") and bool(parts.hostname)
            if origin != "*" and not (is_origin and _origin_of(origin) == origin):
                raise ValueError(
                    f"PODIUM_CORS_ORIGINS: {origin!r} is not an origin "
                    "(scheme://host[:port], no path or trailing slash)"
                )
        return value

    @model_validator(mode="after")
    def _no_wildcard_origin_in_production(self) -> Settings:
        if self.is_production and "*" in self.cors_origins:
            raise ValueError(
                "PODIUM_CORS_ORIGINS must list the frontend's origins in production, not '*'"
            )
        return self

    @model_validator(mode="after")
    def _secrets_present(self) -> Settings:
        if self.env is Environment.PRODUCTION:
            required = {
                "PODIUM_JWT_SECRET": self.jwt_secret,
                "PODIUM_ID_KEY": self.id_key,
                "DATABASE_URL": self.database_url,
                # Without mail, login links would land in the logs: never in production.
                "PODIUM_LOOPS_API_KEY": self.loops_api_key,
                "PODIUM_LOOPS_TRANSACTIONAL_ID": self.loops_transactional_id,
            }
            missing = [name for name, value in required.items() if not value]
            if missing:
                raise MissingSecretError(
                    f"production needs {', '.join(missing)}; set it in the environment (Doppler)"
                )
            from podium.ids import DEVELOPMENT_ID_KEY

            assert self.id_key is not None
            if self.id_key.get_secret_value() == DEVELOPMENT_ID_KEY:
                # The development key is public: IDs made with it would hide nothing.
                raise MissingSecretError("PODIUM_ID_KEY is the public development key")
        return self

    @model_validator(mode="after")
    def _metrics_token_present(self) -> Settings:
        if self.metrics is MetricsAccess.TOKEN and not self.metrics_token:
            raise MissingSecretError("PODIUM_METRICS=token needs PODIUM_METRICS_TOKEN")
        return self

    @property
    def metrics_access(self) -> MetricsAccess:
        if self.metrics is not None:
            return self.metrics
        if self.metrics_token is not None:
            return MetricsAccess.TOKEN
        return MetricsAccess.OFF if self.is_production else MetricsAccess.PUBLIC

    @property
    def log_format_value(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.is_production else LogFormat.TEXT

    @property
    def jwt_secret_value(self) -> str:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return development_jwt_secret(self.state_dir.resolve())

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        """The browser origins CORS admits: the setting, else the frontend (and, in development,
        the usual local dev-server origins)."""
        if self.cors_origins:
            return self.cors_origins
        frontend = _origin_of(self.frontend_url)
        defaults = (frontend,) if self.is_production else (frontend, *DEVELOPMENT_ORIGINS)
        return tuple(dict.fromkeys(defaults))

    def development_defaults(self) -> list[str]:
        """What this (development) configuration fills in for missing secrets; logged at start."""
        notes = []
        if self.jwt_secret is None:
            notes.append(
                f"PODIUM_JWT_SECRET unset: a generated development secret in {self.state_dir}/"
            )
        if self.id_key is None:
            notes.append("PODIUM_ID_KEY unset: the fixed development key")
        if self.loops_api_key is None:
            notes.append("PODIUM_LOOPS_API_KEY unset: login links are printed to the log")
        return notes

    @property
    def id_key_value(self) -> str:
        from podium.ids import DEVELOPMENT_ID_KEY

        return self.id_key.get_secret_value() if self.id_key is not None else DEVELOPMENT_ID_KEY

    @property
    def is_production(self) -> bool:
        return self.env is Environment.PRODUCTION

    @property
    def database_url_sync(self) -> str | None:
        """The URL in its plain `postgresql://` form, for asyncpg and psql."""
        if self.database_url is None:
            return None
        return plain_url(self.database_url)


def _origin_of(url: str) -> str:
    """`https://podium.example/login` → `https://podium.example` (what a browser sends)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else url


DEVELOPMENT_SECRET_FILE = "jwt-secret"


@functools.cache
def development_jwt_secret(state_dir: Path) -> str:
    """A development JWT secret kept in `state_dir`, so logins survive a restart.

    Made once, by whichever process gets there first (O_EXCL: workers starting together agree);
    production never reads it (PODIUM_JWT_SECRET is required there).
    """
    path = state_dir / DEVELOPMENT_SECRET_FILE
    state_dir.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            secret = path.read_text().strip()
            if secret:
                return secret
            # Another process created the file and is about to write it.
            time.sleep(0.01)
        raise RuntimeError(f"{path} is empty: delete it to make a new development secret") from None
    secret = secrets.token_urlsafe(32)
    with os.fdopen(descriptor, "w") as file:
        file.write(secret + "\n")
    return secret
