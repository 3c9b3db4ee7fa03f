"""Settings, read from environment variables only (Doppler injects them in production)."""

from __future__ import annotations

import secrets
from enum import StrEnum

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class MissingSecretError(RuntimeError):
    """A secret that production needs is not set; the message names the variable."""


class Settings(BaseSettings):
    # No env_file on purpose: secrets come from the environment only.
    model_config = SettingsConfigDict(env_prefix="PODIUM_", extra="ignore", frozen=True)

    env: Environment = Environment.DEVELOPMENT
    # DATABASE_URL carries no PODIUM_ prefix: it is the platform's conventional name.
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    database_pool_size: int = 10
    database_max_overflow: int = 10

    jwt_secret: SecretStr | None = None
    access_token_minutes: int = 60 * 24 * 2
    magic_link_minutes: int = 15
    # The permutation key behind every public ID: changing it breaks every link in the wild.
    id_key: SecretStr | None = None

    frontend_url: str = "http://localhost:5173"
    loops_api_key: SecretStr | None = None
    loops_transactional_id: str | None = None
    loops_api_url: str = "https://app.loops.so"
    login_mails_per_window: int = 3
    login_mail_window_seconds: int = 600

    review_factory_url: str | None = None
    review_factory_token: SecretStr | None = None

    max_body_bytes: int = 1_000_000

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+asyncpg://" + value[len(prefix) :]
        if not value.startswith("postgresql+asyncpg://"):
            raise ValueError("DATABASE_URL must be a postgresql:// or postgresql+asyncpg:// URL")
        return value

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

    @property
    def jwt_secret_value(self) -> str:
        if self.jwt_secret is not None:
            return self.jwt_secret.get_secret_value()
        return _DEVELOPMENT_JWT_SECRET

    def development_defaults(self) -> list[str]:
        """What this (development) configuration fills in for missing secrets; logged at start."""
        notes = []
        if self.jwt_secret is None:
            notes.append("PODIUM_JWT_SECRET unset: random per-process secret, tokens die with it")
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
        return "postgresql://" + self.database_url.removeprefix("postgresql+asyncpg://")


# One per process so every request of a development server agrees on it.
_DEVELOPMENT_JWT_SECRET = secrets.token_urlsafe(32)
