"""Small measuring helpers shared by the benchmark figures and the older single-topic scripts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Row:
    """One line of the result table; ``numbers`` is what ``--json`` writes."""

    figure: str
    value: str
    target: str
    met: bool
    numbers: dict[str, Any] = field(default_factory=dict)


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile, ``fraction`` in 0..1."""
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))]


def ms(seconds: float) -> float:
    return seconds * 1000.0


def timed(call: Callable[[], Any]) -> float:
    """Seconds one call took."""
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def side_by_side(
    first: Callable[[], Any], second: Callable[[], Any], calls: int, *, rounds: int = 10, warm: int = 20
) -> tuple[list[float], list[float]]:
    """Latencies of two ways to do the same thing, measured in alternating blocks (see alternate_blocks)."""
    return alternate_blocks(
        lambda count: [timed(first) for _ in range(count)],
        lambda count: [timed(second) for _ in range(count)],
        calls,
        rounds=rounds,
        warm=warm,
    )


def alternate_blocks(
    first: Callable[[int], list[float]],
    second: Callable[[int], list[float]],
    calls: int,
    *,
    rounds: int = 10,
    warm: int = 20,
) -> tuple[list[float], list[float]]:
    """Run ``calls`` samples of each side in ``rounds`` alternating blocks, after ``warm`` unrecorded ones.

    ``first(count)`` and ``second(count)`` each take ``count`` samples and return their latencies.
    Alternating spreads any change in the machine's load (other jobs, a CPU frequency step) over both
    sides instead of letting it land on one.
    """
    first(warm)
    second(warm)
    first_samples: list[float] = []
    second_samples: list[float] = []
    rounds = max(1, min(rounds, calls))
    for index in range(rounds):
        block = calls // rounds + (1 if index < calls % rounds else 0)
        first_samples.extend(first(block))
        second_samples.extend(second(block))
    return first_samples, second_samples


def blocks_of(latencies: list[float], block: int) -> list[float]:
    """Total seconds of each consecutive block of ``block`` calls."""
    return [sum(latencies[start : start + block]) for start in range(0, len(latencies) - block + 1, block)]
