"""How cost grows with the work: a run's figures next to a run at another scale, and what each
list costs per project it returns.

The main figure is the server's and the database's CPU time per request at a fixed rate (the
small routes' and the lists' CPU steps): on a shared 2-core VM it moves by ~10 % between runs
where saturation moves by ~30 %. Saturation is shown beside it. A single-row route should cost
the same at both scales (flat); a list should cost a fixed part plus a part per project
(linear in its length), whatever the size of the database around it.
"""

from __future__ import annotations

import re
from typing import Any

import asyncpg
from rich.table import Table

from loadbench.seed import TABLE_ORDER
from loadbench.workload import (
    admin_leaderboard_label,
    floor_label,
    leaderboard_label,
    projects_label,
)

# The list kinds, by the label each gives a list of n projects.
LIST_KINDS = {
    "project list": projects_label,
    "leaderboard": leaderboard_label,
    "admin leaderboard": admin_leaderboard_label,
    "database floor (leaderboard)": floor_label,
}
_LENGTH = re.compile(r" \[(\d+)\]$")


async def database_size(conn: asyncpg.Connection) -> dict[str, Any]:
    """The database's size on disk and each seeded table's with its indexes and TOAST."""
    tables = {
        table: int(await conn.fetchval("SELECT pg_total_relation_size($1::regclass)", table))
        for table in TABLE_ORDER
    }
    total = int(await conn.fetchval("SELECT pg_database_size(current_database())"))
    return {"bytes": total, "tables": tables}


def list_kind(label: str) -> tuple[str, int] | None:
    """(kind, projects) of a plain list label (no encoding, no 304); None for anything else."""
    match = _LENGTH.search(label)
    if match is None:
        return None
    size = int(match.group(1))
    for kind, make in LIST_KINDS.items():
        if make(size) == label:
            return kind, size
    return None


def _cpu(results: dict[str, Any] | None) -> dict[str, float]:
    """Per label: server + database CPU ms per request at the fixed-rate steps."""
    found: dict[str, float] = {}
    for phase in ("small_routes_cpu", "lists_cpu"):
        for row in ((results or {}).get(phase) or {}).get("rows", []):
            label = row["list"] if row["variant"] == "-" else f"{row['list']} ({row['variant']})"
            found[label] = row["server_cpu_ms_per_request"] + row["database_cpu_ms_per_request"]
    return found


def _saturation(results: dict[str, Any] | None) -> dict[str, float]:
    return {route["label"]: route["saturation_rate"] for route in (results or {}).get("routes", [])}


def _scale_of(results: dict[str, Any] | None) -> int | None:
    if results is None:
        return None
    return int(results.get("settings", {}).get("scale", 1))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _fit(points: list[tuple[int, float]]) -> dict[str, float] | None:
    """Least squares of cost = fixed + per_item x n over (n, cost) points (two or more
    lengths); how far the longest list is from the line fitted through the others shows here
    as `worst_residual` (a share of its cost)."""
    if len({n for n, _ in points}) < 2:
        return None
    count = len(points)
    mean_n = sum(n for n, _ in points) / count
    mean_c = sum(c for _, c in points) / count
    spread = sum((n - mean_n) ** 2 for n, _ in points)
    slope = sum((n - mean_n) * (c - mean_c) for n, c in points) / spread
    fixed = mean_c - slope * mean_n
    residuals = [abs(c - (fixed + slope * n)) / c for n, c in points if c]
    return {
        "fixed_ms": fixed,
        "per_item_us": slope * 1000,
        "worst_residual": max(residuals, default=0.0),
    }


def compare(current: dict[str, Any], other: dict[str, Any] | None) -> dict[str, Any]:
    """Per route: this run's CPU per request and saturation next to `other`'s (a run at another
    scale, or nothing), and per list kind the cost per project at each length with a linear
    fit over this run's lengths and over both runs'."""
    cpu_now, cpu_then = _cpu(current), _cpu(other)
    sat_now, sat_then = _saturation(current), _saturation(other)
    labels = list(dict.fromkeys([*cpu_then, *cpu_now, *sat_then, *sat_now]))
    rows = []
    for label in labels:
        kind = list_kind(label)
        items = kind[1] if kind else None
        cpu_a, cpu_b = cpu_now.get(label), cpu_then.get(label)
        rows.append(
            {
                "label": label,
                "items": items,
                "cpu_ms": cpu_a,
                "other_cpu_ms": cpu_b,
                "cpu_ratio": _ratio(cpu_a, cpu_b),
                "cpu_us_per_item": cpu_a * 1000 / items if items and cpu_a is not None else None,
                "other_cpu_us_per_item": (
                    cpu_b * 1000 / items if items and cpu_b is not None else None
                ),
                "saturation": sat_now.get(label),
                "other_saturation": sat_then.get(label),
                "saturation_ratio": _ratio(sat_now.get(label), sat_then.get(label)),
            }
        )
    # Lists first by kind and length, then everything else in the runs' order.
    kinds = list(LIST_KINDS)

    def order(row: dict[str, Any]) -> tuple[int, int, int]:
        found = list_kind(row["label"])
        if found is None:
            return (1, 0, 0)  # stable sort: the runs' order
        return (0, kinds.index(found[0]), found[1])

    rows.sort(key=order)
    lines = []
    for kind in LIST_KINDS:
        for measure, now, then in (
            ("cpu_ms", cpu_now, cpu_then),
            ("saturation", sat_now, sat_then),
        ):
            points_now, points_then = [], []
            for label, value in now.items():
                found = list_kind(label)
                if found and found[0] == kind and value:
                    points_now.append((found[1], value if measure == "cpu_ms" else 1000 / value))
            for label, value in then.items():
                found = list_kind(label)
                if found and found[0] == kind and value:
                    points_then.append((found[1], value if measure == "cpu_ms" else 1000 / value))
            if not points_now and not points_then:
                continue
            lines.append(
                {
                    "kind": kind,
                    # cpu_ms: CPU ms per request; saturation: ms per request at saturation
                    # (1000 / requests per second: wall time of the whole machine per request)
                    "measure": measure,
                    "points": sorted(points_now),
                    "other_points": sorted(points_then),
                    "fit": _fit(points_now),
                    "fit_both": _fit(points_now + points_then),
                }
            )
    return {
        "scale": _scale_of(current),
        "other_scale": _scale_of(other),
        "other_started_at": (other or {}).get("started_at"),
        "rows": rows,
        "lists": lines,
    }


def _f(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "-"
    return f"{value:,.{digits}f}"


def tables(scale: dict[str, Any]) -> list[Table]:
    now = f"x{scale['scale']}"
    then = f"x{scale['other_scale']}" if scale["other_scale"] is not None else "other (none)"
    routes = Table(
        title=f"How cost grows with the work: this run ({now}) next to {then}. CPU: server + "
        "database CPU ms per request at a fixed rate (main figure); µs/n: that per project "
        "listed; sat: saturation /s (secondary)"
    )
    columns = (
        "route",
        "n",
        f"CPU {then}",
        f"CPU {now}",
        "ratio",
        f"µs/n {then}",
        f"µs/n {now}",
        f"sat {then}",
        f"sat {now}",
        "ratio ",
    )
    for column in columns:
        if column == "route":
            routes.add_column(column, justify="left", no_wrap=True)
        else:
            routes.add_column(column, justify="right")
    for row in scale["rows"]:
        routes.add_row(
            row["label"],
            f"{row['items']:,}" if row["items"] else "",
            _f(row["other_cpu_ms"]),
            _f(row["cpu_ms"]),
            _f(row["cpu_ratio"]),
            _f(row["other_cpu_us_per_item"], 1),
            _f(row["cpu_us_per_item"], 1),
            _f(row["other_saturation"], 0),
            _f(row["saturation"], 0),
            _f(row["saturation_ratio"]),
        )
    fits = Table(
        title="Lists: cost = fixed + per project x n, least squares (cpu_ms: CPU ms per request; "
        "saturation: 1000 / saturation rate, ms of the machine per request)"
    )
    for column in (
        "list",
        "measure",
        f"points {now} (n: ms)",
        f"points {then}",
        f"fixed ms ({now})",
        f"µs/project ({now})",
        "worst residual",
        "µs/project (both runs)",
        "worst residual ",
    ):
        fits.add_column(column, justify="left" if column in ("list", "measure") else "right")
    for line in scale["lists"]:
        fit, both = line["fit"] or {}, line["fit_both"] or {}
        fits.add_row(
            line["kind"],
            line["measure"],
            ", ".join(f"{n}: {c:.1f}" for n, c in line["points"]),
            ", ".join(f"{n}: {c:.1f}" for n, c in line["other_points"]),
            _f(fit.get("fixed_ms")),
            _f(fit.get("per_item_us"), 1),
            f"{fit['worst_residual']:.0%}" if fit else "-",
            _f(both.get("per_item_us"), 1),
            f"{both['worst_residual']:.0%}" if both else "-",
        )
    return [routes, fits]
