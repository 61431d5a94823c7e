"""Side-by-side timing: candidates alternate call by call, and medians are compared.

On a shared machine the disk and the CPU change speed from one millisecond to the next.
Alternating single calls (A B B A A B ...) puts both candidates under the same weather, and
medians of per-call times ignore the calls that another process preempted.
"""

import statistics
import time
from collections.abc import Callable


def alternating(calls: int, *candidates: Callable[[], object]) -> list[list[float]]:
    """Seconds per call of each candidate, `calls` calls each, alternating the order."""
    times: list[list[float]] = [[] for _ in candidates]
    clock = time.perf_counter
    order = list(enumerate(candidates))
    for _ in range(calls):
        for index, candidate in order:
            start = clock()
            candidate()
            times[index].append(clock() - start)
        order.reverse()
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def paired_ratio(numerators: list[float], denominators: list[float]) -> float:
    """The median of call-by-call ratios: each pair ran back to back, under the same weather,
    so a disk that switches between fast and slow spells does not skew the comparison."""
    return statistics.median(n / d for n, d in zip(numerators, denominators, strict=True))


def paired_difference(minuends: list[float], subtrahends: list[float]) -> float:
    """The median of call-by-call differences, e.g. what a command costs over a raw insert."""
    return statistics.median(m - s for m, s in zip(minuends, subtrahends, strict=True))


def interleaved(
    rounds: int, first: Callable[[], float], second: Callable[[], float]
) -> tuple[list[float], list[float]]:
    """What each candidate reports (e.g. the seconds of the part it times itself), `rounds`
    times each, alternating which goes first."""
    results: tuple[list[float], list[float]] = ([], [])
    order = [(0, first), (1, second)]
    for _ in range(rounds):
        for index, candidate in order:
            results[index].append(candidate())
        order.reverse()
    return results
