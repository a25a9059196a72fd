"""CPython's multiprocessing.Pool, the reference bench/pool.bench.ts compares with.

    python3 bench/python/pool.py [--quick]

Pool(2) with the spawn start method (multiproc's "process" is a spawn: a
fresh interpreter importing the main module), the same workloads as
bench/pool.bench.ts:

- tasks: 20k (5k quick) apply_async of a trivial function, all submitted, then every get()
- map:   pool.map(square, range(1_000_000))
- imap:  list(pool.imap(square, range(10_000), 1))
- cpu:   64 tasks (16 quick) of a 20 ms busy loop, map with chunksize 1; speedup over inline
- start: Pool(2) to the first apply() result (the pool is closed after the clock)

Prints one JSON object: {"python": version, "results": [{group, impl,
median_ms, rate}]}.
"""

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time

from timing import timed


def echo(x):
    return x


def square(x):
    return x * x


def spin(ms):
    end = time.perf_counter() + ms / 1000
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 3 if args.quick else 7
    tasks = 5_000 if args.quick else 20_000  # as bench/pool.bench.ts
    ctx = mp.get_context("spawn")
    results = []

    def add(group, impl, ms, work=None, rate=None):
        results.append({"group": group, "impl": impl, "median_ms": ms,
                        "rate": rate if rate is not None else (work / (ms / 1000) if work else None)})

    with ctx.Pool(2) as pool:
        pool.map(echo, range(4), 1)
        add("tasks", "Pool(2).apply_async", timed(
            lambda: [r.get() for r in [pool.apply_async(echo, (i,)) for i in range(tasks)]], n), tasks)
        xs = list(range(1_000_000))
        add("map", "Pool(2).map", timed(lambda: pool.map(square, xs), n), 1_000_000)
        ys = list(range(10_000))
        add("imap", "Pool(2).imap chunksize 1", timed(lambda: list(pool.imap(square, ys, 1)), n), 10_000)
        cpu_tasks = 16 if args.quick else 64  # as bench/pool.bench.ts
        pooled = timed(lambda: pool.map(spin, [20] * cpu_tasks, 1), n)
    # (inline: a quarter of the tasks in quick mode, compared per task, as bench/pool.bench.ts)
    inline_tasks = cpu_tasks // 4 if args.quick else cpu_tasks
    inline = timed(lambda: [spin(20) for _ in range(inline_tasks)], n)
    add("cpu", "Pool(2).map", pooled, rate=(inline / inline_tasks) / (pooled / cpu_tasks))

    def start():
        t0 = time.perf_counter()
        pool = ctx.Pool(2)
        pool.apply(echo, (1,))
        ms = (time.perf_counter() - t0) * 1000
        pool.close()
        pool.join()
        return ms

    add("start", "Pool(2), spawn", statistics.median(start() for _ in range(n)))
    print(json.dumps({"python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
