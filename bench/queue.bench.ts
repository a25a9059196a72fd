// Queue and Pipe throughput and latency, multiproc against the raw channel
// of the same runtime, side by side in one run, with mitata.
//
//   node --import tsx bench/queue.bench.ts [--quick]
//   node bench/queue.bench.ts [--quick]                  (Node 24)
//   deno run -A bench/queue.bench.ts [--quick]
//   bun run bench/queue.bench.ts [--quick] [--only small,big,pipe]
//
// Or all runtimes plus CPython (bench/python/mp_queue.py) in one table of
// ratios: `node scripts/bench.mjs --suite queue`.
//
// Cases (children started once per case; each sample is one whole workload):
// - small: 20k small items (numbers; 100k between threads, whose 20k took
//          5-20 ms, so that a sample's start and end weighed in) through a Queue, items/s:
//          child -> parent, parent -> child, child -> child.
//          Raw: 20k messages, pipelined, over the bare channel
//          (postMessage to a worker / IPC to a child) and back (a rate
//          per message: 100k took Deno 0.6 s a sample).
// - big:   32 items of 1 MiB (Uint8Array) child -> parent, MB/s.
// - pipe:  Pipe round trip with an echoing child, one message at a time, us.
//          Raw: one postMessage / IPC message there and back.
//
// Prints a summary and one line `BENCH_JSON {...}` that scripts/bench.mjs reads.
import { spawn } from "node:child_process";
import { Worker } from "node:worker_threads";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { type Connection, getContext, isMain, type Process, Queue, runtime, type StartMethod } from "../mod.ts";
import { type BenchCase, benchArgs, nowNs, runCases, runtimeLabel } from "./harness.ts";

const SMALL = 20_000;
const SMALL_THREADS = 100_000;
const smallCount = (method: StartMethod) => (method === "thread" ? SMALL_THREADS : SMALL);
const BIG = 32;
const MIB = 1024 * 1024;
const ROUND_TRIPS = 2_000;
// (a round trip through a Node child process took 150 us in the first 2k,
// 70-90 in the next 6k, 55 after 12k: JIT tiers on both sides; the raw
// channel's, 75 then 45-50. Both get eight samples of 2k to warm up.)
const PIPE_WARMUPS = 8;
const here = (file: string) => new URL(file, import.meta.url);

// ---- children ---------------------------------------------------------------

/** Waits for a count on `control`, puts that many numbers on `q`; a negative count ends it. */
export async function producer(control: Queue<number>, q: Queue<number>): Promise<void> {
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) await q.put(i);
  }
}

/** Waits for a count on `control`, takes that many items from `q`, says "done"; a negative count ends it. */
export async function consumer(control: Queue<number>, q: Queue<unknown>, done: Queue<string>): Promise<void> {
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) await q.get();
    await done.put("done");
  }
}

/** Waits for a count on `control`, puts that many 1 MiB items on `q`. */
export async function bigProducer(control: Queue<number>, q: Queue<Uint8Array>): Promise<void> {
  const item = new Uint8Array(1024 * 1024).fill(7);
  for (;;) {
    const n = await control.get();
    if (n < 0) return;
    for (let i = 0; i < n; i++) await q.put(item);
  }
}

/** Sends back whatever comes, until the other end closes. */
export async function pipeEcho(conn: Connection<unknown>): Promise<void> {
  for (;;) {
    try {
      conn.send(await conn.recv());
    } catch {
      return;
    }
  }
}

// ---- cases ------------------------------------------------------------------

type Group = "small" | "big" | "pipe";

type Case = BenchCase<Group>;

function startChild(method: StartMethod, target: (...a: never[]) => unknown, args: unknown[]): Process {
  const p = new (getContext(method).Process)({ target: target as never, args });
  p.start();
  return p;
}

function queueCase(method: StartMethod, direction: "child -> parent" | "parent -> child" | "child -> child"): Case {
  const control = new Queue<number>();
  const consumerControl = new Queue<number>();
  const q = new Queue<number>();
  const done = new Queue<string>();
  let children: Process[] = [];
  const n = smallCount(method);
  return {
    group: "small",
    method,
    impl: `multiproc Queue, ${direction}`,
    work: n,
    // (items between threads reach full speed after some 0.3-1.1M puts
    // and gets here, JIT tiers: twelve samples of 100k; Deno's and Node's
    // parent -> child went at 1.0-1.9M items/s after eight, 4-5.5M after
    // ten. The first sample mitata measures, after its own unmeasured one,
    // often reads ~2M again. Processes: four samples of 20k.)
    warmups: method === "thread" ? 12 : 4,
    async open() {
      if (direction !== "parent -> child") children.push(startChild(method, producer, [control, q]));
      if (direction !== "child -> parent") children.push(startChild(method, consumer, [consumerControl, q, done]));
    },
    async sample() {
      const t0 = nowNs();
      if (direction === "child -> parent") {
        await control.put(n);
        for (let i = 0; i < n; i++) await q.get();
      } else if (direction === "parent -> child") {
        await consumerControl.put(n);
        for (let i = 0; i < n; i++) await q.put(i);
        await done.get();
      } else {
        await consumerControl.put(n);
        await control.put(n);
        await done.get();
      }
      return nowNs() - t0;
    },
    async close() {
      await control.put(-1);
      await consumerControl.put(-1);
      await Promise.all(children.map((c) => c.join()));
      children = [];
    },
  };
}

function bigCase(method: StartMethod): Case {
  const control = new Queue<number>();
  const q = new Queue<Uint8Array>();
  let child: Process | undefined;
  return {
    group: "big",
    method,
    impl: "multiproc Queue, child -> parent",
    work: BIG * MIB,
    // (the first includes the child's start; a Node child's first ~100 MiB
    // go at 120-190 MB/s, then 340-420: JIT tiers, the ring's growth)
    warmups: 3,
    async open() {
      child = startChild(method, bigProducer, [control, q]);
    },
    async sample() {
      const t0 = nowNs();
      await control.put(BIG);
      for (let i = 0; i < BIG; i++) await q.get();
      return nowNs() - t0;
    },
    async close() {
      await control.put(-1);
      await child?.join();
    },
  };
}

function pipeCase(method: StartMethod): Case {
  let child: Process | undefined;
  let conn: Connection<unknown> | undefined;
  return {
    group: "pipe",
    method,
    impl: "multiproc Pipe round trip",
    work: ROUND_TRIPS,
    warmups: PIPE_WARMUPS,
    async open() {
      const { Pipe } = await import("../mod.ts");
      const [a, b] = Pipe();
      child = startChild(method, pipeEcho, [b]);
      b.close();
      conn = a;
      conn.send(0);
      await conn.recv();
    },
    async sample() {
      const t0 = nowNs();
      for (let i = 0; i < ROUND_TRIPS; i++) {
        conn!.send(i);
        await conn!.recv();
      }
      return nowNs() - t0;
    },
    async close() {
      conn?.close();
      await child?.join();
    },
  };
}

// The bare channel of the runtime: a worker echoing postMessage, or a child
// process echoing IPC messages ("advanced" serialization, as multiproc's).
interface RawChannel {
  send(x: unknown): void;
  onMessage(f: (x: unknown) => void): void;
  offMessage(f: (x: unknown) => void): void;
  end(): Promise<void>;
}

async function openRaw(method: StartMethod): Promise<RawChannel> {
  if (method === "thread") {
    const w = new Worker(here("./raw/echo_worker.mjs"), { execArgv: [] });
    return {
      send: (x) => w.postMessage(x),
      onMessage: (f) => void w.on("message", f),
      offMessage: (f) => void w.off("message", f),
      end: () => w.terminate().then(() => {}),
    };
  }
  const execArgs = runtime === "deno" ? ["run", "-A", "--quiet"] : [];
  const child = spawn(process.execPath, [...execArgs, fileURLToPath(here("./raw/echo_child.mjs"))], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    serialization: "advanced",
  });
  return {
    send: (x) => void child.send(x as never),
    onMessage: (f) => void child.on("message", f),
    offMessage: (f) => void child.off("message", f),
    end: () => {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill();
      return exited;
    },
  };
}

function rawCase(group: "small" | "pipe", method: StartMethod): Case {
  let raw: RawChannel | undefined;
  return {
    group,
    method,
    impl: group === "small" ? `raw ${method === "thread" ? "postMessage" : "IPC"}, there and back` : `raw ${method === "thread" ? "postMessage" : "IPC"} round trip`,
    work: group === "small" ? SMALL : ROUND_TRIPS,
    warmups: group === "pipe" ? PIPE_WARMUPS : undefined,
    async open() {
      raw = await openRaw(method);
    },
    async sample() {
      const t0 = nowNs();
      if (group === "small") {
        await new Promise<void>((resolve) => {
          let left = SMALL;
          const f = () => {
            if (--left === 0) {
              raw!.offMessage(f);
              resolve();
            }
          };
          raw!.onMessage(f);
          for (let i = 0; i < SMALL; i++) raw!.send(i);
        });
      } else {
        for (let i = 0; i < ROUND_TRIPS; i++) {
          await new Promise<void>((resolve) => {
            const f = () => {
              raw!.offMessage(f);
              resolve();
            };
            raw!.onMessage(f);
            raw!.send(i);
          });
        }
      }
      return nowNs() - t0;
    },
    async close() {
      await raw?.end();
    },
  };
}

function cases(): Case[] {
  const list: Case[] = [];
  for (const method of ["thread", "process"] as const) {
    list.push(queueCase(method, "child -> parent"), queueCase(method, "parent -> child"), queueCase(method, "child -> child"));
    list.push(rawCase("small", method));
    list.push(bigCase(method));
    list.push(pipeCase(method), rawCase("pipe", method));
  }
  return list;
}

async function main(): Promise<void> {
  const { quick, only } = benchArgs();
  console.log(`multiproc queue benchmark on ${runtimeLabel()}${quick ? " (quick)" : ""}`);
  const results = await runCases(cases(), { quick, only, warm: true });
  console.log("\ngroup  method   impl                                   median ms          rate");
  for (const r of results) {
    const rate = r.rate === null
      ? ""
      : r.group === "big"
      ? `${(r.rate / MIB).toFixed(0)} MB/s`
      : r.group === "pipe"
      ? `${(1e6 / r.rate).toFixed(1)} us/rt`
      : `${Math.round(r.rate).toLocaleString("en")}/s`;
    console.log(`${r.group.padEnd(6)} ${r.method.padEnd(8)} ${r.impl.padEnd(38)} ${(r.median_ms?.toFixed(1) ?? r.error ?? "").padStart(10)} ${rate.padStart(13)}`);
  }
  console.log(`BENCH_JSON ${JSON.stringify({ suite: "queue", runtime, label: runtimeLabel(), quick, results })}`);
}

if (isMain(import.meta)) {
  await main();
  process.exit(0);
}
