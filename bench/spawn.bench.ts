// Process start cost, multiproc against the bare channels of the same
// runtime, measured side by side in one run with mitata.
//
//   node --import tsx bench/spawn.bench.ts [--quick]
//   node bench/spawn.bench.ts [--quick]                  (Node 24: native type stripping)
//   deno run -A bench/spawn.bench.ts [--quick]
//   bun run bench/spawn.bench.ts [--quick]
//
// Or all of them, plus CPython, in one table: `node scripts/bench.mjs`.
//
// For each start method ("process", "thread") two cases:
//
// - "first message": from `new Process({ target, args }).start()` until the
//   parent hears from the child. multiproc has no Queue or Pipe yet, so the
//   target reports back by creating a file (`touch` below) and the parent
//   learns of it through one `fs.watch` on a temporary directory (inotify on
//   Linux; no polling loop, so the parent does not compete with the child for
//   the machine's two cores; a 25 ms poll only backs up a missed event). On
//   Node, Deno and Bun the watch event reaches the parent 0.1-0.5 ms *before*
//   an IPC message the child sends right after its write, so this signal is
//   no slower than a message would be. `touch` is an export of this
//   (main) module, so the child imports this module to find it: the same work
//   CPython's spawn does (pickle by reference, import __main__ in the child).
//   The child is joined after the clock stops, so that the next sample does
//   not overlap with its exit.
// - "join": start to join() of an empty target `() => {}`, which is sent by
//   source: no import of this module in the child.
//
// Raw baselines of the same runtime, in the same run:
// - process: `spawn(<this runtime's executable>, [bench/raw/child.mjs], { stdio:
//   [..., "ipc"], serialization: "advanced" })` (the channel multiproc uses),
//   a plain-JS child that sends one message and exits; to its first message,
//   and to its "exit" event. On Node under tsx also the same child started with
//   this process's execArgv (tsx included), as multiproc starts its children.
// - thread: a node:worker_threads Worker on bench/raw/worker.mjs posting one
//   message; to that message, and to its "exit" event. On Node it gets
//   `execArgv: []` (bare); under tsx also a worker with the inherited execArgv.
//   On Deno and Bun also a web Worker (bench/raw/web_worker.mjs) to its first
//   message.
//
// Prints a compact summary (median ms and ratio to the
// raw baseline of the same kind), then one line `BENCH_JSON {...}` that
// scripts/bench.mjs parses.
//
// The top-level code sits behind isMain(import.meta): a child that runs
// `touch` imports this module and must not start benchmarks of its own. For
// the same reason mitata is imported inside main(), so the child pays only
// for what a user's main module would typically hold (multiproc and node:fs).
import { existsSync, mkdtempSync, rmSync, watch, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { Worker as NodeWorker } from "node:worker_threads";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { getContext, isMain, runtime } from "../mod.ts";

/** The "first message" target: runs in the child, tells the parent it runs. */
export function touch(path: string): void {
  writeFileSync(path, "");
}

type Method = "process" | "thread";
type CaseKind = "first" | "join";
type Impl =
  | "multiproc"
  | "raw-spawn"
  | "raw-spawn-execargv"
  | "raw-worker"
  | "raw-worker-execargv"
  | "raw-web-worker";

interface CaseSpec {
  kind: CaseKind;
  method: Method;
  impl: Impl;
  name: string;
  /** One sample: the measured duration in ns (cleanup after the clock stops is not counted). */
  sample: () => Promise<number>;
}

interface CaseResult {
  kind: CaseKind;
  method: Method;
  impl: Impl;
  name: string;
  median_ms: number | null;
  p25_ms?: number;
  p75_ms?: number;
  min_ms?: number;
  samples?: number;
  baseline?: string;
  ratio?: number | null;
  error?: string;
}

const KIND_TEXT: Record<CaseKind, string> = { first: "start -> first message", join: "start -> join/exit" };
const IMPL_TEXT: Record<Impl, string> = {
  "multiproc": "multiproc",
  "raw-spawn": "raw spawn+ipc",
  "raw-spawn-execargv": "raw spawn+ipc, parent execArgv",
  "raw-worker": "raw worker_threads",
  "raw-worker-execargv": "raw worker_threads, parent execArgv",
  "raw-web-worker": "raw web Worker",
};
// The raw baseline each case is compared with: the bare form of the channel
// multiproc itself uses for that start method.
const BASELINE: Record<Method, Impl> = { process: "raw-spawn", thread: "raw-worker" };

const HERE = new URL(".", import.meta.url);
const RAW_CHILD = fileURLToPath(new URL("raw/child.mjs", HERE));
const RAW_WORKER = new URL("raw/worker.mjs", HERE);
const RAW_WEB_WORKER = new URL("raw/web_worker.mjs", HERE);
const nowMs = (): number => performance.now();

// ---------------------------------------------------------------------------
// The file signal: one watcher, one waiter per expected file name.
// ---------------------------------------------------------------------------

class Signals {
  readonly dir = mkdtempSync(join(tmpdir(), "multiproc-bench-"));
  #waiters = new Map<string, () => void>();
  #count = 0;
  #watcher = watch(this.dir, (_event, name) => this.#seen(String(name)));
  #poll = setInterval(() => {
    for (const name of [...this.#waiters.keys()]) if (existsSync(join(this.dir, name))) this.#seen(name);
  }, 25);

  #seen(name: string): void {
    const resolve = this.#waiters.get(name);
    if (!resolve) return;
    this.#waiters.delete(name);
    resolve();
  }

  /** A fresh file path, and a promise that resolves at the time it appears. */
  next(): { path: string; name: string; seen: Promise<number> } {
    const name = `s${++this.#count}`;
    const seen = new Promise<number>((resolve) => this.#waiters.set(name, () => resolve(nowMs())));
    return { path: join(this.dir, name), name, seen };
  }

  forget(name: string): void {
    this.#waiters.delete(name);
    rmSync(join(this.dir, name), { force: true });
  }

  close(): void {
    clearInterval(this.#poll);
    this.#watcher.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------
// The cases
// ---------------------------------------------------------------------------

function multiprocFirst(method: Method, signals: Signals): () => Promise<number> {
  const P = getContext(method).Process;
  return async () => {
    const signal = signals.next();
    const t0 = nowMs();
    const p = new P({ target: touch, args: [signal.path] });
    p.start();
    // A child that dies before touching the file must fail the case, not hang it.
    const joined = p.join().then(() => {
      if (!existsSync(signal.path)) throw new Error(`the child ended (exit code ${p.exitCode}) without signalling`);
      return signal.seen;
    });
    const t1 = await Promise.race([signal.seen, joined]);
    await joined;
    signals.forget(signal.name);
    if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
    return (t1 - t0) * 1e6;
  };
}

function multiprocJoin(method: Method): () => Promise<number> {
  const P = getContext(method).Process;
  return async () => {
    const t0 = nowMs();
    const p = new P({ target: () => {} });
    p.start();
    await p.join();
    const t1 = nowMs();
    if (p.exitCode !== 0) throw new Error(`the child exited with ${p.exitCode}`);
    return (t1 - t0) * 1e6;
  };
}

/** The command that runs a plain JS file on this runtime, as bare as it gets (or with this process's execArgv). */
function rawCommand(withExecArgv: boolean): string[] {
  if (runtime === "deno") return ["run", "-A", "--quiet", RAW_CHILD];
  return [...(withExecArgv ? process.execArgv : []), RAW_CHILD];
}

function rawSpawn(kind: CaseKind, withExecArgv = false): () => Promise<number> {
  const args = rawCommand(withExecArgv);
  return async () => {
    const t0 = nowMs();
    const child = spawn(process.execPath, args, {
      stdio: ["inherit", "inherit", "inherit", "ipc"],
      serialization: "advanced",
    });
    const exited = new Promise<number>((resolve, reject) => {
      child.once("exit", (code) => (code === 0 ? resolve(nowMs()) : reject(new Error(`raw child exited with ${code}`))));
      child.once("error", reject);
    });
    let got = false;
    const message = new Promise<number>((resolve) =>
      child.once("message", () => {
        got = true;
        resolve(nowMs());
      })
    );
    // "close" comes after the last message; a child that never sent one fails the case.
    const closed = new Promise<number>((resolve) => child.once("close", () => resolve(0)));
    const t1 = kind === "first"
      ? await Promise.race([
        message,
        closed.then(() => got ? message : Promise.reject(new Error("raw child closed without a message"))),
      ])
      : await exited;
    await exited;
    return (t1 - t0) * 1e6;
  };
}

function rawWorker(kind: CaseKind, withExecArgv = false): () => Promise<number> {
  // A Node worker inherits the process's execArgv by default: under tsx that
  // preloads tsx in the worker too (~70 ms instead of ~25 ms on Node 20).
  // The bare baseline opts out; the execArgv variant shows what tsx costs.
  const options = runtime === "node" && !withExecArgv ? { execArgv: [] } : undefined;
  return async () => {
    const t0 = nowMs();
    const worker = new NodeWorker(RAW_WORKER, options);
    const exited = new Promise<number>((resolve, reject) => {
      worker.once("exit", (code) => (code === 0 ? resolve(nowMs()) : reject(new Error(`raw worker exited with ${code}`))));
      worker.once("error", reject);
    });
    let got = false;
    const message = new Promise<number>((resolve) =>
      worker.once("message", () => {
        got = true;
        resolve(nowMs());
      })
    );
    const t1 = kind === "first"
      ? await Promise.race([message, exited.then(() => got ? message : Promise.reject(new Error("raw worker exited without a message")))])
      : await exited;
    await exited;
    return (t1 - t0) * 1e6;
  };
}

function rawWebWorker(): () => Promise<number> {
  const WebWorker = (globalThis as unknown as { Worker: typeof Worker }).Worker;
  return async () => {
    const t0 = nowMs();
    const worker = new WebWorker(RAW_WEB_WORKER.href, { type: "module" });
    const t1 = await new Promise<number>((resolve, reject) => {
      worker.onmessage = () => resolve(nowMs());
      worker.onerror = (event) => reject(new Error(`raw web Worker failed: ${(event as ErrorEvent).message}`));
    });
    worker.terminate();
    return (t1 - t0) * 1e6;
  };
}

function cases(signals: Signals): CaseSpec[] {
  const list: CaseSpec[] = [];
  const add = (kind: CaseKind, method: Method, impl: Impl, sample: () => Promise<number>) =>
    list.push({ kind, method, impl, name: `${method} ${KIND_TEXT[kind]}: ${IMPL_TEXT[impl]}`, sample });
  const underLoader = runtime === "node" && process.execArgv.length > 0;
  for (const kind of ["first", "join"] as const) {
    add(kind, "process", "raw-spawn", rawSpawn(kind));
    if (underLoader && kind === "first") add(kind, "process", "raw-spawn-execargv", rawSpawn(kind, true));
    add(kind, "process", "multiproc", kind === "first" ? multiprocFirst("process", signals) : multiprocJoin("process"));
    add(kind, "thread", "raw-worker", rawWorker(kind));
    if (underLoader && kind === "first") add(kind, "thread", "raw-worker-execargv", rawWorker(kind, true));
    if (runtime !== "node" && kind === "first") add(kind, "thread", "raw-web-worker", rawWebWorker());
    add(kind, "thread", "multiproc", kind === "first" ? multiprocFirst("thread", signals) : multiprocJoin("thread"));
  }
  return list;
}

// ---------------------------------------------------------------------------
// Running and reporting
// ---------------------------------------------------------------------------

function runtimeLabel(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (runtime === "deno") return `deno ${versions.deno ?? "?"}`;
  if (runtime === "bun") return `bun ${versions.bun ?? "?"}`;
  const loader = process.execArgv.some((a) => /tsx/.test(a))
    ? " + tsx"
    : process.execArgv.length
    ? ` ${process.execArgv.join(" ")}`
    : "";
  return `node ${process.versions.node}${loader}`;
}

function pad(text: string, width: number, right = false): string {
  return right ? text.padStart(width) : text.padEnd(width);
}

function printSummary(label: string, results: CaseResult[]): void {
  const rows = results.map((r) => [
    `${r.method} ${KIND_TEXT[r.kind]}`,
    IMPL_TEXT[r.impl],
    r.median_ms === null ? `error: ${r.error ?? "?"}` : r.median_ms.toFixed(2),
    r.ratio === undefined || r.ratio === null ? "-" : `${r.ratio.toFixed(2)}x`,
  ]);
  const head = ["case", "implementation", "median ms", "vs raw"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => pad(c, widths[i], i >= 2)).join("  ");
  console.log(`\nsummary, ${label} (ratio: median / median of the raw baseline of the same kind)`);
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const row of rows) console.log(line(row));
}

async function main(): Promise<void> {
  const quick = process.argv.includes("--quick") || process.env.MULTIPROC_BENCH_QUICK === "1";
  // Each case goes straight to mitata's measure() with our sampling (run()
  // has no per-benchmark options in 1.0.34, and first spends ~3 s timing an
  // empty function to calibrate its printer, which we do not use). Samples
  // come from `manual` yields: each returns its own duration, so joining a
  // child after the clock stops is not counted (the budget still counts it).
  const mitata = await import("mitata");
  const sampling = quick
    ? { min_samples: 3, max_samples: 40, min_cpu_time: 150e6 }
    : { min_samples: 12, max_samples: 400, min_cpu_time: 642e6 };
  const signals = new Signals();
  const list = cases(signals);
  const stats = new Map<string, { p50: number; p25: number; p75: number; min: number; samples: number[] }>();
  const errors = new Map<string, string>();
  const label = runtimeLabel();
  console.log(`multiproc spawn benchmark on ${label}${quick ? " (quick)" : ""}`);
  try {
    for (const c of list) {
      process.stderr.write(`BENCH_PROGRESS ${runtime}: ${c.name}\n`);
      try {
        stats.set(c.name, await mitata.measure(function* () {
          yield { manual: c.sample };
        }, { ...sampling }));
      } catch (err) {
        errors.set(c.name, err instanceof Error ? err.message : String(err));
      }
    }
  } finally {
    signals.close();
  }

  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  const results: CaseResult[] = list.map((c) => {
    const s = stats.get(c.name);
    if (!s) return { kind: c.kind, method: c.method, impl: c.impl, name: c.name, median_ms: null, error: errors.get(c.name) ?? "no result" };
    return {
      kind: c.kind,
      method: c.method,
      impl: c.impl,
      name: c.name,
      median_ms: ms(s.p50),
      p25_ms: ms(s.p25),
      p75_ms: ms(s.p75),
      min_ms: ms(s.min),
      samples: s.samples.length,
    };
  });
  for (const r of results) {
    const base = results.find((b) => b.kind === r.kind && b.method === r.method && b.impl === BASELINE[r.method]);
    if (!base || base === r) continue;
    r.baseline = base.impl;
    r.ratio = r.median_ms !== null && base.median_ms ? Math.round((r.median_ms / base.median_ms) * 100) / 100 : null;
  }
  printSummary(label, results);
  console.log(`BENCH_JSON ${JSON.stringify({ runtime, label, quick, sampling, results })}`);
}

if (isMain(import.meta)) {
  await main();
}
