"""Runs the queue: takes due jobs, checks their links, stores the result or retries later.

`run_once` takes up to `batch` due jobs (each leased to this runner, podium.queries.link_checks)
and checks them concurrently, outside any transaction: a connection is held for the few short
statements only, never while a site is slow. `run_forever` is `podium worker`, and the task
`podium serve` runs with PODIUM_LINK_CHECKS=inline; any number of them may run against one
database (SKIP LOCKED and the lease keep each job with one runner at a time).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import timedelta

from podium.config import Settings
from podium.db import Database, Record, Timeouts
from podium.link_checks.checks import GitHub, Outcome, Reason, Severity, check_links, final
from podium.link_checks.fetcher import MAX_REDIRECTS, Fetcher
from podium.link_checks.guard import AddressGuard, parse_allowed, system_resolver
from podium.queries import link_checks as queue

log = logging.getLogger("podium.link_checks")

# How often an idle runner looks for due jobs.
POLL_SECONDS = 2.0
# Backoff past the first retry doubles up to this.
MAX_RETRY_SECONDS = 3600.0


@dataclass(frozen=True)
class RunnerConfig:
    guard: AddressGuard
    github: GitHub
    timeout: float
    max_attempts: int
    retry_seconds: float
    batch: int = 4

    @property
    def lease(self) -> timedelta:
        # Longer than a job can take (two fetches, each redirects included within `timeout`), so
        # a lease runs out only for a runner that died or lost the database.
        return timedelta(seconds=4 * self.timeout + 30)

    def retry_delay(self, attempts: int) -> timedelta:
        return timedelta(seconds=min(self.retry_seconds * 2 ** (attempts - 1), MAX_RETRY_SECONDS))

    @classmethod
    def from_settings(
        cls, settings: Settings, *, batch: int = 4, **overrides: object
    ) -> RunnerConfig:
        token = settings.github_token.get_secret_value() if settings.github_token else None
        values: dict[str, object] = {
            "guard": AddressGuard(parse_allowed(settings.link_check_allow_hosts), system_resolver),
            "github": GitHub(settings.github_api_url, token),
            "timeout": settings.link_check_timeout,
            "max_attempts": settings.link_check_max_attempts,
            "retry_seconds": settings.link_check_retry_seconds,
            "batch": batch,
        }
        return cls(**{**values, **overrides})  # type: ignore[arg-type]


@dataclass
class Report:
    """What one `run_once` did, for the tests and the log."""

    finished: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    superseded: list[str] = field(default_factory=list)

    @property
    def taken(self) -> int:
        return len(self.finished) + len(self.retried) + len(self.superseded)


async def _check(db: Database, config: RunnerConfig, job: Record, report: Report) -> None:
    project = str(job["project_id"])
    outcome: Outcome | None
    try:
        async with Fetcher(config.guard, timeout=config.timeout) as fetcher:
            outcome = await check_links(fetcher, config.github, job["repo"], job["demo"])
        error = "; ".join(r.message for r in outcome.reasons if r.transient)
    except Exception as exc:
        # A bug of ours must not end the runner: the job is tried again, then reported.
        log.exception("link check of project %s failed", project)
        outcome = None
        error = f"{type(exc).__name__}: {exc}"
    last_attempt = job["attempts"] >= config.max_attempts
    if (outcome is None or outcome.transient) and not last_attempt:
        delay = config.retry_delay(job["attempts"])
        await queue.retry_later(
            db, job["project_id"], job["lease"], job["generation"], delay, error
        )
        report.retried.append(project)
        return
    if outcome is None:
        outcome = Outcome([Reason("links", "check_failed", Severity.WARNING, "could not check")])
    stored = await queue.finish(
        db,
        job["project_id"],
        job["lease"],
        job["generation"],
        outcome.status.value,
        final(outcome),
    )
    (report.finished if stored else report.superseded).append(project)


async def run_once(db: Database, config: RunnerConfig) -> Report:
    """Take up to `config.batch` due jobs and check them; what happened to each."""
    report = Report()
    jobs = await queue.take(db, config.batch, config.lease)
    if jobs:
        await asyncio.gather(*(_check(db, config, job, report) for job in jobs))
    return report


async def run_forever(db: Database, config: RunnerConfig, stop: asyncio.Event) -> None:
    """Run the queue until `stop` is set; a database outage is waited out, not fatal."""
    log.info(
        "link checks: running (batch %d, %g s per fetch, %d redirects at most)",
        config.batch,
        config.timeout,
        MAX_REDIRECTS,
    )
    while not stop.is_set():
        try:
            report = await run_once(db, config)
        except Exception as exc:
            log.warning("link checks: %s; trying again in %g s", exc, POLL_SECONDS)
            report = Report()
        if report.taken:
            log.info(
                "link checks: %d finished, %d to retry, %d superseded",
                len(report.finished),
                len(report.retried),
                len(report.superseded),
            )
            continue  # more may be due
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), POLL_SECONDS)


def database_for(settings: Settings, size: int) -> Database:
    """A pool for a runner, with the app's timeouts."""
    assert settings.database_url is not None
    return Database(
        settings.database_url,
        size=size,
        pgbouncer=settings.database_pgbouncer,
        timeouts=Timeouts(
            connect=settings.database_connect_timeout,
            acquire=settings.database_acquire_timeout,
            statement=settings.database_statement_timeout,
            idle=settings.database_idle_timeout,
        ),
    )
