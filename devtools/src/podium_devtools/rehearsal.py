"""A timed dress rehearsal of the cutover runbook against a generated base on the fake Airtable.

    uv run python -m podium_devtools.rehearsal --records 50000 --output rehearsal.json

Runs docs/cutover.md's commands as the operator would (each its own process, configured by
environment variables only) against a generated messy v1 base served by the fake Airtable at
Airtable's limits (5 requests/second, 30 s penalty after a 429) and an embedded PostgreSQL
(or DATABASE_URL's server), and prints how long each step took. The timings in docs/cutover.md
come from this.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import httpx

from podium.migrate import PROJECT_ROOT
from podium_devtools.airtable_base import generate_base
from podium_devtools.airtable_store import FakeClock
from podium_devtools.fake_airtable import FakeAirtable

SMOKE_ACCOUNTS = ("smoke-a@podium.example", "smoke-b@podium.example")
_RUNNING_ON = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@dataclass
class Step:
    name: str
    command: str
    seconds: float
    exit_code: int
    note: str = ""


@dataclass
class Rehearsal:
    records: int
    seed: int
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    def run(
        self, name: str, arguments: Sequence[str], *, report: bool = True, note: str = ""
    ) -> Step:
        """Run one runbook command in its own process; its output goes to workdir/<n>.log and
        its JSON report (when it writes one) to workdir/<n>.json."""
        slug = re.sub(r"\W+", "-", name).strip("-")
        log = self.workdir / f"{len(self.steps) + 1:02d}-{slug}.log"
        if report:
            arguments = [*arguments, "--report", str(log.with_suffix(".json"))]
        started = time.monotonic()
        with log.open("wb") as output:
            code = subprocess.call(
                [sys.executable, *arguments],
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=PROJECT_ROOT,
            )
        step = Step(name, " ".join(arguments), round(time.monotonic() - started, 1), code, note)
        self.steps.append(step)
        print(f"{step.seconds:8.1f} s  exit {code}  {name}", flush=True)
        if code != 0:
            raise SystemExit(f"{name} failed (exit {code}); see {log}")
        # Each tool paces itself; do not let the next one meet its last requests in the window.
        time.sleep(1.0)
        return step


@contextmanager
def _database(workdir: Path) -> Iterator[str]:
    given = os.environ.get("DATABASE_URL")
    if given:
        yield given
        return
    from podium.dev import embedded

    server = embedded.start(workdir / "pgdata", delete_on_stop=True)
    try:
        server.server.psql("CREATE DATABASE podium_rehearsal")
        yield server.url("podium_rehearsal")
    finally:
        server.stop()


def _start_api(rehearsal: Rehearsal) -> tuple[subprocess.Popen[bytes], str, float]:
    log = rehearsal.workdir / "api.log"
    started = time.monotonic()
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "podium.cli", "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=rehearsal.env,
            cwd=PROJECT_ROOT,
        )
    while time.monotonic() - started < 120:
        match = _RUNNING_ON.search(log.read_text(errors="replace"))
        if match:
            try:
                if httpx.get(f"{match.group(1)}/health", timeout=2).status_code == 200:
                    return process, match.group(1), round(time.monotonic() - started, 1)
            except httpx.HTTPError:
                pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise SystemExit(f"the API did not start; see {log}")


def _v1_changes_during_the_window(fake: FakeAirtable, count: int, rng: random.Random) -> None:
    """Last edits in v1 between the full run and the final delta."""
    users = fake.tables["users"]
    for record in rng.sample(users, count):
        fake.update_record("users", record["id"], {"city": "Changed before cutover"})
    for number in range(count // 2):
        fake.add_record("users", {"email": f"late-{number}@v1.example", "first_name": "Late"})


async def _migrated_event(database_url: str) -> str:
    conn = await asyncpg.connect(database_url)
    try:
        record_id: str = await conn.fetchval(
            "SELECT airtable_id FROM events WHERE airtable_id IS NOT NULL ORDER BY seq LIMIT 1"
        )
    finally:
        await conn.close()
    return record_id


async def _v2_usage(database_url: str, rng: random.Random, scale: int) -> dict[str, int]:
    """What users do in v2 before the rollback: rows as the API would write them."""
    conn = await asyncpg.connect(database_url)
    counts: dict[str, int] = {}
    try:
        migrated = [r["id"] for r in await conn.fetch("SELECT id FROM users LIMIT 2000")]
        new_users = [
            await conn.fetchval(
                "INSERT INTO users (email, first_name, display_name) VALUES ($1, 'New', 'New U.') "
                "RETURNING id",
                f"v2-{number}-{secrets.token_hex(3)}@example.org",
            )
            for number in range(scale * 30)
        ]
        counts["new users"] = len(new_users)
        projects, votes = 0, 0
        for number in range(scale):
            people = rng.sample(new_users, 15) + rng.sample(migrated, 15)
            event = await conn.fetchval(
                "INSERT INTO events (name, slug, join_code, owner_id, phase) "
                "VALUES ($1, $2, $3, $4, 'voting') RETURNING id",
                f"V2 Jam {number}",
                f"v2-jam-{number}",
                f"VJAM{number:04d}",
                people[0],
            )
            for person in people:
                await conn.execute(
                    "INSERT INTO event_attendees (event_id, user_id) VALUES ($1, $2)", event, person
                )
            owned = []
            for index, owner in enumerate(people[:10]):
                owned.append(
                    await conn.fetchval(
                        "INSERT INTO projects (name, join_code, owner_id, event_id) "
                        "VALUES ($1, $2, $3, $4) RETURNING id",
                        f"V2 project {number}-{index}",
                        f"VP{number:03d}X{index:03d}",
                        owner,
                        event,
                    )
                )
                projects += 1
            for voter in people[10:]:
                for project in rng.sample(owned, 2):
                    await conn.execute(
                        "INSERT INTO votes (voter_id, project_id, event_id) VALUES ($1, $2, $3)",
                        voter,
                        project,
                        event,
                    )
                    votes += 1
            for person in people[10:20]:
                await conn.execute(
                    "INSERT INTO referrals (content, user_id, event_id) VALUES ('a friend', $1, $2)",
                    person,
                    event,
                )
        counts.update({"new events": scale, "new projects": projects, "new votes": votes})
        counts["new referrals"] = scale * 10
        counts["edited projects"] = int(
            (
                await conn.execute(
                    "UPDATE projects SET description = 'edited in v2' WHERE id IN "
                    "(SELECT id FROM projects WHERE airtable_id IS NOT NULL LIMIT $1)",
                    scale * 10,
                )
            ).split()[-1]
        )
        counts["deleted projects"] = int(
            (
                await conn.execute(
                    "DELETE FROM projects WHERE id IN (SELECT id FROM projects "
                    "WHERE airtable_id IS NOT NULL ORDER BY seq DESC LIMIT $1)",
                    max(1, scale // 4),
                )
            ).split()[-1]
        )
    finally:
        await conn.close()
    return counts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m podium_devtools.rehearsal", description=__doc__
    )
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--v2-scale", type=int, default=10, help="v2 usage: events of 30 people")
    parser.add_argument("--output", type=Path, default=Path("cutover-rehearsal.json"))
    arguments = parser.parse_args(argv)
    rng = random.Random(arguments.seed)
    workdir = Path(tempfile.mkdtemp(prefix="podium-rehearsal-"))
    print(f"logs in {workdir}", flush=True)
    started = time.monotonic()
    base = generate_base(arguments.records, seed=arguments.seed)
    generated = round(time.monotonic() - started, 1)
    fake = FakeAirtable(
        base.tables, rate_limit=5.0, rate_limit_penalty=30.0, clock=FakeClock(wall=True)
    )
    for email in SMOKE_ACCOUNTS:
        fake.add_record("users", {"email": email, "first_name": "Smoke"})
    jwt_secret = secrets.token_urlsafe(32)
    rehearsal = Rehearsal(arguments.records, arguments.seed, workdir)
    with fake, _database(workdir) as database_url:
        rehearsal.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("PODIUM_", "AIRTABLE_"))},
            **fake.env(),
            "DATABASE_URL": database_url,
            "PODIUM_ENV": "production",
            "PODIUM_JWT_SECRET": jwt_secret,
            "PODIUM_ID_KEY": secrets.token_urlsafe(16),
            "PODIUM_LOOPS_API_KEY": "unused",
            "PODIUM_LOOPS_TRANSACTIONAL_ID": "unused",
            "COLUMNS": "160",
        }
        migrate_tool = "scripts/migrate_from_airtable.py"
        rehearsal.run("schema: podium migrate", ["-m", "podium.cli", "migrate"], report=False)
        rehearsal.run("backfill dry run", [migrate_tool, "run", "--dry-run", "--no-progress"])
        rehearsal.run("backfill run", [migrate_tool, "run", "--no-progress"])
        rehearsal.run("verify", [migrate_tool, "verify", "--no-progress"])
        _v1_changes_during_the_window(fake, 50, rng)
        rehearsal.run(
            "final delta (50 edits, 25 new)",
            [migrate_tool, "delta", "--since", "last", "--no-progress"],
        )
        rehearsal.run("verify after delta", [migrate_tool, "verify", "--no-progress"])
        process, url, startup = _start_api(rehearsal)
        rehearsal.steps.append(
            Step("deploy: podium serve until /health", "podium serve", startup, 0)
        )
        try:
            legacy = asyncio.run(_migrated_event(database_url))
            rehearsal.run(
                "smoke test",
                [
                    "scripts/smoke_test.py",
                    url,
                    "--accounts",
                    *SMOKE_ACCOUNTS,
                    "--legacy-id",
                    legacy,
                ],
                report=False,
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
        since = datetime.now(UTC).isoformat()
        usage = asyncio.run(_v2_usage(database_url, rng, arguments.v2_scale))
        rollback_tool = "scripts/rollback_to_airtable.py"
        rehearsal.run(
            "write-back dry run",
            [rollback_tool, "--since", since, "--dry-run", "--max-deletes", "1000"],
        )
        rehearsal.run("write-back", [rollback_tool, "--since", since, "--max-deletes", "1000"])
        rehearsal.run("write-back again (writes nothing)", [rollback_tool, "--since", since])
        sizes = {name: len(records) for name, records in fake.tables.items()}
        rate_limited = fake.rate_limited
    report = {
        "records": arguments.records,
        "seed": arguments.seed,
        "base_after": sizes,
        "generated_seconds": generated,
        "v2_usage": usage,
        "airtable_429s": rate_limited,
        "steps": [step.__dict__ for step in rehearsal.steps],
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "logs": str(workdir),
    }
    arguments.output.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "steps"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
