"""What the operator sees: progress bars while it runs, tables at the end, the JSON report."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from podium.backfill.tables import TARGET_ORDER

COUNT_COLUMNS = (
    "read",
    "inserted",
    "updated",
    "unchanged",
    "quarantined",
    "trashed",
    "reported",
    "stale",
)


class ProgressView:
    """One bar per v1 table: records read (rate, ETA against the last run's count)."""

    def __init__(self, console: Console, *, enabled: bool) -> None:
        self.progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>9}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
            transient=False,
        )
        self.tasks: dict[str, TaskID] = {}

    def __enter__(self) -> ProgressView:
        self.progress.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.progress.stop()

    def add(self, stage: str, estimate: int | None, label: str = "") -> None:
        self.tasks[stage] = self.progress.add_task(
            f"{stage} {label}".strip(), total=estimate or None, rate="", start=False
        )

    def advance(self, stage: str, records: int) -> None:
        task_id = self.tasks[stage]
        self.progress.start_task(task_id)
        self.progress.advance(task_id, records)
        task = self.progress.tasks[task_id]
        speed = task.speed
        self.progress.update(task_id, rate=f"{speed:,.0f}/s" if speed else "")
        if task.total is not None and task.completed > task.total:
            self.progress.update(task_id, total=task.completed)

    def status(self, stage: str, text: str) -> None:
        self.progress.update(self.tasks[stage], description=f"{stage} {text}")

    def done(self, stage: str, text: str = "done") -> None:
        task_id = self.tasks[stage]
        self.progress.start_task(task_id)
        task = self.progress.tasks[task_id]
        self.progress.update(task_id, total=task.completed or 1, completed=task.completed or 1)
        self.status(stage, text)
        self.progress.stop_task(task_id)


def counts_table(title: str, counts: Mapping[str, Mapping[str, int]]) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("table")
    for name in COUNT_COLUMNS:
        table.add_column(name, justify="right")
    for target in TARGET_ORDER:
        if target in counts:
            row = counts[target]
            table.add_row(target, *(f"{row.get(name, 0):,}" for name in COUNT_COLUMNS))
    return table


def write_json_report(path: Path, payload: Mapping[str, Any]) -> None:
    """Write atomically, so a killed run never leaves half a report behind."""
    document = {"generated_at": datetime.now(UTC).isoformat(), **payload}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(document, indent=2, default=str, ensure_ascii=False) + "\n")
    partial.replace(path)
