"""CPython's multiprocessing.Value and Lock, the reference bench/shared.bench.ts compares with.

    python3 bench/python/mp_value.py [--quick]

The spawn start method, children started once per case, the same
workloads as bench/shared.bench.ts:

- locked:      2 children each add 1 to a Value('i') N times under get_lock()
- uncontended: 1 child acquires and releases a Lock N times

Prints one JSON object: {"python": version, "results": [{group, impl,
median_ms, rate}]}.
"""

import argparse
import json
import multiprocessing as mp
import platform

from timing import timed


def incrementer(control, v, done):
    lock = v.get_lock()
    while True:
        n = control.get()
        if n < 0:
            return
        for _ in range(n):
            with lock:
                v.value += 1
        done.put("done")


def acquirer(control, lock, done):
    while True:
        n = control.get()
        if n < 0:
            return
        for _ in range(n):
            lock.acquire()
            lock.release()
        done.put("done")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples = 3 if args.quick else 7
    n = 50_000 if args.quick else 200_000
    ctx = mp.get_context("spawn")
    results = []

    def add(group, impl, ms, work):
        results.append({"group": group, "impl": impl, "median_ms": ms, "rate": work / (ms / 1000)})

    for group in ("locked", "uncontended"):
        control, done = ctx.Queue(), ctx.Queue()
        v, lock = ctx.Value("i", 0), ctx.Lock()
        parties = 2 if group == "locked" else 1
        children = [
            ctx.Process(target=incrementer, args=(control, v, done))
            if group == "locked"
            else ctx.Process(target=acquirer, args=(control, lock, done))
            for _ in range(parties)
        ]
        for c in children:
            c.start()

        def sample():
            for _ in range(parties):
                control.put(n)
            for _ in range(parties):
                done.get()

        impl = "Value + get_lock()" if group == "locked" else "Lock acquire/release"
        add(group, impl, timed(sample, samples, warm=True), n * parties)
        for _ in range(parties):
            control.put(-1)
        for c in children:
            c.join()
    print(json.dumps({"python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
