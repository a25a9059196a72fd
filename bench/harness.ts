// What the throughput benches (pool.bench.ts, queue.bench.ts) share: the
// case shape, the runtime's label, and the loop that measures each case
// with mitata under a deadline (a peer that hangs on some runtime becomes
// an error row instead of a hung run).
import process from "node:process";
import { runtime } from "../mod.ts";

/** One workload, measured on an open fixture. */
export interface BenchCase<G extends string> {
  group: G;
  method: string;
  impl: string;
  /** Units of work per sample (tasks, items, bytes); 0 for latency cases. */
  work: number;
  /** Unmeasured samples before the measured ones, mitata's own included (with `warm`; default 1): for code the JIT needs longer to settle. */
  warmups?: number;
  open(): Promise<void>;
  /** Runs one sample; returns its duration in ns. */
  sample(): Promise<number>;
  close(): Promise<void>;
}

/** A case's median, and its rate (work per second) when it has work. */
export interface BenchResult<G extends string> {
  group: G;
  method: string;
  impl: string;
  median_ms: number | null;
  rate: number | null;
  error?: string;
}

/** The clock the cases use, in ns. */
export const nowNs = (): number => performance.now() * 1e6;

/** `node 24.21.0`, `node 20.20.2 + tsx`, `deno 2.9.6`, `bun 1.4.5`. */
export function runtimeLabel(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (runtime === "deno") return `deno ${versions.deno ?? "?"}`;
  if (runtime === "bun") return `bun ${versions.bun ?? "?"}`;
  return `node ${process.versions.node}${process.execArgv.some((a) => /tsx/.test(a)) ? " + tsx" : ""}`;
}

/** `--quick` (or MULTIPROC_BENCH_QUICK=1) and `--only group,group`. */
export function benchArgs(): { quick: boolean; only: string[] | undefined } {
  const quick = process.argv.includes("--quick") || process.env.MULTIPROC_BENCH_QUICK === "1";
  const at = process.argv.indexOf("--only");
  return { quick, only: at > 0 ? process.argv[at + 1].split(",") : undefined };
}

/** `what`, or a rejection "no answer within …" once `ms` pass. */
export function deadline<T>(what: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    what,
    new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms / 1000} s`)), ms))),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Measures each case (of the `only` groups, if given): opens it, lets mitata
 * sample it (with `warm`, the first `warmups` samples are unmeasured, else
 * the first only; then 3, or 7 in a full run, whose median it reports),
 * closes it.
 * Progress goes to stderr as `BENCH_PROGRESS` lines for scripts/bench.mjs.
 */
export async function runCases<G extends string>(
  cases: BenchCase<G>[],
  options: { quick: boolean; only?: string[]; warm?: boolean },
): Promise<BenchResult<G>[]> {
  const mitata = await import("mitata");
  const measured = options.quick ? 3 : 7;
  // (a peer that never answers on some runtime costs this much; no quick
  // case's opening or three samples take half of it, nor its first sample
  // a quarter: a quick run gives up on a case whose first sample has not
  // answered in firstMs)
  const caseMs = options.quick ? 4_000 : 300_000;
  const firstMs = options.quick ? 2_000 : caseMs;
  const results: BenchResult<G>[] = [];
  for (const c of cases.filter((c) => !options.only || options.only.includes(c.group))) {
    process.stderr.write(`BENCH_PROGRESS ${runtime}: ${c.group} ${c.method}: ${c.impl}\n`);
    const row = { group: c.group, method: c.method, impl: c.impl };
    let failed = false;
    try {
      // (closed whatever happened, a case that failed to open too)
      await deadline(c.open(), caseMs);
      // Every sample, warm-up or measured, is one of mitata's, in one
      // loop: mitata takes an unmeasured one first, then its loop
      // allocates room for 2^20 samples (twice that again once a sample
      // is fractional: so they are whole ns). On V8 that starts an
      // old-generation collection, which ran alongside the next ~100 ms of
      // samples: queue cases between threads read 2-4x slower there than
      // before and after. So the warm-ups come after it, inside the loop,
      // and the median is over the last `measured` samples in the order
      // they ran (mitata's stats are sorted). No forced collection before
      // the loop either: without --expose-gc, mitata's stand-in for one
      // allocates 1 GiB, which set off the same.
      const warm = options.warm ? Math.max(0, (c.warmups ?? 1) - 1) : 0;
      const times: number[] = [];
      let first = true;
      const sample = async () => {
        const ns = Math.round(await (first ? deadline(c.sample(), firstMs) : c.sample()));
        first = false;
        times.push(ns);
        return ns;
      };
      await deadline(
        mitata.measure(function* () {
          yield { manual: () => sample() };
        }, { min_samples: warm + measured, max_samples: warm + measured, min_cpu_time: 0, gc: false }),
        caseMs,
      );
      const last = times.slice(-measured).sort((a, b) => a - b);
      const ms = last[(last.length - 1) >> 1] / 1e6;
      results.push({ ...row, median_ms: ms, rate: c.work ? c.work / (ms / 1000) : null });
    } catch (error) {
      failed = true;
      results.push({ ...row, median_ms: null, rate: null, error: (error as Error).message ?? String(error) });
    } finally {
      // (a case that did not answer is unlikely to close well either: a
      // moment for it; the bench's process ends whatever it left)
      await deadline(c.close(), failed ? 500 : options.quick ? 2_000 : 10_000).catch(() => {});
    }
  }
  return results;
}
