"""CPython's multiprocessing Manager().dict(), the reference bench/manager.bench.ts compares with.

    python3 bench/python/mp_manager.py [--quick]

The spawn start method; N set/get round trips one at a time, from the
parent and from a child process, as bench/manager.bench.ts does.

Prints one JSON object: {"python": version, "results": [{group, impl,
median_ms, rate}]}.
"""

import argparse
import json
import multiprocessing as mp
import platform
import socket

from timing import timed


def round_trips(control, d, done):
    while True:
        n = control.get()
        if n < 0:
            return
        for i in range(0, n, 2):
            d["k"] = i
            d["k"]
        done.put("done")


def echo(listener):
    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = conn.recv(64)
        if not b:
            return
        conn.sendall(b)


def raw_echo(ctx, n, samples):
    """CPython's own channel: a bare blocking TCP echo server in another process."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    server = ctx.Process(target=echo, args=(listener,))
    server.start()
    conn = socket.create_connection(listener.getsockname())
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ping = bytes(32)

    def trips():
        for _ in range(n):
            conn.sendall(ping)
            conn.recv(64)

    ms = timed(trips, samples, warm=True)
    conn.close()
    server.join()
    listener.close()
    return {"group": "dict", "impl": "raw TCP echo (blocking sockets), another process", "median_ms": ms, "rate": n / (ms / 1000)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    samples = 3 if args.quick else 7
    n = 2_000 if args.quick else 10_000
    ctx = mp.get_context("spawn")
    results = []
    with ctx.Manager() as manager:
        d = manager.dict()

        def parent():
            for i in range(0, n, 2):
                d["k"] = i
                d["k"]

        ms = timed(parent, samples, warm=True)
        results.append({"group": "dict", "impl": "Manager().dict(), from the parent", "median_ms": ms, "rate": n / (ms / 1000)})
        control, done = ctx.Queue(), ctx.Queue()
        child = ctx.Process(target=round_trips, args=(control, d, done))
        child.start()

        def from_child():
            control.put(n)
            done.get()

        ms = timed(from_child, samples, warm=True)
        results.append({"group": "dict", "impl": "Manager().dict(), from a child", "median_ms": ms, "rate": n / (ms / 1000)})
        control.put(-1)
        child.join()
    results.append(raw_echo(ctx, n, samples))
    print(json.dumps({"python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
