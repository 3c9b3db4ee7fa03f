"""Which pool a public read uses (podium.deps.read_database_of): the primary without a replica
whoever asks; with one, the replica for anonymous callers and the primary for any request with
an Authorization header (read-your-writes, docs/operations.md). The routing itself runs
against a real standby in tests/replica/."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request

from podium.db import Database
from podium.deps import read_database_of
from podium.read_replica import ReadReplica


def _request(app: FastAPI, headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    return Request({"type": "http", "app": app, "headers": raw, "method": "GET", "path": "/"})


def _app(with_replica: bool) -> tuple[FastAPI, Database, ReadReplica | None]:
    app = FastAPI()
    # Pools never opened: routing only picks one, it sends nothing.
    primary = Database("postgresql://primary.invalid/podium", size=1)
    replica = (
        ReadReplica(Database("postgresql://replica.invalid/podium", size=1), primary, max_lag=0)
        if with_replica
        else None
    )
    app.state.database, app.state.read_replica = primary, replica
    return app, primary, replica


def test_without_a_replica_every_read_uses_the_primary() -> None:
    app, primary, _ = _app(with_replica=False)
    assert read_database_of(_request(app, {})) is primary
    assert read_database_of(_request(app, {"Authorization": "Bearer t"})) is primary


def test_with_a_replica_anonymous_reads_use_it() -> None:
    app, _, replica = _app(with_replica=True)
    assert read_database_of(_request(app, {})) is replica
    assert read_database_of(_request(app, {"Accept": "application/json"})) is replica


def test_with_a_replica_a_request_with_a_token_reads_from_the_primary() -> None:
    app, primary, _ = _app(with_replica=True)
    for value in ("Bearer eyJhbGciOi", "bearer x", "Basic Zm9v", ""):
        assert read_database_of(_request(app, {"Authorization": value})) is primary, value
