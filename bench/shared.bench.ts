// Shared state: locked increments and uncontended acquire/release, multiproc
// next to raw SharedArrayBuffer + Atomics in the same runtime, side by side
// in one run, with mitata.
//
//   node --import tsx bench/shared.bench.ts [--quick]
//   node bench/shared.bench.ts [--quick]                  (Node 24)
//   deno run -A bench/shared.bench.ts [--quick]
//   bun run bench/shared.bench.ts [--quick] [--only locked,uncontended]
//
// Or all runtimes plus CPython (bench/python/mp_value.py) in one table of
// ratios: `node scripts/bench.mjs --suite shared`.
//
// Cases (children started once per case; each sample is one whole workload):
// - locked:      2 children each add 1 to a Value N times under getLock()
//                (`await lock.withLock(() => v.value += 1)`, and with the
//                blocking `lock.withLockSync(...)` a child may use), increments/s.
//                Raw: 2 worker threads doing the same with a compare-and-swap
//                mutex and Atomics.wait on one SharedArrayBuffer.
// - uncontended: 1 child acquires and releases a Lock N times, pairs/s.
//                Raw: a worker thread doing CAS + store on a SharedArrayBuffer.
// Processes have no raw shared memory on Node, so their raw rows are the
// threads' (the ceiling any process provider is measured against).
//
// Prints a summary and one line `BENCH_JSON {...}` that scripts/bench.mjs reads.
import { Worker } from "node:worker_threads";
import process from "node:process";
import { getContext, isMain, Lock, type Process, Queue, runtime, type StartMethod, Value } from "../mod.ts";
import { type BenchCase, benchArgs, nowNs, runCases, runtimeLabel } from "./harness.ts";

type Group = "locked" | "uncontended";
type Case = BenchCase<Group>;

const quickRun = benchArgs().quick;
// Increments per child and sample: processes whose memory is served by the
// parent (Node) are ~100x slower than threads; Deno and Bun map it.
const counts = (method: StartMethod) =>
  method === "thread" || runtime !== "node" ? 200_000 : quickRun ? 1_000 : 5_000;

// ---- children ---------------------------------------------------------------

/** Waits for a count on `control`, adds 1 to `v` that many times under its lock, says "done". */
export async function incrementer(control: Queue<number>, v: Value<"i">, done: Queue<string>): Promise<void> {
  const lock = v.getLock();
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) {
      await lock.withLock(() => {
        v.value += 1;
      });
    }
    await done.put("done");
  }
}

/** As incrementer, with the blocking twin a child may use: `lock.withLockSync(() => v.value += 1)`. */
export async function incrementerSync(control: Queue<number>, v: Value<"i">, done: Queue<string>): Promise<void> {
  const lock = v.getLock();
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) {
      lock.withLockSync(() => {
        v.value += 1;
      });
    }
    await done.put("done");
  }
}

/** Waits for a count on `control`, acquires and releases `lock` that many times, says "done". */
export async function acquirer(control: Queue<number>, lock: Lock, done: Queue<string>): Promise<void> {
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) {
      await lock.acquire();
      lock.release();
    }
    await done.put("done");
  }
}

// ---- cases ------------------------------------------------------------------

function ourCase(group: Group, method: StartMethod, sync = false): Case {
  const control = new Queue<number>();
  const done = new Queue<string>();
  const v = new Value("i", 0);
  const lock = new Lock();
  const n = counts(method);
  const parties = group === "locked" ? 2 : 1;
  let children: Process[] = [];
  return {
    group,
    method,
    impl: group === "locked" ? `multiproc Value + getLock()${sync ? ", withLockSync" : ""}` : "multiproc Lock acquire/release",
    work: n * parties,
    async open() {
      const ctx = getContext(method);
      for (let i = 0; i < parties; i++) {
        const p = group === "locked"
          ? new ctx.Process({ target: sync ? incrementerSync : incrementer, args: [control, v, done] })
          : new ctx.Process({ target: acquirer, args: [control, lock, done] });
        p.start();
        children.push(p);
      }
    },
    async sample() {
      const before = v.value;
      const t0 = nowNs();
      for (let i = 0; i < parties; i++) await control.put(n);
      for (let i = 0; i < parties; i++) await done.get();
      const ns = nowNs() - t0;
      if (group === "locked" && v.value - before !== n * parties) {
        throw new Error(`lost increments: ${v.value - before} of ${n * parties}`);
      }
      return ns;
    },
    async close() {
      for (let i = 0; i < parties; i++) await control.put(-1);
      await Promise.all(children.map((c) => c.join()));
      children = [];
    },
  };
}

// Raw: worker threads on one SharedArrayBuffer, the code inline.
const RAW_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const cells = new Int32Array(workerData.buffer);
const me = workerData.me;
parentPort.on("message", (n) => {
  if (n < 0) return process.exit(0);
  if (workerData.locked) {
    for (let i = 0; i < n; i++) {
      while (Atomics.compareExchange(cells, 0, 0, me) !== 0) Atomics.wait(cells, 0, Atomics.load(cells, 0) || me, 1);
      cells[1] += 1;
      Atomics.store(cells, 0, 0);
      Atomics.notify(cells, 0, 1);
    }
  } else {
    for (let i = 0; i < n; i++) {
      while (Atomics.compareExchange(cells, 0, 0, me) !== 0);
      Atomics.store(cells, 0, 0);
    }
  }
  parentPort.postMessage("done");
});
`;

function rawCase(group: Group, method: StartMethod): Case {
  const n = counts("thread");
  const parties = group === "locked" ? 2 : 1;
  const buffer = new SharedArrayBuffer(8);
  let workers: Worker[] = [];
  return {
    group,
    method,
    impl: group === "locked" ? "raw SAB + CAS mutex, 2 threads" : "raw SAB CAS + store, 1 thread",
    work: n * parties,
    async open() {
      for (let i = 0; i < parties; i++) {
        workers.push(new Worker(RAW_WORKER, { eval: true, workerData: { buffer, me: i + 1, locked: group === "locked" } }));
      }
    },
    async sample() {
      const t0 = nowNs();
      await Promise.all(workers.map((w) =>
        new Promise<void>((resolve) => {
          w.once("message", () => resolve());
          w.postMessage(n);
        })
      ));
      return nowNs() - t0;
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
      workers = [];
    },
  };
}

function cases(): Case[] {
  const list: Case[] = [];
  for (const method of ["thread", "process"] as const) {
    list.push(ourCase("locked", method), ourCase("locked", method, true), rawCase("locked", method));
    list.push(ourCase("uncontended", method), rawCase("uncontended", method));
  }
  return list;
}

async function main(): Promise<void> {
  const { quick, only } = benchArgs();
  console.log(`multiproc shared-state benchmark on ${runtimeLabel()}${quick ? " (quick)" : ""}`);
  const results = await runCases(cases(), { quick, only, warm: true });
  console.log("\ngroup        method   impl                                               median ms          rate");
  for (const r of results) {
    const rate = r.rate === null ? "" : `${Math.round(r.rate).toLocaleString("en")}/s`;
    console.log(`${r.group.padEnd(12)} ${r.method.padEnd(8)} ${r.impl.padEnd(50)} ${(r.median_ms?.toFixed(1) ?? r.error ?? "").padStart(10)} ${rate.padStart(14)}`);
  }
  console.log(`BENCH_JSON ${JSON.stringify({ suite: "shared", runtime, label: runtimeLabel(), quick, results })}`);
}

if (isMain(import.meta)) {
  await main();
  process.exit(0);
}
