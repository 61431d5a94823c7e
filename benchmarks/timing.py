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
