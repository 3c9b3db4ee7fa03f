"""Only podium.queries sends SQL: no other module of the web app reaches the database itself.

Read from the source: a module outside the query package that imports SQLAlchemy or asyncpg,
takes ormar's handle from podium.db, runs a statement itself on the `db` or `tx` it was given
(`.fetch()`, `.execute()`…), or uses ormar's query API (`Model.objects`, an awaited
`instance.update()/delete()/load()/save()`) is reported. The backfill and the cutover tools run
apart from the app and keep their own SQL; the models are the schema.
"""

from __future__ import annotations

import ast
from pathlib import Path

import podium

PACKAGE = Path(podium.__file__).parent
# Where SQL or the database handle belongs (app.py's lifespan opens and closes the pool;
# pooler.py looks at what DATABASE_URL leads to, on connections of its own, before the app starts;
# read_replica.py hands each read to the replica's pool or the primary's, as db.py's pool does).
ALLOWED = {
    "queries",
    "backfill",
    "cutover",
    "dev",
    "models",
    "db.py",
    "migrate.py",
    "app.py",
    "pooler.py",
    "read_replica.py",
}
ORMAR_INSTANCE_QUERIES = {"update", "delete", "load", "save", "upsert", "update_or_create"}
# ormar's handle (connected by tests and the demo seeder only).
DATABASE_HANDLE = {"ormar_database"}
# What a connection, a pool or podium.db.Database runs SQL with: a service that holds the
# request's `db` or `tx` passes it on to podium.queries, and never calls these itself.
DRIVER_CALLS = {
    "fetch",
    "fetchrow",
    "fetchval",
    "execute",
    "executemany",
    "copy_records_to_table",
    "acquire",
    "cursor",
    "prepare",
}


def _reaches_the_database(tree: ast.Module) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ("sqlalchemy", "asyncpg"):
                    found.append(f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            root = node.module.split(".")[0]
            if root in ("sqlalchemy", "asyncpg"):
                found.append(f"from {node.module} import …")
            if node.module == "podium.db" and {a.name for a in node.names} & DATABASE_HANDLE:
                found.append("the database handle from podium.db")
            if node.module == "podium" and "db" in {a.name for a in node.names}:
                found.append("from podium import db")
        elif isinstance(node, ast.Attribute) and node.attr == "objects":
            found.append("Model.objects")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in DRIVER_CALLS
        ):
            found.append(f"….{node.func.attr}()")
        if (
            isinstance(node, ast.Await)
            and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute)
            and node.value.func.attr in ORMAR_INSTANCE_QUERIES
        ):
            found.append(f"await ….{node.value.func.attr}()")
    return found


def _modules() -> dict[str, list[str]]:
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if relative.split("/")[0] in ALLOWED:
            continue
        found = _reaches_the_database(ast.parse(path.read_text(), str(path)))
        if found:
            offenders[relative] = found
    return offenders


def test_no_module_outside_the_query_layer_sends_sql() -> None:
    offenders = _modules()
    assert not offenders, f"SQL outside podium.queries: {offenders}"


def test_the_check_sees_each_kind_of_access() -> None:
    source = """
import sqlalchemy
from asyncpg import Connection
from podium.db import ormar_database
from podium import db
async def f(user, tx):
    await User.objects.get(id=1)
    await user.update(name="x")
    await tx.fetchrow("SELECT 1")
    await tx.execute("DELETE FROM users")
"""
    found = _reaches_the_database(ast.parse(source))
    assert len(found) == 8, found
