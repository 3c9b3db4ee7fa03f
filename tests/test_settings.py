from __future__ import annotations

import pytest

from podium.config import Environment, MissingSecretError, Settings


def test_production_refuses_to_start_without_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_JWT_SECRET", "PODIUM_ID_KEY", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingSecretError, match="PODIUM_JWT_SECRET"):
        Settings(env=Environment.PRODUCTION, database_url="postgresql://db/podium")


def test_production_names_every_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_JWT_SECRET", "PODIUM_ID_KEY", "DATABASE_URL", "PODIUM_LOOPS_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MissingSecretError) as error:
        Settings(env=Environment.PRODUCTION)
    for name in ("PODIUM_JWT_SECRET", "PODIUM_ID_KEY", "DATABASE_URL", "PODIUM_LOOPS_API_KEY"):
        assert name in str(error.value)


def test_production_starts_with_its_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_ENV", "production")
    monkeypatch.setenv("PODIUM_JWT_SECRET", "s" * 40)
    monkeypatch.setenv("PODIUM_ID_KEY", "k" * 40)
    monkeypatch.setenv("DATABASE_URL", "postgresql://db.internal/podium")
    monkeypatch.setenv("PODIUM_LOOPS_API_KEY", "loops-key")
    monkeypatch.setenv("PODIUM_LOOPS_TRANSACTIONAL_ID", "tx-login")
    settings = Settings()
    assert settings.is_production
    assert settings.database_url == "postgresql+asyncpg://db.internal/podium"
    assert settings.development_defaults() == []


def test_development_fills_in_defaults_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PODIUM_JWT_SECRET", "PODIUM_ID_KEY", "PODIUM_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings()
    assert settings.env is Environment.DEVELOPMENT
    assert len(settings.jwt_secret_value) >= 32
    assert any("PODIUM_JWT_SECRET" in note for note in settings.development_defaults())


def test_database_url_accepts_both_forms_and_refuses_others() -> None:
    assert (
        Settings(database_url="postgresql+asyncpg://h/d").database_url == "postgresql+asyncpg://h/d"
    )
    assert Settings(database_url="postgres://h/d").database_url == "postgresql+asyncpg://h/d"
    with pytest.raises(ValueError, match="DATABASE_URL"):
        Settings(database_url="mysql://h/d")


def test_production_refuses_the_public_development_id_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from podium.ids import DEVELOPMENT_ID_KEY

    monkeypatch.setenv("PODIUM_LOOPS_API_KEY", "loops-key")
    monkeypatch.setenv("PODIUM_LOOPS_TRANSACTIONAL_ID", "tx-login")
    with pytest.raises(MissingSecretError, match="PODIUM_ID_KEY"):
        Settings(
            env=Environment.PRODUCTION,
            database_url="postgresql://db/podium",
            jwt_secret="s" * 40,
            id_key=DEVELOPMENT_ID_KEY,
        )
