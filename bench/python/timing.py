"""The sampling the CPython reference benches share."""

import statistics
import time


def timed(fn, n, warm=False):
    """Median ms of n runs of fn (after one unmeasured run if warm)."""
    if warm:
        fn()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)
