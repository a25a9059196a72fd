"""CPython's multiprocessing.Queue and Pipe, the reference bench/queue.bench.ts compares with.

    python3 bench/python/mp_queue.py (not queue.py: that name would shadow the standard library) [--quick]

The spawn start method, children started once per case, the same
workloads as bench/queue.bench.ts:

- small: 20k ints through a Queue: child -> parent, parent -> child,
         child -> child (the consumer says "done" on a second queue)
- big:   32 items of 1 MiB (bytes) child -> parent
- pipe:  Pipe round trip with an echoing child, 2000 one at a time

Prints one JSON object: {"python": version, "results": [{group, impl,
median_ms, rate}]}.
"""

import argparse
import json
import multiprocessing as mp
import platform

from timing import timed

SMALL = 20_000
BIG = 32
MIB = 1024 * 1024
ROUND_TRIPS = 2_000


def producer(control, q):
    while True:
        n = control.get()
        if n < 0:
            return
        for i in range(n):
            q.put(i)


def consumer(control, q, done):
    while True:
        n = control.get()
        if n < 0:
            return
        for _ in range(n):
            q.get()
        done.put("done")


def big_producer(control, q):
    item = bytes([7]) * MIB
    while True:
        n = control.get()
        if n < 0:
            return
        for _ in range(n):
            q.put(item)


def pipe_echo(conn):
    while True:
        try:
            conn.send(conn.recv())
        except EOFError:
            return


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    n = 3 if args.quick else 7
    ctx = mp.get_context("spawn")
    results = []

    def add(group, impl, ms, work):
        results.append({"group": group, "impl": impl, "median_ms": ms, "rate": work / (ms / 1000)})

    for direction in ("child -> parent", "parent -> child", "child -> child"):
        control, consumer_control, q, done = ctx.Queue(), ctx.Queue(), ctx.Queue(), ctx.Queue()
        children = []
        if direction != "parent -> child":
            children.append(ctx.Process(target=producer, args=(control, q)))
        if direction != "child -> parent":
            children.append(ctx.Process(target=consumer, args=(consumer_control, q, done)))
        for c in children:
            c.start()

        def sample():
            if direction == "child -> parent":
                control.put(SMALL)
                for _ in range(SMALL):
                    q.get()
            elif direction == "parent -> child":
                consumer_control.put(SMALL)
                for i in range(SMALL):
                    q.put(i)
                done.get()
            else:
                consumer_control.put(SMALL)
                control.put(SMALL)
                done.get()

        add("small", f"Queue, {direction}", timed(sample, n, warm=True), SMALL)
        control.put(-1)
        consumer_control.put(-1)
        for c in children:
            c.join()

    control, q = ctx.Queue(), ctx.Queue()
    child = ctx.Process(target=big_producer, args=(control, q))
    child.start()

    def big():
        control.put(BIG)
        for _ in range(BIG):
            q.get()

    add("big", "Queue, child -> parent", timed(big, n, warm=True), BIG * MIB)
    control.put(-1)
    child.join()

    a, b = ctx.Pipe()
    child = ctx.Process(target=pipe_echo, args=(b,))
    child.start()
    b.close()

    def pipe():
        for i in range(ROUND_TRIPS):
            a.send(i)
            a.recv()

    add("pipe", "Pipe round trip", timed(pipe, n, warm=True), ROUND_TRIPS)
    a.close()
    child.join()
    print(json.dumps({"python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
