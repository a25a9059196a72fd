// Manager proxies: dict set+get round trips per second, from this process and
// from a child process, next to a bare TCP echo over loopback in the same
// runtime (the channel's ceiling), side by side in one run, with mitata.
//
//   node --import tsx bench/manager.bench.ts [--quick]
//   deno run -A bench/manager.bench.ts [--quick]
//   bun run bench/manager.bench.ts [--quick]
//
// Or all runtimes plus CPython's Manager().dict() (bench/python/mp_manager.py)
// in one table of ratios: `node scripts/bench.mjs --suite manager`.
//
// Cases (each sample is N round trips, one at a time):
// - dict:  `await d.set("k", i)` and `await d.get("k")` alternately, round trips/s;
//          impls: from this process, from a child process.
//          Raw: a bare TCP echo server in another process on loopback, round trips/s.
//
// Prints a summary and one line `BENCH_JSON {...}` that scripts/bench.mjs reads.
import { type ChildProcess, spawn } from "node:child_process";
import { connect, type Socket } from "node:net";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type DictProxy, getContext, isMain, Manager, type Process, Queue, runtime } from "../mod.ts";
import { type BenchCase, benchArgs, nowNs, runCases, runtimeLabel } from "./harness.ts";

type Group = "dict";
type Case = BenchCase<Group>;

const N = benchArgs().quick ? 2_000 : 10_000;

/** Waits for a count on `control`, does that many set/get round trips on `d`, says "done". */
export async function roundTrips(control: Queue<number>, d: DictProxy<string, number>, done: Queue<string>): Promise<void> {
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i += 2) {
      await d.set("k", i);
      await d.get("k");
    }
    await done.put("done");
  }
}

// One manager for both dict cases (starting one is ~0.1-0.5 s: a process),
// shut down once the cases are done.
let shared: Promise<Manager> | undefined;
const sharedManager = (): Promise<Manager> => (shared ??= Manager.start());

function parentCase(): Case {
  let d: DictProxy<string, number> | undefined;
  return {
    group: "dict",
    method: "process",
    impl: "multiproc Manager dict, from the parent",
    work: N,
    async open() {
      d = (await sharedManager()).dict();
    },
    async sample() {
      const t0 = nowNs();
      for (let i = 0; i < N; i += 2) {
        await d!.set("k", i);
        await d!.get("k");
      }
      return nowNs() - t0;
    },
    async close() {},
  };
}

function childCase(): Case {
  let child: Process | undefined;
  const control = new Queue<number>();
  const done = new Queue<string>();
  return {
    group: "dict",
    method: "process",
    impl: "multiproc Manager dict, from a child",
    work: N,
    async open() {
      const d = (await sharedManager()).dict();
      child = new (getContext("process").Process)({ target: roundTrips, args: [control, d, done] });
      child.start();
    },
    async sample() {
      const t0 = nowNs();
      await control.put(N);
      await done.get();
      return nowNs() - t0;
    },
    async close() {
      await control.put(-1);
      await child?.join();
    },
  };
}

// A bare TCP echo server in a process of its own, and one message at a time
// to it: the channel's ceiling for a round trip between two processes.
function rawCase(): Case {
  let child: ChildProcess | undefined;
  let socket: Socket | undefined;
  return {
    group: "dict",
    method: "process",
    impl: "raw TCP echo, another process",
    work: N,
    async open() {
      const execArgs = runtime === "deno" ? ["run", "-A", "--quiet"] : [];
      child = spawn(process.execPath, [...execArgs, fileURLToPath(new URL("./raw/tcp_echo.mjs", import.meta.url))], {
        stdio: ["ignore", "pipe", "inherit"],
      });
      const port = await new Promise<number>((resolve) => child!.stdout!.once("data", (d) => resolve(Number(String(d)))));
      socket = await new Promise<Socket>((resolve) => {
        const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
      });
      socket.setNoDelay(true);
    },
    async sample() {
      const t0 = nowNs();
      const ping = new Uint8Array(32);
      for (let i = 0; i < N; i++) {
        await new Promise<void>((resolve) => {
          socket!.once("data", () => resolve());
          socket!.write(ping);
        });
      }
      return nowNs() - t0;
    },
    async close() {
      socket?.destroy();
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child?.kill();
      await exited;
    },
  };
}

async function main(): Promise<void> {
  const { quick, only } = benchArgs();
  console.log(`multiproc manager benchmark on ${runtimeLabel()}${quick ? " (quick)" : ""}`);
  const results = await runCases([parentCase(), childCase(), rawCase()], { quick, only, warm: true });
  if (shared) await shared.then((m) => m.shutdown(), () => {});
  console.log("\ngroup  impl                                        median ms          rate");
  for (const r of results) {
    const rate = r.rate === null ? "" : `${Math.round(r.rate).toLocaleString("en")}/s`;
    console.log(`${r.group.padEnd(6)} ${r.impl.padEnd(43)} ${(r.median_ms?.toFixed(1) ?? r.error ?? "").padStart(10)} ${rate.padStart(14)}`);
  }
  console.log(`BENCH_JSON ${JSON.stringify({ suite: "manager", runtime, label: runtimeLabel(), quick, results })}`);
}

if (isMain(import.meta)) await main();
