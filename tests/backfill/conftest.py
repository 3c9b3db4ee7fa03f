"""Backfill tests: real pyairtable over HTTP against the fake, a fresh migrated database each.

Each test gets its own database, copied from a migrated template (a copy takes ~0.1 s where
`alembic upgrade` takes seconds), so runs, resumes and deletes never meet the app tests' rows.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest

from podium_devtools.airtable_base import GeneratedBase, generate_base
from podium_devtools.fake_airtable import FakeAirtable
from tests.backfill.support import backfill, dump
from tests.conftest import PgServer

BASE_RECORDS = 2000  # the smallest size that holds two of every kind of mess


async def clone(pg_server: PgServer, template: str) -> tuple[str, str]:
    name = f"podium_backfill_{secrets.token_hex(4)}"
    return name, await pg_server.create_database(name, template=template)


@pytest.fixture
async def new_database(
    pg_server: PgServer, migrated_template: str
) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """A factory of fresh migrated databases (URLs), dropped after the test."""
    names: list[str] = []

    async def make() -> str:
        name, url = await clone(pg_server, migrated_template)
        names.append(name)
        return url

    yield make
    for name in names:
        await pg_server.drop_database(name)


@pytest.fixture
async def database(new_database: Callable[[], Awaitable[str]]) -> str:
    return await new_database()


@pytest.fixture(scope="session")
def messy_base() -> GeneratedBase:
    return generate_base(BASE_RECORDS, seed=11)


@pytest.fixture(scope="session")
def clean_base() -> GeneratedBase:
    return generate_base(BASE_RECORDS, seed=12, mess=False)


@pytest.fixture
def fake(messy_base: GeneratedBase) -> Iterator[FakeAirtable]:
    with FakeAirtable(messy_base.tables, rate_limit=None) as server:
        yield server


@pytest.fixture(scope="session")
async def reference_dump(
    pg_server: PgServer, migrated_template: str, messy_base: GeneratedBase
) -> AsyncIterator[dict[str, Any]]:
    """The messy base migrated by one uninterrupted, fault-free run: what every run must end in."""
    name, url = await clone(pg_server, migrated_template)
    try:
        with FakeAirtable(messy_base.tables, rate_limit=None) as fake:
            await backfill(fake, url).run()
        yield await dump(url)
    finally:
        await pg_server.drop_database(name)
