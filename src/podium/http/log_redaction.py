"""The access log without secrets: a login link's token is a password for 15 minutes, and
`GET /verify?token=…` would otherwise write it to every log the access log reaches."""

from __future__ import annotations

import logging

# Query parameters whose value is a secret.
SECRET_PARAMETERS = frozenset({"token"})
REDACTED = "[redacted]"
ACCESS_LOGGER = "uvicorn.access"


def redact_query(path: str) -> str:
    """`/verify?token=eyJ…&redirect=/x` → `/verify?token=[redacted]&redirect=/x`."""
    base, mark, query = path.partition("?")
    if not mark:
        return path
    parts = []
    for pair in query.split("&"):
        name, equals, _ = pair.partition("=")
        parts.append(f"{name}={REDACTED}" if equals and name in SECRET_PARAMETERS else pair)
    return f"{base}?{'&'.join(parts)}"


class RedactSecrets(logging.Filter):
    """Rewrites the path uvicorn's access log line carries: its arguments are
    (client, method, path with query, HTTP version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
            and "?" in args[2]
        ):
            record.args = (*args[:2], redact_query(args[2]), *args[3:])
        return True


def install() -> None:
    """Filter the access log (once per process; uvicorn keeps a logger's filters when it
    configures logging)."""
    logger = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(existing, RedactSecrets) for existing in logger.filters):
        logger.addFilter(RedactSecrets())
