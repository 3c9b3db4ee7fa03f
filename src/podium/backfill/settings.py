"""The backfill's configuration, from environment variables only (Doppler injects them)."""

from __future__ import annotations

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, SettingsConfigDict

from podium.backfill.airtable import RetryPolicy, SourceConfig
from podium.database_url import is_postgres_url

AIRTABLE_API_URL = "https://api.airtable.com"


class ConfigurationError(RuntimeError):
    """A variable is missing or malformed; the message names it."""


class BackfillSettings(BaseSettings):
    # No env_file and no prefix: these are the names SPEC §4 gives.
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    airtable_token: SecretStr = Field(validation_alias="AIRTABLE_TOKEN")
    airtable_base_id: str = Field(validation_alias="AIRTABLE_BASE_ID")
    airtable_api_url: str = Field(AIRTABLE_API_URL, validation_alias="AIRTABLE_API_URL")
    users_table: str = Field("users", validation_alias="AIRTABLE_USERS_TABLE")
    events_table: str = Field("events", validation_alias="AIRTABLE_EVENTS_TABLE")
    projects_table: str = Field("projects", validation_alias="AIRTABLE_PROJECTS_TABLE")
    votes_table: str = Field("votes", validation_alias="AIRTABLE_VOTES_TABLE")
    referrals_table: str = Field("referrals", validation_alias="AIRTABLE_REFERRALS_TABLE")
    database_url: str = Field(validation_alias="DATABASE_URL")
    # Airtable allows 5 requests per second per base.
    requests_per_second: float = Field(5.0, gt=0, validation_alias="AIRTABLE_REQUESTS_PER_SECOND")
    rate_limit_wait: float = Field(30.0, ge=0, validation_alias="AIRTABLE_RATE_LIMIT_WAIT")
    max_retries: int = Field(5, ge=0, validation_alias="AIRTABLE_MAX_RETRIES")
    timeout: float = Field(60.0, gt=0, validation_alias="AIRTABLE_TIMEOUT")

    @field_validator(
        "airtable_api_url",
        "users_table",
        "events_table",
        "projects_table",
        "votes_table",
        "referrals_table",
        mode="before",
    )
    @classmethod
    def _empty_is_default(cls, value: object) -> object:
        # An empty variable (common with secret managers) means "not set".
        if value == "":
            raise PydanticUseDefault
        return value

    @field_validator("database_url")
    @classmethod
    def _postgres(cls, value: str) -> str:
        if not is_postgres_url(value):
            raise ValueError("must be a postgresql:// URL")
        return value

    def source_config(self) -> SourceConfig:
        return SourceConfig(
            token=self.airtable_token.get_secret_value(),
            base_id=self.airtable_base_id,
            api_url=self.airtable_api_url or AIRTABLE_API_URL,
            tables={
                "users": self.users_table,
                "events": self.events_table,
                "projects": self.projects_table,
                "votes": self.votes_table,
                "referrals": self.referrals_table,
            },
            requests_per_second=self.requests_per_second,
            timeout=(10.0, self.timeout),
            policy=RetryPolicy(rate_limit_wait=self.rate_limit_wait, max_retries=self.max_retries),
        )


def load_settings(**overrides: object) -> BackfillSettings:
    try:
        return BackfillSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = str(item["loc"][0]) if item["loc"] else "?"
            problems.append(f"{name}: {item['msg'].lower()}")
        raise ConfigurationError("; ".join(problems)) from None
