// Pool, on whatever runtime runs this file, under the start method the
// runner sets: Python's API, properties against Array.map, and faults (a
// worker killed, exiting or out of memory mid-task, aborts, terminate, bad
// input). After every fault the same pool must serve the next call.
import process from "node:process";
import fc from "fast-check";
import {
  AsyncResult,
  currentProcess,
  getContext,
  Pool,
  ProcessError,
  SerializationError,
  TimeoutError,
  WorkerLostError,
} from "../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test } from "./harness.ts";
import { runFixture } from "./fixtures/run.ts";
import { tripled } from "./fixtures/tasks.ts";

export function square(x: number): number {
  return x * x;
}

/** Deterministic on any value: numbers doubled (NaN and -0 kept), others tagged. */
export function tag(x: unknown): unknown {
  return typeof x === "number" ? x * 2 : [typeof x, x];
}

export function add(a: number, b: number, c = 0): number {
  return a + b + c;
}

export function failAt(x: number, bad: number[]): number {
  if (bad.includes(x)) throw new RangeError(`bad item ${x}`);
  return x;
}

/** Takes [x, bad]: returns x, throws at bad. */
export function failAbove([x, bad]: [number, number]): number {
  if (x === bad) throw new RangeError(`bad item ${x}`);
  return x;
}

export async function later<T>(value: T, ms: number): Promise<T> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  return value;
}

export function exitWith(code: number): never {
  process.exit(code);
}

export function killSelf(): void {
  process.kill(process.pid, "SIGKILL");
}

export function spin(): never {
  for (;;) {
    // a busy loop that never yields: only ending the worker stops it
  }
}

/** Busy for `ms` milliseconds without yielding; forever when ms < 0. */
export function spinFor(ms: number): number {
  const end = ms < 0 ? Infinity : performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
  return ms;
}

let initValue = "unset";
export function init(value: string): void {
  initValue = value;
}
export function readInit(): string {
  return initValue;
}

export function whoAmI(): string {
  return currentProcess().name;
}

export function crashLater(): Promise<never> {
  setTimeout(() => {
    throw new EvalError("escaped from a timer");
  }, 10);
  return new Promise(() => {});
}

export function failInit(): never {
  throw new TypeError("initializer failed on purpose");
}

const OFFSET = 1000;
export function withOffset(x: number): number {
  return x + OFFSET;
}

test("the Python API: map, apply, applyAsync, starmap, imap, imapUnordered", async () => {
  await using pool = new Pool(2);
  assertEquals(await pool.map(square, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
  assertEquals(await pool.apply(square, [20]), 400);
  const result = pool.applyAsync(later, ["done", 10]);
  assert(result instanceof AsyncResult);
  assertEquals(await result.get(5000), "done");
  assert(result.ready() && result.successful());
  assertEquals(await pool.starmap(add, [[1, 2], [3, 4, 5]]), [3, 12]);
  const ordered: number[] = [];
  for await (const r of pool.imap(square, [1, 2, 3, 4, 5])) ordered.push(r);
  assertEquals(ordered, [1, 4, 9, 16, 25]);
  const unordered: number[] = [];
  for await (const r of pool.imapUnordered(square, [3, 1, 2])) unordered.push(r);
  assertEquals(unordered.sort(), [1, 4, 9]);
  assertEquals(await pool.map(square, []), []);
  assertEquals(await pool.mapAsync(square, [2, 3]).get(), [4, 9]);
  assertEquals(await pool.starmapAsync(add, [[1, 1]]).get(), [2]);
  assertEquals(await pool.map(tripled, [1, 2]), [3, 6]); // a task() of another module
  assertEquals(await pool.map(withOffset, [1, 2]), [1001, 1002]);
  assertEquals(await pool.map((x: number) => x + 1, new Set([1, 2])), [2, 3]);
  assert(String(pool).startsWith("<Pool state=RUN pool_size=2"));
});

test("property: map(fn, xs, chunksize) equals xs.map(fn) for any input, chunk size and pool size", async () => {
  const pools = [new Pool(1), new Pool(2), new Pool(3)];
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer(), fc.double(), fc.string(), fc.constant(null)), { maxLength: 200 }),
        fc.option(fc.integer({ min: 1, max: 50 }), { nil: undefined }),
        fc.integer({ min: 0, max: 2 }),
        async (xs, chunksize, which) => {
          assertEquals(await pools[which].map(tag, xs, chunksize), xs.map(tag));
        },
      ),
      { numRuns: 40 },
    );
    // numeric input large enough to travel packed in typed arrays
    const numbers = Array.from({ length: 5000 }, (_, i) => (i % 7 === 0 ? -0 : i / 3));
    const mapped = await pools[1].map(tag, numbers);
    assertEquals(mapped, numbers.map(tag));
    assert(Object.is(mapped[0], -0), "-0 survives packing");
  } finally {
    for (const p of pools) p.terminate();
    await Promise.all(pools.map((p) => p.join()));
  }
});

test("property: imap keeps order, imapUnordered yields a permutation, starmap spreads", async () => {
  await using pool = new Pool(2);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: -1000, max: 1000 }), { maxLength: 80 }),
      fc.integer({ min: 1, max: 10 }),
      fc.boolean(),
      async (xs, chunksize, asyncInput) => {
        const input = asyncInput ? (async function* () { yield* xs; })() : xs;
        const ordered: unknown[] = [];
        for await (const r of pool.imap(tag, input, chunksize)) ordered.push(r);
        assertEquals(ordered, xs.map(tag));
        const unordered: number[] = [];
        for await (const r of pool.imapUnordered(square, xs, chunksize)) unordered.push(r);
        assertEquals(unordered.sort((a, b) => a - b), xs.map(square).sort((a, b) => a - b));
        const pairs = xs.map((x, i) => [x, i] as [number, number]);
        assertEquals(await pool.starmap(add, pairs, chunksize), pairs.map(([a, b]) => add(a, b)));
      },
    ),
    { numRuns: 25 },
  );
});

test("property: errors at random positions reject with the first error by position", async () => {
  await using pool = new Pool(2);
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 120 }),
      fc.uniqueArray(fc.nat(119), { minLength: 1, maxLength: 5 }),
      fc.integer({ min: 1, max: 16 }),
      async (n, badRaw, chunksize) => {
        const bad = badRaw.filter((b) => b < n);
        if (bad.length === 0) bad.push(n - 1);
        const xs = Array.from({ length: n }, (_, i) => [i, bad] as [number, number[]]);
        const first = Math.min(...bad);
        const error = await assertRejects(() => pool.starmap(failAt, xs, chunksize), RangeError);
        assertEquals(error.message, `bad item ${first}`);
        // imap yields everything before the first bad item, then throws it
        const seen: number[] = [];
        const thrown = await assertRejects(async () => {
          for await (const r of pool.imap((x: number) => x, xs.map(([i]) => i), chunksize)) {
            if (bad.includes(r)) throw new RangeError(`bad item ${r}`);
            seen.push(r);
          }
        }, RangeError);
        assertEquals(thrown.message, `bad item ${first}`);
        assertEquals(seen.length, first);
      },
    ),
    { numRuns: 20 },
  );
  assertEquals(await pool.map(square, [3]), [9]);
});

test("property: imap over long inputs (fast items travel coalesced) keeps order, results and error positions", async () => {
  await using pool = new Pool(2);
  const n = 6000;
  const xs = Array.from({ length: n }, (_, i) => i);
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 0, max: n - 1 }), fc.boolean(), async (bad, ordered) => {
      const seen: number[] = [];
      const iterate = ordered ? pool.imap(tag, xs, 1) : pool.imapUnordered(square, xs);
      for await (const r of iterate) seen.push(r as number);
      if (ordered) seen.forEach((v, i) => (seen[i] = v / 2)); // tag doubles numbers
      if (ordered) assertEquals(seen, xs);
      else assertEquals(seen.sort((a, b) => a - b), xs.map(square).sort((a, b) => a - b));
      const prefix: number[] = [];
      const error = await assertRejects(async () => {
        for await (const r of pool.imap(failAbove, xs.map((x) => [x, bad] as [number, number]), 1)) prefix.push(r);
      }, RangeError);
      assertEquals(error.message, `bad item ${bad}`);
      assertEquals(prefix, xs.slice(0, bad));
    }),
    { numRuns: 6 },
  );
});

test("errors keep their class, message, cause and properties; the pool goes on", async () => {
  await using pool = new Pool(1);
  const error = await assertRejects(() =>
    pool.apply(() => {
      const e = new RangeError("outer", { cause: new TypeError("inner") });
      Object.assign(e, { code: 42 });
      throw e;
    }), RangeError, "outer");
  assertEquals((error as RangeError & { code: number }).code, 42);
  assert(error.cause instanceof TypeError && error.cause.message === "inner");
  assert(error.stack!.includes("received from another process or thread"), error.stack);
  assertEquals(await pool.apply(square, [5]), 25);
});

test("applyAsync: callbacks, get(timeout), wait, ready, successful", async () => {
  await using pool = new Pool(1);
  let got: unknown;
  let failed: unknown;
  const ok = pool.applyAsync(square, [7], { callback: (v) => (got = v) });
  const bad = pool.applyAsync(failAt, [1, [1]], { errorCallback: (e) => (failed = e) });
  const slow = pool.applyAsync(later, ["slow", 300]);
  await ok.wait();
  await bad.wait();
  assertEquals(got, 49);
  assert(failed instanceof RangeError);
  assert(!bad.successful());
  await assertRejects(() => bad.get(), RangeError, "bad item 1");
  assert(!slow.ready());
  assertThrows(() => slow.successful(), ProcessError, "not ready");
  await assertRejects(() => slow.get(10), TimeoutError);
  await slow.wait(5);
  assertEquals(await slow.get(), "slow");
});

test("initializer and initargs run in every worker before its tasks", async () => {
  await using pool = new Pool(2, { initializer: init, initargs: ["ready"] });
  assertEquals(await pool.map(() => 0, [1]), [0]);
  const values = await Promise.all(Array.from({ length: 6 }, () => pool.apply(readInit)));
  assertEquals(values, Array(6).fill("ready"));
  await using byObject = new Pool({ processes: 1, initializer: init, initargs: ["object form"] });
  assertEquals(await byObject.apply(readInit), "object form");
});

test("maxtasksperchild replaces a worker after that many tasks", async () => {
  await using pool = new Pool(1, { maxtasksperchild: 2 });
  const names: string[] = [];
  for (let i = 0; i < 6; i++) names.push(await pool.apply(whoAmI));
  assert(names.every((n) => /^PoolWorker-\d+$/.test(n)), names.join());
  assertEquals(new Set(names).size, 3, names.join());
  assertEquals(names[0], names[1]);
  assert(names[1] !== names[2]);
  assertEquals(await pool.map(square, [1, 2, 3, 4, 5], 1), [1, 4, 9, 16, 25]);
});

test("a worker that exits mid-task rejects that task with WorkerLostError; the pool goes on", async () => {
  await using pool = new Pool(2);
  const others = [pool.apply(later, [1, 50]), pool.apply(later, [2, 50])];
  const error = await assertRejects(() => pool.apply(exitWith, [3]), WorkerLostError);
  assertEquals((error as WorkerLostError).exitCode, 3);
  assert(/^PoolWorker-\d+$/.test((error as WorkerLostError).workerName!));
  assertEquals(await Promise.all(others), [1, 2]);
  assertEquals(await pool.map(square, [1, 2, 3]), [1, 4, 9]);
});

test("an error escaping a task (from a timer) ends the worker: WorkerLostError with it as the cause", async () => {
  await using pool = new Pool(1);
  const error = await assertRejects(() => pool.apply(crashLater), WorkerLostError);
  assert(error.cause instanceof EvalError && error.cause.message === "escaped from a timer", String(error.cause));
  assertEquals(await pool.apply(square, [4]), 16);
});

test("the same inline function given again is sent to the workers once", async () => {
  await using pool = new Pool(1);
  for (let i = 0; i < 50; i++) assertEquals(await pool.apply((x: number) => x + 1, [i]), i + 1);
});

test("a task that kills its worker does not take the tasks finished before it down with it", async () => {
  await using pool = new Pool(1);
  await pool.apply(square, [1]); // the worker is up
  // Both go to the one worker, back to back: spinFor finishes, then exitWith ends the worker.
  const finished = pool.apply(spinFor, [0.5]);
  const killer = pool.apply(exitWith, [5]);
  assertEquals(await finished, 0.5);
  assertEquals(((await killer.catch((e) => e)) as WorkerLostError).exitCode, 5);
});

test("a worker killed with SIGKILL mid-task: WorkerLostError naming the signal", async () => {
  await using pool = new Pool(2);
  const error = await assertRejects(() => pool.apply(killSelf), WorkerLostError);
  assertEquals((error as WorkerLostError).signal, "SIGKILL");
  assertEquals(await pool.map(square, Array.from({ length: 50 }, (_, i) => i)), Array.from({ length: 50 }, (_, i) => i * i));
}, { skip: startMethod === "thread" ? "a thread cannot be SIGKILLed on its own (exit and crash tests cover threads)" : false });

const hogSkip = runtimeName === "bun"
  ? "Bun's JSC has no heap limit: a hog grows until the OS kills something"
  : runtimeName === "deno" && startMethod === "thread"
  ? "Deno cannot contain a worker thread's heap exhaustion: V8's OOM aborts the whole process"
  : false;

test("a task that allocates until it dies rejects with WorkerLostError; the pool goes on", async () => {
  // In a process of its own with a 256 MB heap (tests/fixtures/hog_pool.ts):
  // the worker runs out in a second rather than after filling gigabytes.
  const r = await runFixture(new URL("./fixtures/hog_pool.ts", import.meta.url), [], {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=256`.trim(),
    DENO_V8_FLAGS: [process.env.DENO_V8_FLAGS, "--max-old-space-size=256"].filter(Boolean).join(","),
  });
  const output = `stdout:\n${r.stdout}\nstderr:\n${r.stderr}`;
  assertEquals(r.code, 0, output);
  const lines = r.stdout.trim().split("\n");
  // A Node thread reports why it ended: ERR_WORKER_OUT_OF_MEMORY becomes the cause.
  const cause = runtimeName === "node" && startMethod === "thread" ? "ERR_WORKER_OUT_OF_MEMORY" : lines[0].replace(/.*cause: /, "");
  assertEquals(lines, [`rejected: WorkerLostError; cause: ${cause}`, "then: 81"], output);
}, { skip: hogSkip, timeout: 60_000 });

test("abort: queued work is dropped, a busy loop is ended, the call rejects with the reason", async () => {
  await using pool = new Pool(2);
  const controller = new AbortController();
  const reason = new Error("stop now");
  const running = pool.apply(spin, [], { signal: controller.signal });
  const mapped = pool.starmap(later, [[1, 5000], [2, 5000], [3, 5000]], { chunksize: 1, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 100));
  const started = performance.now();
  controller.abort(reason);
  assertEquals(await running.catch((e) => e), reason);
  assertEquals(await mapped.catch((e) => e), reason);
  assert(performance.now() - started < 2000, "aborted promptly");
  assertEquals(await pool.map(square, [1, 2, 3, 4], 1), [1, 4, 9, 16]);
  const already = AbortSignal.abort(reason);
  assertEquals(await pool.apply(square, [2], { signal: already }).catch((e) => e), reason);
  const it = pool.imap(square, [1, 2, 3], { signal: already });
  assertEquals(await it.next().catch((e) => e), reason);
});

test("abort: an aborted task queued behind another on the same worker is ended too", async () => {
  await using pool = new Pool(1);
  await pool.apply(square, [1]); // the worker is up
  const controller = new AbortController();
  // Both go to the one worker; the first ends by itself within the grace
  // period, the second would spin forever.
  const call = pool.starmap(spinFor, [[100], [-1]], { chunksize: 1, signal: controller.signal });
  await new Promise((resolve) => setTimeout(resolve, 20));
  controller.abort();
  assertEquals((await call.catch((e) => e)).name, "AbortError");
  assertEquals(await pool.apply(square, [6]), 36);
});

test("terminate() settles everything outstanding and ends the workers", async () => {
  const pool = new Pool(2);
  const calls = [pool.apply(spin), pool.map(later, [1, 2, 3]), pool.apply(square, [4])];
  const it = pool.imap(later, [10, 20, 30]);
  const next = it.next();
  pool.terminate();
  for (const call of [...calls, next]) assert(await call.then(() => false, (e) => e instanceof ProcessError), "rejected");
  await pool.join();
  assertEquals(String(pool), "<Pool state=TERMINATE pool_size=2>");
  await assertRejects(() => pool.map(square, [1]), ProcessError, "terminated");
});

test("close() refuses new calls, finishes submitted ones; join() before close() is refused", async () => {
  const pool = new Pool(2);
  await assertRejects(() => pool.join(), ProcessError, "close() or terminate()");
  const pending = pool.map(later, [1, 2, 3]);
  pool.close();
  assertThrows(() => pool.applyAsync(square, [1]), ProcessError, "closed");
  await assertRejects(() => pool.apply(square, [1]), ProcessError, "closed");
  await pool.join();
  assertEquals(await pending, [1, 2, 3]);
});

test("an input iterable that throws surfaces at its position", async () => {
  await using pool = new Pool(2);
  function* input() {
    yield 1;
    yield 2;
    throw new SyntaxError("input broke");
  }
  const seen: number[] = [];
  await assertRejects(async () => {
    for await (const r of pool.imap(square, input())) seen.push(r);
  }, SyntaxError, "input broke");
  assertEquals(seen, [1, 4]);
  await assertRejects(() => pool.map(square, input()), SyntaxError, "input broke");
  await assertRejects(async () => {
    for await (const _ of pool.imapUnordered(square, input(), 2)) { /* drain */ }
  }, SyntaxError);
  assertEquals(await pool.map(square, [2]), [4]);
});

test("unserializable arguments and free variables are refused clearly; the pool goes on", async () => {
  await using pool = new Pool(1);
  const fnArg = await assertRejects(() => pool.apply(tag, [() => 1]), SerializationError, "args[0]");
  assertEquals((fnArg as SerializationError).path, "args[0]");
  await assertRejects(() => pool.map(tag, [1, 2, { f: Symbol("s") }]), SerializationError, "iterable[2].f");
  const seen: unknown[] = [];
  await assertRejects(async () => {
    for await (const r of pool.imap(tag, ["a", new WeakMap()])) seen.push(r);
  }, SerializationError, "iterable[1]");
  assertEquals(seen, [["string", "a"]]);
  const local = 5;
  await assertRejects(() => pool.map((x: number) => x + local, [1]), TypeError, '"local"');
  await assertRejects(() => pool.apply(() => () => 1), SerializationError, "result");
  await assertRejects(() => pool.map(square, [1], 0), TypeError, "chunksize");
  await assertRejects(() => pool.map(square, 5 as never), TypeError, "iterable");
  await assertRejects(() => pool.apply(square, 5 as never), TypeError, "args must be an array");
  assertThrows(() => new Pool(0), TypeError, "processes");
  assertThrows(() => new Pool(1, { maxtasksperchild: -1 }), TypeError, "maxtasksperchild");
  assertEquals(await pool.map(square, [1, 2]), [1, 4]);
});

test("workers that cannot start fail the calls with the start error instead of respawning forever", async () => {
  await using pool = new Pool(2, { initializer: failInit });
  const error = await assertRejects(() => pool.map(square, [1, 2, 3]), ProcessError, "fail to start");
  assert(error.cause instanceof TypeError && error.cause.message === "initializer failed on purpose", String(error.cause));
  await assertRejects(() => pool.apply(square, [1]), ProcessError, "fail to start");
});

test("imap reads an endless input lazily, in bounded memory, and closes it on break", async () => {
  await using pool = new Pool(2);
  let read = 0;
  let closed = false;
  async function* naturals() {
    try {
      for (let i = 0;; i++) {
        read++;
        yield i;
      }
    } finally {
      closed = true;
    }
  }
  let taken = 0;
  for await (const r of pool.imap(square, naturals())) {
    assertEquals(r, taken * taken);
    if (++taken === 200) break;
  }
  assert(closed, "the input was closed");
  assert(read <= 200 + 2 * 512 + 1, `read ${read} items for 200 results`); // the window is 512 items per worker
  assertEquals(await pool.apply(square, [3]), 9);
});

test("getContext(method).Pool and the context option pick the start method", async () => {
  const other = startMethod === "thread" ? "process" : "thread";
  await using a = new (getContext(other).Pool)(1);
  assertEquals(await a.apply(() => 2), 2);
  await using b = new Pool(1, { context: getContext(other) });
  assertEquals(await b.map(square, [3]), [9]);
  assertThrows(() => new Pool(1, { context: "fork" as never }), TypeError, "start method");
});

test("an idle pool does not keep the program alive; await using waits for submitted work", async () => {
  const result = await runFixture(new URL("./fixtures/idle_pool.ts", import.meta.url));
  assertEquals(result.stderr, "");
  assertEquals(result.stdout.trim().split("\n"), ["[1,4,9]", "done"]);
  assertEquals(result.code, 0);
});
