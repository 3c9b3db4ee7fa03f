"""Cost of the public-ID codec per call: `uv run python benchmarks/bench_ids.py`.

Prints the median and the best per-call time over many repetitions, for encode and decode
of each entity type and for decode of invalid input, against the 20 us goal. It prints
figures only: timing goals do not belong in unit tests.
"""

import functools
import random
import statistics
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from podium.ids import DEVELOPMENT_ID_KEY, DOMAIN_SIZE, Entity, IdCodec

GOAL_US = 20.0
REPETITIONS = 31
BATCH = 1000
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

T = TypeVar("T")


def per_call_us(call: Callable[[T], object], inputs: Sequence[T]) -> list[float]:
    """Per-call time in microseconds for each repetition over the whole batch."""
    samples = []
    for _ in range(REPETITIONS):
        start = time.perf_counter_ns()
        for value in inputs:
            call(value)
        samples.append((time.perf_counter_ns() - start) / len(inputs) / 1000)
    return samples


def report(label: str, samples: list[float]) -> bool:
    median = statistics.median(samples)
    met = median < GOAL_US
    verdict = "ok" if met else "OVER GOAL"
    print(f"{label:<44} {median:8.2f} {min(samples):8.2f}   {verdict}")
    return met


def main() -> None:
    started = time.perf_counter()
    codec = IdCodec(DEVELOPMENT_ID_KEY)
    first_codec_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    IdCodec("another key")
    next_codec_ms = (time.perf_counter() - started) * 1000

    rng = random.Random(2024)
    print(f"per call, us (median and best of {REPETITIONS} runs of {BATCH} calls)")
    print(f"{'':<44} {'median':>8} {'best':>8}")
    all_met = True
    for entity in Entity:
        seqs = [rng.randrange(1, DOMAIN_SIZE) for _ in range(BATCH)]
        ids = [codec.encode(entity, seq) for seq in seqs]
        encode = functools.partial(codec.encode, entity)
        decode = functools.partial(codec.decode, entity)
        all_met &= report(f"encode {entity.value}", per_call_us(encode, seqs))
        all_met &= report(f"decode {entity.value}", per_call_us(decode, ids))

    valid = [codec.encode(Entity.PROJECT, rng.randrange(1, DOMAIN_SIZE)) for _ in range(BATCH)]
    # One character of the body changed: passes every cheap check and reaches the
    # re-encoding comparison, the most expensive way to be rejected.
    edited = []
    for public_id in valid:
        position = rng.randrange(3, len(public_id))
        replacement = rng.choice(ALPHABET.replace(public_id[position], ""))
        edited.append(public_id[:position] + replacement + public_id[position + 1 :])
    invalid = {
        "one body character edited": edited,
        "another entity's ID": ["e" + public_id[1:] for public_id in valid],
        "legacy record id": ["rec" + "".join(rng.choices(ALPHABET, k=14)) for _ in range(BATCH)],
        "100 kB string": ["p_" + "a" * 100_000] * BATCH,
    }
    decode_project = functools.partial(codec.decode, Entity.PROJECT)
    for label, inputs in invalid.items():
        all_met &= report(f"decode invalid: {label}", per_call_us(decode_project, inputs))

    print(f"first IdCodec in the process: {first_codec_ms:.1f} ms (builds shared sqids tables)")
    print(f"each further IdCodec:         {next_codec_ms:.1f} ms")
    print(f"20 us goal met by every median: {'yes' if all_met else 'NO'}")


if __name__ == "__main__":
    main()
