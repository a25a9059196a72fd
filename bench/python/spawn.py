"""CPython's process start cost, the reference multiproc's spawn bench compares with.

    python3 bench/python/spawn.py [--quick] [--n N] [--methods spawn,forkserver,fork]

For each start method (spawn, the one that matches multiproc's "process";
forkserver and fork for reference), median of N runs of:

- "first": from Process(...).start() until the parent receives the child's
  first message over a one-way Pipe (the child's target sends one object);
  the child is joined after the clock stops.
- "join": Process(target=empty).start(); join() -- start to join of an empty
  target.

The target functions live in this (main) module, so a spawn or forkserver
child imports it the way Python's own children import __main__; the guard
below keeps that import from running the benchmark again.

Prints one JSON object on stdout: {"python": version, "n": N, "results":
{method: {"first": {...}, "join": {...}}}} with times in milliseconds.
"""

import argparse
import json
import multiprocessing as mp
import platform
import statistics
import time


def empty():
    pass


def send_one(conn):
    conn.send(1)
    conn.close()


def first_message(ctx):
    recv, send = ctx.Pipe(duplex=False)
    t0 = time.perf_counter_ns()
    p = ctx.Process(target=send_one, args=(send,))
    p.start()
    recv.recv()
    t1 = time.perf_counter_ns()
    p.join()
    send.close()
    recv.close()
    if p.exitcode != 0:
        raise RuntimeError(f"child exited with {p.exitcode}")
    return (t1 - t0) / 1e6


def start_join(ctx):
    t0 = time.perf_counter_ns()
    p = ctx.Process(target=empty)
    p.start()
    p.join()
    t1 = time.perf_counter_ns()
    if p.exitcode != 0:
        raise RuntimeError(f"child exited with {p.exitcode}")
    return (t1 - t0) / 1e6


def summarize(samples):
    ordered = sorted(samples)
    quartiles = statistics.quantiles(ordered, n=4) if len(ordered) > 1 else [ordered[0]] * 3
    return {
        "median_ms": round(statistics.median(ordered), 2),
        "p25_ms": round(quartiles[0], 2),
        "p75_ms": round(quartiles[2], 2),
        "min_ms": round(ordered[0], 2),
        "samples": len(ordered),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (N=5)")
    parser.add_argument("--n", type=int, help="runs per case (default 30, 5 with --quick)")
    parser.add_argument("--methods", default="spawn,forkserver,fork")
    args = parser.parse_args()
    n = args.n or (5 if args.quick else 30)

    results = {}
    for method in args.methods.split(","):
        if method not in mp.get_all_start_methods():
            results[method] = {"error": f"start method {method} is not available here"}
            continue
        ctx = mp.get_context(method)
        first_message(ctx)  # warm-up: starts the forkserver, fills caches
        start_join(ctx)
        results[method] = {
            "first": summarize([first_message(ctx) for _ in range(n)]),
            "join": summarize([start_join(ctx) for _ in range(n)]),
        }

    print(json.dumps({
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "n": n,
        "results": results,
    }))


if __name__ == "__main__":
    main()
