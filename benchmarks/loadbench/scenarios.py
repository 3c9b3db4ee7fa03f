"""The phases of a run: per-route saturation searches, the persona mix, the voting burst."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from loadbench.http import HttpError, HttpPool
from loadbench.loadgen import (
    PhaseResult,
    Request,
    RouteStats,
    constant_rate,
    route_stats,
    run_schedule,
)
from loadbench.seed import SeededEvent
from loadbench.steal import cpu_counters, steal_share
from loadbench.workload import VOTE_RACING, Workload
from podium.services.access import max_votes_per_user


@dataclass(frozen=True)
class Timing:
    """How long each phase runs; `quick` shortens everything for a smoke run."""

    step_seconds: float = 3.0
    calibration_seconds: float = 1.5
    warmup_seconds: float = 1.0
    mix_seconds: float = 8.0
    burst_voters: int = 500
    burst_seconds: float = 10.0
    # Offered rate as a multiple of the closed-loop estimate, in order; stops at the first fail.
    step_factors: tuple[float, ...] = (0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 1.75)
    mix_fractions: tuple[float, ...] = (0.25, 0.5, 0.75)
    max_requests_per_step: int = 60_000
    # After the last planned factor is still sustained: up to this many steps, each this much
    # higher.
    max_extra_steps: int = 8
    extra_step_growth: float = 1.2
    # After the first step that is not sustained: this many bisection steps between it and the
    # last sustained one.
    refine_steps: int = 2
    calibration_concurrency: int = 16
    timeout: float = 10.0
    # The server-CPU steps (loadbench.wire.server_cpu): each variant this long at a fixed rate,
    # this many times interleaved.
    cpu_step_seconds: float = 5.0
    cpu_rounds: int = 2

    @classmethod
    def quick(cls) -> Timing:
        return cls(
            step_seconds=1.0,
            calibration_seconds=0.7,
            warmup_seconds=0.3,
            mix_seconds=2.0,
            burst_voters=100,
            burst_seconds=2.0,
            step_factors=(0.5, 0.9, 1.25),
            mix_fractions=(0.5,),
            cpu_step_seconds=1.5,
            cpu_rounds=1,
        )


@dataclass(frozen=True)
class Criteria:
    """When an offered rate counts as sustained (below saturation).

    Past saturation an open-model queue grows without end: throughput falls behind the offered
    rate and every percentile climbs. On a small shared VM, a scheduler stall of a few hundred
    milliseconds also lands in the p99 of a 3-second step now and then, so p99 alone would call
    saturation early; the judgement uses throughput, errors and p90, with p99 under a hard cap.
    """

    max_error_ratio: float = 0.001
    min_throughput_ratio: float = 0.95  # achieved / offered
    p90_blowup: float = 10.0  # p90 may grow to this multiple of the first step's p50 ...
    p90_floor_ms: float = 100.0  # ... or to this, whichever is larger
    p99_cap_ms: float = 1000.0

    def sustained(self, stats: RouteStats, offered: float, baseline_p50_ms: float) -> bool:
        if stats.count == 0:
            return False
        errors = stats.count - stats.ok
        return (
            errors <= self.max_error_ratio * stats.count
            and stats.achieved_rate >= self.min_throughput_ratio * offered
            and stats.p90_ms <= max(self.p90_floor_ms, self.p90_blowup * baseline_p50_ms)
            and stats.p99_ms <= self.p99_cap_ms
        )


@dataclass
class Step:
    offered: float
    stats: RouteStats
    sustained: bool
    generator_cpu: float  # share of one core the generator used
    steal: float = 0.0  # share of the machine's CPU time the hypervisor took during the step

    def as_dict(self) -> dict[str, object]:
        return {
            "offered_rate": self.offered,
            "sustained": self.sustained,
            "generator_cpu": self.generator_cpu,
            "cpu_steal_share": self.steal,
            **self.stats.as_dict(),
        }


@dataclass
class Saturation:
    label: str
    closed_loop_rate: float
    steps: list[Step] = field(default_factory=list)
    note: str = ""

    @property
    def saturation_rate(self) -> float:
        """The highest offered rate sustained (0 when none was)."""
        return max((step.offered for step in self.steps if step.sustained), default=0.0)

    @property
    def peak_achieved(self) -> float:
        return max((step.stats.achieved_rate for step in self.steps), default=0.0)

    def below_saturation(self) -> Step | None:
        """The sustained step nearest half the saturation rate (the 'normal load' figures)."""
        sustained = [step for step in self.steps if step.sustained]
        if not sustained:
            return None
        target = self.saturation_rate / 2
        return min(sustained, key=lambda step: abs(step.offered - target))

    def as_dict(self) -> dict[str, object]:
        return {
            "label": self.label,
            "closed_loop_rate": self.closed_loop_rate,
            "saturation_rate": self.saturation_rate,
            "peak_achieved_rate": self.peak_achieved,
            "note": self.note,
            "steps": [step.as_dict() for step in self.steps],
        }


async def closed_loop_rate(
    pool: HttpPool, requests: Callable[[], Request], seconds: float, concurrency: int
) -> float:
    """Completions per second of `concurrency` clients sending back to back: a first estimate."""
    deadline = time.perf_counter() + seconds
    done = 0

    async def client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            request = requests()
            try:
                response = await pool.send(request.data, 10.0)
            except (TimeoutError, HttpError):
                continue
            if response.status in request.expect:
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


def _cycle(requests: list[Request]) -> Callable[[], Request]:
    iterator = itertools.cycle(requests)
    return lambda: next(iterator)


async def saturation_search(
    pool: HttpPool,
    label: str,
    requests: Callable[[], Request],
    timing: Timing,
    criteria: Criteria,
    *,
    budget: int | None = None,
    progress: Callable[[str], None] = print,
) -> Saturation:
    """Step the offered rate up from half the closed-loop estimate until it is not sustained.

    `requests` gives the next request; `budget` caps how many may be made in all (for routes
    that consume their data, like votes).
    """
    used = 0

    def take() -> Request:
        nonlocal used
        used += 1
        return requests()

    await closed_loop_rate(pool, take, timing.warmup_seconds, 4)
    estimate = await closed_loop_rate(
        pool, take, timing.calibration_seconds, timing.calibration_concurrency
    )
    result = Saturation(label, estimate)
    baseline_p50 = 0.0

    async def step(factor: float) -> bool | None:
        """Run one step; None when the budget does not allow it."""
        nonlocal baseline_p50, used
        offered = max(1.0, estimate * factor)
        times = constant_rate(offered, timing.step_seconds, timing.max_requests_per_step)
        if budget is not None and used + len(times) > budget:
            result.note = f"request budget ({budget}) used up: saturation is at least the last rate"
            return None
        schedule = [(at, take()) for at in times]
        counters = cpu_counters()
        phase = await run_schedule(pool, label, schedule, offered_rate=offered)
        steal = steal_share(counters, cpu_counters())
        stats = route_stats(phase, label)
        if not baseline_p50:
            baseline_p50 = stats.p50_ms
        sustained = criteria.sustained(stats, offered, baseline_p50)
        result.steps.append(Step(offered, stats, sustained, phase.cpu_seconds / phase.wall, steal))
        progress(
            f"  {label:<52} offered {offered:8.1f}/s achieved {stats.achieved_rate:8.1f}/s "
            f"p50 {stats.p50_ms:7.1f} p99 {stats.p99_ms:8.1f} ms "
            f"errors {stats.count - stats.ok:<4} steal {steal:4.0%} "
            f"{'ok' if sustained else 'SATURATED'}"
        )
        await asyncio.sleep(0.3)  # let queues drain between steps
        return sustained

    first = timing.step_factors[0]
    outcome = await step(first)
    # Below the closed-loop estimate and already saturated: step down instead.
    halvings = 0
    while outcome is False and halvings < 3:
        halvings += 1
        baseline_p50 = 0.0
        outcome = await step(first / 2**halvings)

    async def holds(factor: float) -> bool:
        # A step that fails is run once more before it counts: at thousands of requests per
        # second one scheduler stall of the shared VM queues enough to fail a 3-second step,
        # and that says nothing about the route.
        return bool(await step(factor) or await step(factor))

    def higher() -> Iterator[float]:
        yield from timing.step_factors[1:]
        # Sustained at every planned step: the closed-loop estimate was low (16 clients do not
        # saturate a route whose latency is mostly waiting), so keep climbing; a rate reported
        # as "saturation" must have been followed by one that was not sustained.
        factor = timing.step_factors[-1]
        for _ in range(timing.max_extra_steps):
            factor *= timing.extra_step_growth
            yield factor

    if outcome:
        sustained = first / 2**halvings
        # After a halving, climb back through the rates halved away before going on: a first
        # step that failed on a stall of the shared VM (a p50 of 130 ms where the next step
        # down had 80) would otherwise leave the route at half its rate or less.
        back_up = [first / 2**h for h in range(halvings - 1, -1, -1)]
        for factor in itertools.chain(back_up, higher()):
            if not await holds(factor):
                # Narrow the gap between the last sustained step and this one (0.5 -> 0.75 of
                # the estimate is a 50 % jump): a bisection, one run per step.
                failed = factor
                for _ in range(timing.refine_steps):
                    middle = (sustained + failed) / 2
                    if await step(middle):
                        sustained = middle
                    else:
                        failed = middle
                return result
            sustained = factor
        result.note = "still sustained at the last step: saturation is at least that rate"
    return result


def persona_schedule(
    workload: Workload, rate: float, seconds: float, seed: int, max_requests: int
) -> list[tuple[float, Request]]:
    rng = random.Random(seed)
    return [
        (at, workload.persona_request(rng)) for at in constant_rate(rate, seconds, max_requests)
    ]


def mix_capacity(weights: dict[str, float], saturation: dict[str, float]) -> float:
    """Capacity of a mix from each route's own saturation rate (a route's cost is 1/rate)."""
    cost = sum(
        share / saturation[label] for label, share in weights.items() if saturation.get(label)
    )
    return 1 / cost if cost else 0.0


@dataclass
class Burst:
    phase: PhaseResult
    voters: list[str]


def _burst_plan(
    workload: Workload, event: SeededEvent, voters: list[str], seconds: float, seed: int
) -> Iterator[tuple[float, Request]]:
    """Voter i arrives at i * seconds / len(voters) and casts the event's limit of votes.

    Most send one request with all their votes, as the frontend does. One in ten races
    themselves instead: one request per vote plus one vote too many, all at the same instant,
    on their own row lock. Which of a racer's requests loses is not determined, so any of theirs
    may be refused (400), but every voter must end with exactly the limit: SQL checks that.
    """
    rng = random.Random(seed)
    interval = seconds / max(1, len(voters))
    limit = max_votes_per_user(len(event.project_seqs))
    for index, email in enumerate(voters):
        at = index * interval
        own = event.own_projects.get(email, set())
        candidates = [seq for seq in event.project_seqs if seq not in own]
        picks = rng.sample(candidates, limit + 1)
        if index % 10 != 0:
            yield at, workload.vote(event, email, picks[:limit])
            continue
        racing = frozenset({201, 400})
        for seq in picks[:limit]:
            yield at, workload.vote(event, email, [seq], label=VOTE_RACING, expect=racing)
        yield at, workload.vote(event, email, [picks[limit]], label=VOTE_RACING, expect=racing)


async def voting_burst(
    pool: HttpPool,
    workload: Workload,
    timing: Timing,
    *,
    organiser_rate: float,
    browse_rate: float,
    seed: int = 11,
) -> Burst:
    """The burst on the big event, with organisers polling its leaderboard and others browsing."""
    event = workload.big
    voters = event.non_voters[: timing.burst_voters]
    seconds = timing.burst_seconds
    schedule = list(_burst_plan(workload, event, voters, seconds, seed))
    if organiser_rate > 0:
        for at in constant_rate(organiser_rate, seconds, 100_000):
            schedule.append((at, workload.projects(event, event.owner_email, ranked=True)))
    rng = random.Random(seed)
    if browse_rate > 0:
        for at in constant_rate(browse_rate, seconds, 100_000):
            schedule.append((at, workload.persona_request(rng)))
    phase = await run_schedule(pool, "voting burst", schedule, offered_rate=None)
    return Burst(phase, voters)
