"""The run's figures: a JSON file under benchmarks/results/ and readable tables."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from loadbench.loadgen import PhaseResult, RouteStats, route_stats
from loadbench.scenarios import Saturation

RESULTS_DIR = Path(__file__).resolve().parents[1] / "results"


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages * size / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "load_average_at_start": os.getloadavg(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], capture_output=True, text=True, check=True, cwd=RESULTS_DIR.parent
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _errors(stats: RouteStats) -> str:
    if not stats.errors:
        return "0"
    return ", ".join(f"{count} {kind}" for kind, count in sorted(stats.errors.items()))


@dataclass
class Goal:
    name: str
    measured: str
    target: str
    met: bool | None  # None: context, or nothing to judge against
    why: str = ""

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def saturation_table(searches: list[Saturation], ceiling: float) -> Table:
    table = Table(title="Per route: saturation (open model, step-up) and latency below it")
    for column in ("route", "saturation /s", "x ceiling", "at offered /s", "p50 ms", "p90 ms"):
        table.add_column(column, justify="left" if column == "route" else "right")
    table.add_column("p99 ms", justify="right")
    table.add_column("errors", justify="right")
    for search in searches:
        below = search.below_saturation()
        ratio = f"{search.saturation_rate / ceiling:.2f}" if ceiling else "-"
        if below is None:
            table.add_row(search.label, "0", ratio, "-", "-", "-", "-", "-")
            continue
        stats = below.stats
        table.add_row(
            search.label,
            f"{search.saturation_rate:.0f}" + ("+" if search.note else ""),
            ratio,
            f"{below.offered:.0f}",
            _ms(stats.p50_ms),
            _ms(stats.p90_ms),
            _ms(stats.p99_ms),
            _errors(stats),
        )
    return table


def phase_table(title: str, phases: list[PhaseResult]) -> Table:
    table = Table(title=title)
    for column in ("offered /s", "route", "requests", "achieved /s", "p50 ms", "p90 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "route" else "right")
    table.add_column("errors", justify="right")
    for phase in phases:
        offered = f"{phase.offered_rate:.0f}" if phase.offered_rate else "-"
        for label in [*phase.labels(), None]:
            stats = route_stats(phase, label)
            table.add_row(
                offered if label is None else "",
                label or "[b]all[/b]",
                str(stats.count),
                f"{stats.achieved_rate:.1f}",
                _ms(stats.p50_ms),
                _ms(stats.p90_ms),
                _ms(stats.p99_ms),
                _errors(stats),
                end_section=label is None,
            )
    return table


def goals_table(goals: list[Goal]) -> Table:
    table = Table(title="Goals (ratios measured in this run)")
    for column in ("goal", "measured", "target", "met"):
        table.add_column(column)
    for goal in goals:
        verdicts = {None: "-", True: "[green]yes[/green]", False: "[red]NO[/red]"}
        verdict = verdicts[goal.met]
        table.add_row(goal.name, goal.measured, goal.target, verdict)
    return table


def wire_tables(wire: dict[str, Any]) -> list[Table]:
    """Issue #12: bytes per encoding, the encoders in process, the server's CPU per request."""
    sizes = Table(title="Bytes on the wire per response (mean body as sent; ratio to identity)")
    for column in ("response", "Accept-Encoding", "sent as", "body bytes", "ratio", "head bytes"):
        sizes.add_column(
            column,
            justify="left" if column in ("response", "Accept-Encoding", "sent as") else "right",
        )
    previous = None
    for row in wire["sizes"]:
        accepted = row["accept_encoding"] or "(none)"
        sizes.add_row(
            row["list"] if row["list"] != previous else "",
            accepted,
            row["content_encoding"],
            f"{row['body_bytes']:,.0f}",
            f"{row['ratio']:.3f}",
            f"{row['head_bytes']:.0f}",
        )
        previous = row["list"]
    encoders = wire["encoders"]
    levels = ", ".join(f"{k} {v}" for k, v in encoders["settings"].items())
    timing = Table(
        title=f"The middleware's encoders in process, one body at a time ({levels}; in "
        "brackets: other levels, for comparison)"
    )
    for column in ("body", "encoding", "in bytes", "out bytes", "CPU ms", "wall ms (best)"):
        timing.add_column(column, justify="left" if column in ("body", "encoding") else "right")
    previous = None
    for row in encoders["rows"]:
        timing.add_row(
            row["list"] if row["list"] != previous else "",
            row["encoding"] if row["middleware"] else f"({row['encoding']})",
            f"{row['input_bytes']:,}",
            f"{row['output_bytes']:,}",
            f"{row['cpu_ms_median']:.2f}",
            f"{row['wall_ms_median']:.2f} ({row['wall_ms_best']:.2f})",
        )
        previous = row["list"]
    cpu = cpu_table("Lists: CPU per request at a fixed rate", wire["server_cpu"])
    return [sizes, timing, cpu]


def cpu_table(title: str, cpu: dict[str, Any]) -> Table:
    """CPU per request of the server's processes and of its database's backends (/proc)."""
    table = Table(
        title=f"{title} (net of idle: server {cpu['idle_server_cores_busy'] * 1000:.1f} ms/s, "
        f"database {cpu['idle_database_cores_busy'] * 1000:.1f} ms/s)"
    )
    for column in ("route", "variant", "rate /s", "server ms", "(per round)", "database ms"):
        table.add_column(column, justify="left" if column in ("route", "variant") else "right")
    table.add_column("p50 ms", justify="right")
    table.add_column("errors", justify="right")
    previous = None
    for row in cpu["rows"]:
        table.add_row(
            row["list"] if row["list"] != previous else "",
            row["variant"],
            f"{row['rate']:.0f}",
            f"{row['server_cpu_ms_per_request']:.2f}",
            ", ".join(f"{value:.2f}" for value in row["per_round_ms"]),
            f"{row['database_cpu_ms_per_request']:.2f}",
            _ms(row["p50_ms"]),
            str(row["errors"]),
        )
        previous = row["list"]
    return table


def print_tables(console: Console, tables: list[Table]) -> None:
    for table in tables:
        console.print(table)
