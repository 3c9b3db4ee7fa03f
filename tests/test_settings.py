from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_development_fills_in_defaults_and_says_so(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("PODIUM_JWT_SECRET", "PODIUM_ID_KEY", "PODIUM_ENV"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(state_dir=tmp_path)
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


@pytest.mark.parametrize("variable", ["PODIUM_DATABASE_READ_URL", "DATABASE_URL_READ"])
def test_the_read_replica_url_is_read_under_either_name(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    for name in ("PODIUM_DATABASE_READ_URL", "DATABASE_URL_READ"):
        monkeypatch.delenv(name, raising=False)
    assert Settings().database_read_url is None
    monkeypatch.setenv(variable, "postgresql://replica.internal/podium")
    assert Settings().database_read_url == "postgresql+asyncpg://replica.internal/podium"


def test_a_read_replica_url_that_is_not_postgresql_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="PODIUM_DATABASE_READ_URL must be a postgresql://"):
        Settings(database_read_url="mysql://replica/podium")


def test_the_replica_lag_bound_cannot_be_negative() -> None:
    assert Settings().database_read_max_lag == 10.0
    with pytest.raises(ValueError, match="database_read_max_lag"):
        Settings(database_read_max_lag=-1)


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


# --- CORS origins ------------------------------------------------------------------------


def test_cors_defaults_to_the_frontend_plus_local_dev_servers_in_development() -> None:
    settings = Settings(frontend_url="https://podium.hackclub.com/app")
    assert settings.allowed_origins == (
        "https://podium.hackclub.com",
        "http://localhost:5173",
        "http://127.0.0.1:5173",
    )


def test_cors_defaults_to_the_frontend_only_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_LOOPS_API_KEY", "loops-key")
    monkeypatch.setenv("PODIUM_LOOPS_TRANSACTIONAL_ID", "tx-login")
    settings = Settings(
        env=Environment.PRODUCTION,
        jwt_secret="s" * 40,
        id_key="k" * 40,
        database_url="postgresql://db/podium",
        frontend_url="https://podium.hackclub.com",
    )
    assert settings.allowed_origins == ("https://podium.hackclub.com",)


def test_cors_origins_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_CORS_ORIGINS", "https://a.example, http://127.0.0.1:3000")
    assert Settings().allowed_origins == ("https://a.example", "http://127.0.0.1:3000")


@pytest.mark.parametrize(
    "origin", ["https://a.example/", "https://a.example/app", "a.example", "https://"]
)
def test_a_cors_entry_that_is_not_an_origin_is_refused(
    monkeypatch: pytest.MonkeyPatch, origin: str
) -> None:
    monkeypatch.setenv("PODIUM_CORS_ORIGINS", origin)
    with pytest.raises(ValueError, match="PODIUM_CORS_ORIGINS"):
        Settings()


def test_production_refuses_a_wildcard_origin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_LOOPS_API_KEY", "loops-key")
    monkeypatch.setenv("PODIUM_LOOPS_TRANSACTIONAL_ID", "tx-login")
    monkeypatch.setenv("PODIUM_CORS_ORIGINS", "*")
    with pytest.raises(ValueError, match="not '\\*'"):
        Settings(
            env=Environment.PRODUCTION,
            jwt_secret="s" * 40,
            id_key="k" * 40,
            database_url="postgresql://db/podium",
        )


# --- the development JWT secret ----------------------------------------------------------


def _secret_in_a_new_process(state_dir: Path) -> str:
    code = (
        "import sys; from pathlib import Path; from podium.config import Settings; "
        "print(Settings(state_dir=Path(sys.argv[1])).jwt_secret_value)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(state_dir)],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    )
    return result.stdout.strip()


def test_the_development_secret_survives_a_restart(tmp_path: Path) -> None:
    first = _secret_in_a_new_process(tmp_path)
    assert len(first) >= 32
    assert _secret_in_a_new_process(tmp_path) == first
    assert (tmp_path / "jwt-secret").stat().st_mode & 0o077 == 0  # readable by its owner only
    assert _secret_in_a_new_process(tmp_path / "elsewhere") != first


def test_a_configured_secret_is_used_and_nothing_is_written(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path, jwt_secret="configured-" + "x" * 30)
    assert settings.jwt_secret_value == "configured-" + "x" * 30
    assert not (tmp_path / "jwt-secret").exists()


# --- rate limits and trusted proxies ---------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "requests", "seconds"),
    [("30/60s", 30, 60), ("10/10m", 10, 600), ("500/1h", 500, 3600), ("5/h", 5, 3600)],
)
def test_a_rate_limit_is_read_from_its_short_form(
    monkeypatch: pytest.MonkeyPatch, written: str, requests: int, seconds: float
) -> None:
    from podium.rate_limit import RateLimit

    monkeypatch.setenv("PODIUM_RATE_LIMIT_VOTES", written)
    assert Settings().rate_limit_votes == RateLimit(requests, seconds)


def test_a_rate_limit_can_be_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PODIUM_RATE_LIMIT_VOTES", "off")
    assert Settings().rate_limit_votes is None


@pytest.mark.parametrize("written", ["30", "30/", "0/60s", "30/60x", "-1/60s", "many"])
def test_a_malformed_rate_limit_is_refused(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    from pydantic import ValidationError

    monkeypatch.setenv("PODIUM_RATE_LIMIT_VOTES", written)
    with pytest.raises(ValidationError, match="rate_limit_votes"):
        Settings()


def test_trusted_proxies_are_read_as_cidrs(monkeypatch: pytest.MonkeyPatch) -> None:
    import ipaddress

    monkeypatch.setenv("PODIUM_TRUSTED_PROXIES", "10.0.0.0/8, 192.0.2.1, fd00::/8")
    assert Settings().trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("192.0.2.1/32"),
        ipaddress.ip_network("fd00::/8"),
    )


def test_trusted_proxies_default_to_none_and_refuse_what_is_not_a_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    assert Settings().trusted_proxies == ()
    monkeypatch.setenv("PODIUM_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")
    with pytest.raises(ValidationError, match="PODIUM_TRUSTED_PROXIES"):
        Settings()
