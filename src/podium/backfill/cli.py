"""`scripts/migrate_from_airtable.py`: run, --dry-run, verify and delta from the command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.table import Table

from podium import timestamps
from podium.backfill.airtable import AirtableSource
from podium.backfill.database import AnotherBackfillRunning
from podium.backfill.pipeline import Backfill, Options, Result
from podium.backfill.report import counts_table, write_json_report
from podium.backfill.settings import ConfigurationError, load_settings
from podium.backfill.verify import SHOWN, VerifyResult, verify

EXIT_OK, EXIT_MISMATCH, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrate_from_airtable.py",
        description="Migrate Podium v1 (Airtable) into PostgreSQL. Configured by AIRTABLE_TOKEN, "
        "AIRTABLE_BASE_ID, AIRTABLE_API_URL, AIRTABLE_*_TABLE and DATABASE_URL; see "
        "docs/backfill.md.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--report",
        type=Path,
        help="JSON report file (default: backfill-<command>.json in the current directory)",
    )
    common.add_argument(
        "--requests-per-second",
        type=float,
        help="Airtable requests per second (default: AIRTABLE_REQUESTS_PER_SECOND or 5)",
    )
    common.add_argument(
        "--rate-limit-wait",
        type=float,
        help="seconds to wait after a 429 (default: AIRTABLE_RATE_LIMIT_WAIT or 30)",
    )
    common.add_argument(
        "--batch-size", type=int, default=5000, help="rows per INSERT statement (default 5000)"
    )
    common.add_argument("--no-progress", action="store_true", help="no progress bars")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", parents=[common], help="migrate every table (resumes an unfinished run)"
    )
    run.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    run.add_argument(
        "--restart", action="store_true", help="ignore the checkpoints of an unfinished run"
    )
    run.add_argument(
        "--delete",
        action="store_true",
        help="delete rows and links whose v1 record is gone or no longer migrates",
    )

    delta = commands.add_parser(
        "delta",
        parents=[common],
        help="re-sync records created or modified since a time; report deleted records",
    )
    delta.add_argument(
        "--since",
        required=True,
        help="ISO 8601 time (UTC if no offset), or 'last' for the start of the last finished run",
    )
    delta.add_argument(
        "--dry-run", action="store_true", help="report what would change; write nothing"
    )
    delta.add_argument(
        "--delete", action="store_true", help="delete the rows of records deleted in Airtable"
    )
    delta.add_argument(
        "--skip-deletion-scan",
        action="store_true",
        help="do not list every record id to find deletions (saves one read of the base)",
    )

    commands.add_parser(
        "verify", parents=[common], help="compare Airtable and PostgreSQL; non-zero on mismatch"
    )
    return parser


def parse_since(text: str) -> datetime | None:
    """`last` (the previous run's start) or an ISO time with a zone."""
    return None if text == "last" else timestamps.parse_since(text)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    console = Console()
    errors = Console(stderr=True)
    overrides: dict[str, Any] = {}
    if arguments.requests_per_second is not None:
        overrides["AIRTABLE_REQUESTS_PER_SECOND"] = arguments.requests_per_second
    if arguments.rate_limit_wait is not None:
        overrides["AIRTABLE_RATE_LIMIT_WAIT"] = arguments.rate_limit_wait
    try:
        settings = load_settings(**overrides)
        since = parse_since(arguments.since) if arguments.command == "delta" else None
    except (ConfigurationError, ValueError) as error:
        errors.print(f"[red]configuration:[/red] {error}")
        return EXIT_ERROR
    source = AirtableSource(settings.source_config())
    report = arguments.report or Path(f"backfill-{arguments.command}.json")
    try:
        if arguments.command == "verify":
            result = asyncio.run(verify(source, settings.database_url))
            print_verify(console, result)
            write_json_report(report, verify_report(result, settings.airtable_base_id))
            errors.print(f"report: {report}")
            return EXIT_OK if result.ok else EXIT_MISMATCH
        options = Options(
            dry_run=arguments.dry_run,
            delete=arguments.delete,
            restart=getattr(arguments, "restart", False),
            batch_size=arguments.batch_size,
            progress=not arguments.no_progress and errors.is_terminal,
        )
        backfill = Backfill(source, settings.database_url, options=options, console=errors)
        if arguments.command == "run":
            outcome = asyncio.run(backfill.run())
        else:
            outcome = asyncio.run(
                backfill.delta(since, scan_deletions=not arguments.skip_deletion_scan)
            )
        print_result(console, outcome)
        write_json_report(report, result_report(outcome, settings.airtable_base_id))
        errors.print(f"quarantine report: {report}")
        return EXIT_OK
    except AnotherBackfillRunning as error:
        errors.print(f"[red]{error}[/red]")
        return EXIT_ERROR
    except asyncpg.UndefinedTableError as error:
        errors.print(f"[red]the database is not migrated ({error}); run `podium migrate`[/red]")
        return EXIT_ERROR
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted; `run` again to resume[/yellow]")
        return 130
    finally:
        source.close()


# -- output --------------------------------------------------------------------------------


def print_result(console: Console, result: Result) -> None:
    mode = " (dry run: nothing written)" if result.dry_run else ""
    since = f" since {result.since.isoformat()}" if result.since else ""
    console.print(counts_table(f"{result.command}{since}{mode}", result.counts))
    if result.resumed:
        console.print(f"resumed: {', '.join(result.resumed)} finished by an earlier attempt")
    if result.entries:
        rules = Counter(
            (entry["table"], entry["rule"], entry["disposition"]) for entry in result.entries
        )
        table = Table(title="quarantine", title_justify="left")
        for column in ("table", "rule", "disposition", "records"):
            table.add_column(column, justify="right" if column == "records" else "left")
        for (source_table, rule, disposition), count in sorted(rules.items()):
            table.add_row(source_table, rule, disposition, str(count))
        console.print(table)
    for stage, record_ids in result.deleted.items():
        if record_ids:
            shown = ", ".join(record_ids[:SHOWN]) + (" …" if len(record_ids) > SHOWN else "")
            console.print(f"deleted in Airtable: {stage}: {len(record_ids)} ({shown})")
    if any(result.deleted.values()) and not result.removed:
        console.print("rows of deleted records are kept; pass --delete to remove them")
    for table_name, count in result.removed.items():
        console.print(f"removed from {table_name}: {count}")
    stats = result.read_stats
    console.print(
        f"Airtable: {stats.get('requests', 0)} requests, {stats.get('rate_limited', 0)} rate-limited, "
        f"{stats.get('retried', 0)} retried, {stats.get('restarts', 0)} listings restarted; "
        f"{result.seconds:.1f} s"
    )


def print_verify(console: Console, result: VerifyResult) -> None:
    table = Table(title="verify", title_justify="left")
    for column in (
        "table",
        "airtable",
        "postgres",
        "quarantined",
        "missing",
        "extra",
        "mismatched",
        "links",
        "link problems",
        "status",
    ):
        table.add_column(column, justify="left" if column in ("table", "status") else "right")
    for check in [*result.tables, result.quarantine]:
        table.add_row(
            check.table,
            f"{check.airtable:,}",
            f"{check.postgres:,}",
            f"{check.quarantined:,}",
            str(len(check.missing)),
            str(len(check.extra)),
            str(len(check.mismatched)),
            f"{check.links_checked:,}",
            str(len(check.link_problems)),
            "[green]ok[/green]" if check.ok else "[red]MISMATCH[/red]",
        )
    console.print(table)
    for check in [*result.tables, result.quarantine]:
        for label, items in (
            ("missing in PostgreSQL", check.missing),
            ("extra in PostgreSQL", check.extra),
            ("fields differ", check.mismatched),
            ("links", check.link_problems),
        ):
            if items:
                console.print(f"[red]{check.table}: {label} ({len(items)}):[/red]")
                for item in items[:SHOWN]:
                    console.print(f"  {item}")
    console.print("[green]verify: ok[/green]" if result.ok else "[red]verify: MISMATCH[/red]")


def result_report(result: Result, base_id: str) -> dict[str, Any]:
    return {
        "command": result.command,
        "base_id": base_id,
        "dry_run": result.dry_run,
        "since": result.since.isoformat() if result.since else None,
        "resumed_stages": result.resumed,
        "counts": result.counts,
        "deleted_in_airtable": result.deleted,
        "removed": result.removed,
        "airtable_requests": result.read_stats,
        "quarantine": result.entries,
    }


def verify_report(result: VerifyResult, base_id: str) -> dict[str, Any]:
    return {
        "command": "verify",
        "base_id": base_id,
        "ok": result.ok,
        "tables": [check.as_json() for check in result.tables],
        "quarantine": result.quarantine.as_json(),
        "airtable_requests": result.read_stats,
    }


if __name__ == "__main__":
    sys.exit(main())
