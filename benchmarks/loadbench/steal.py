"""How much of the machine's CPU time the hypervisor gave to other guests (`steal`).

On a shared cloud host the vCPUs of this VM are sometimes not running at all: /proc/stat counts
that time as steal. It moves every figure (throughput, latency, even CPU time per request
through cache and frequency effects) whatever runs inside the VM, so the runs record it.
"""

from __future__ import annotations

from pathlib import Path


def cpu_counters() -> tuple[float, float]:
    """(all, steal) jiffies of the machine so far, from /proc/stat's `cpu` line (0, 0 when
    unreadable). Steal is time the hypervisor gave this VM's vCPUs to someone else: on a shared
    host it moves every figure, whatever runs inside the VM."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0, 0.0
    values = [float(value) for value in fields[:8]]  # user … steal; guest time is in user
    return sum(values), values[7] if len(values) > 7 else 0.0


def steal_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of CPU time stolen by the hypervisor between two `cpu_counters()`."""
    total = after[0] - before[0]
    return (after[1] - before[1]) / total if total > 0 else 0.0
