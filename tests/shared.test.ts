// Value, RawValue, SharedArray and RawArray on whatever runtime runs this
// file, under the start method the runner sets: typecodes and wrap-around
// against typed arrays (property), element access, bad input, changes seen
// across a child both ways, exact counts under getLock() and under a
// separate Lock (with the parent joining in), pool workers through
// initargs and task arguments, and refusal as a queue item.
import fc from "fast-check";
import {
  Event,
  getContext,
  Lock,
  Queue,
  RawArray,
  RawValue,
  SerializationError,
  SharedArray,
  SharedMemory,
  Value,
} from "../mod.ts";
import { readdirSync } from "node:fs";
import process from "node:process";
import { memoryOf } from "../lib/shared/memory.ts";
import { getHost } from "../lib/runtime/host.ts";
import { assert, assertEquals, assertThrows, runtimeName, startMethod, test } from "./harness.ts";
import { runCommand, runFixture } from "./fixtures/run.ts";

const ctx = getContext(startMethod);

type TypeCode = "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "f" | "d";

// What each typecode stores, as a typed array of that kind would.
const VIEWS: Record<TypeCode, new (n: number) => ArrayLike<number | bigint> & { [i: number]: number | bigint }> = {
  b: Int8Array,
  B: Uint8Array,
  h: Int16Array,
  H: Uint16Array,
  i: Int32Array,
  I: Uint32Array,
  l: Int32Array,
  L: Uint32Array,
  q: BigInt64Array,
  Q: BigUint64Array,
  f: Float32Array,
  d: Float64Array,
} as never;

function stored(code: TypeCode, x: number | bigint): number | bigint {
  const v = new VIEWS[code](1);
  v[0] = x;
  return v[0];
}

// ---- targets run in children ----------------------------------------------

export function incrementAndDouble(n: Value<"i">, arr: SharedArray<"d">): void {
  n.value += 1;
  for (let i = 0; i < arr.length; i++) arr[i] *= 2;
}

export async function addUnderOwnLock(v: Value<"i">, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await v.getLock().withLock(() => {
      v.value += 1;
    });
  }
}

export async function addUnderLock(v: RawValue<"q">, a: RawArray<"i">, lock: Lock, times: number): Promise<void> {
  for (let i = 0; i < times; i++) {
    await lock.withLock(() => {
      v.value += 1n;
      a[0] += 1;
      a[1] -= 1;
    });
  }
}

export function readBack(v: RawValue<"d">, a: RawArray<"B">, out: Queue<unknown>): Promise<void> {
  return out.put({ v: v.value, a: [...a], length: a.length, typecodes: [v.typecode, a.typecode] });
}

let workerValue: Value<"i"> | null = null;
export function keepValue(v: Value<"i">): void {
  workerValue = v;
}

export async function addFromTask(v: Value<"i">, n: number): Promise<number> {
  await v.getLock().withLock(() => {
    v.value += n;
  });
  await workerValue!.getLock().withLock(() => {
    workerValue!.value += 1;
  });
  return n;
}

export async function underLock(v: Value<"d">, big: SharedArray<"i">, out: Queue<unknown>): Promise<void> {
  const seen: unknown[] = [];
  await v.getLock().withLock(() => {
    seen.push(v.value);
    v.value = 1.25;
    seen.push(v.value);
    v.value += 1;
    seen.push(v.value);
  });
  seen.push(v.value); // after letting go: read from the owner
  await big.getLock().withLock(() => {
    big[0] += 1;
    big[big.length - 1] = 9;
  });
  await out.put(seen);
}

export function setAndReturn(v: Value<"i">, n: number): number {
  v.value = n;
  return n;
}

export function putAndReturn(q: Queue<number>, n: number): number {
  q.putNowait(n);
  return n;
}

export function attachAndWrite(name: string, out: Queue<unknown>): Promise<void> {
  const shm = new SharedMemory({ name });
  const seen = [...shm.buf.slice(0, 3)];
  shm.buf[3] = 99;
  shm.buf.set([7, 8], 4);
  const size = shm.size;
  const view = ArrayBuffer.isView(shm.buf);
  shm.close();
  return out.put({ seen, size, view });
}

export function writePassed(shm: SharedMemory): void {
  shm.buf.fill(5, 0, 2);
}

export function attachMissing(out: Queue<unknown>): Promise<void> {
  try {
    new SharedMemory({ name: "no-such-block" });
    return out.put("attached?");
  } catch (e) {
    return out.put((e as Error).name);
  }
}

export function howReached(lock: Lock, v: Value<"i">, out: Queue<unknown>): Promise<void> {
  v.value += 5;
  return out.put({ remote: memoryOf(lock)!.remote, value: v.value });
}

// ---- tests ------------------------------------------------------------------

test("Value and RawValue: typecodes, defaults, wrap-around as ctypes, bigint for q/Q", () => {
  assertEquals(new Value("i").value, 0);
  assertEquals(new Value("i", 7).value, 7);
  const b = new RawValue("b", 127);
  b.value += 1;
  assertEquals(b.value, -128);
  const big = new Value("Q", 2n ** 64n - 1n);
  big.value += 1n;
  assertEquals(big.value, 0n);
  const q = new RawValue("q", 5); // a safe integer is taken for a bigint code
  assertEquals(q.value, 5n);
  const f = new Value("f", 0.1);
  assertEquals(f.value, Math.fround(0.1));
  assertEquals(String(new Value("d", 1.5)), 'Value("d", 1.5)');
});

test("property: every typecode stores what a typed array of its kind stores", () => {
  const codes: TypeCode[] = ["b", "B", "h", "H", "i", "I", "l", "L", "f", "d"];
  fc.assert(
    fc.property(fc.constantFrom(...codes), fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), fc.double({ noNaN: true }), (code, n, x) => {
      const isFloat = code === "f" || code === "d";
      const input = isFloat ? x : n;
      const v = new RawValue(code, input);
      assertEquals(v.value, stored(code, input));
      const a = new SharedArray(code, [input, input]);
      assertEquals(a[1], stored(code, input));
    }),
    { numRuns: 200 },
  );
  fc.assert(
    fc.property(fc.constantFrom<TypeCode>("q", "Q"), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (code, n) => {
      assertEquals(new Value(code, n).value, stored(code, n));
    }),
    { numRuns: 100 },
  );
});

test("SharedArray and RawArray: index, length, spread, toArray, keys; out of range throws", () => {
  const a = new SharedArray("i", [1, 2, 3]);
  a[0] = 10;
  a[2] += 5;
  assertEquals([...a], [10, 2, 8]);
  assertEquals(a.toArray(), [10, 2, 8]);
  assertEquals(a.length, 3);
  assertEquals(Object.keys(a).slice(0, 3), ["0", "1", "2"]);
  assert(1 in a && !(3 in a));
  assertThrows(() => a[3], RangeError, "out of range");
  assertThrows(() => {
    a[-1] = 1;
  }, RangeError, "out of range");
  const z = new RawArray("d", 4);
  assertEquals([...z], [0, 0, 0, 0]);
  assertEquals(String(new SharedArray("B", [1, 2])), 'SharedArray("B", [1, 2])');
  assertEquals(new RawArray("Q", [1n, 2n]).toArray(), [1n, 2n]);
});

test("bad input is refused clearly, and the object keeps working", () => {
  assertThrows(() => new Value("x" as never, 1), TypeError, "typecode must be one of");
  assertThrows(() => new Value("i", 1.5), TypeError, "holds integers");
  assertThrows(() => new Value("i", "3" as never), TypeError, "holds numbers");
  assertThrows(() => new Value("q", 1.5 as never), TypeError, "bigint");
  assertThrows(() => new SharedArray("i", -1), RangeError, "length");
  assertThrows(() => new SharedArray("i", null as never), TypeError, "iterable");
  assertThrows(() => new Value("i", 0, { lock: 3 as never }), TypeError, "lock must be");
  const v = new Value("i", 1);
  assertThrows(() => {
    v.value = "2" as never;
  }, TypeError, "holds numbers");
  assertEquals(v.value, 1);
  v.value = 2;
  assertEquals(v.value, 2);
  const raw = new Value("i", 0, { lock: false });
  assertThrows(() => raw.getLock(), TypeError, "lock: false");
  const a = new SharedArray("h", 2);
  assertThrows(() => {
    a[0] = 0.5;
  }, TypeError, "holds integers");
  a[0] = 40000; // wraps, as ctypes does
  assertEquals(a[0], 40000 - 65536);
});

test("a Value and a SharedArray passed to a child: its changes are seen here (the seed program)", async () => {
  const num = new Value("i", 0);
  const arr = new SharedArray("d", [1.0, 2.0, 3.0]);
  const p = new ctx.Process({ target: incrementAndDouble, args: [num, arr] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
  assertEquals(num.value, 1);
  assertEquals([...arr], [2, 4, 6]);
});

test("a child reads what the parent wrote, with the typecodes it was made with", async () => {
  const v = new RawValue("d", 2.5);
  const a = new RawArray("B", [1, 2, 255]);
  const out = new Queue<unknown>();
  const p = new ctx.Process({ target: readBack, args: [v, a, out] });
  p.start();
  assertEquals(await out.get({ timeout: 10_000 }), { v: 2.5, a: [1, 2, 255], length: 3, typecodes: ["d", "B"] });
  await p.join();
});

test("exact counts: 2 children x 300 increments under getLock(), the parent joining in", async () => {
  const v = new Value("i", 0);
  const children = [0, 1].map(() => new ctx.Process({ target: addUnderOwnLock, args: [v, 300] }));
  for (const c of children) c.start();
  await addUnderOwnLock(v, 300);
  for (const c of children) await c.join();
  assertEquals(children.map((c) => c.exitCode), [0, 0]);
  assertEquals(v.value, 900);
});

test("exact counts under a separate Lock guarding a RawValue and a RawArray together", async () => {
  const lock = new Lock();
  const v = new RawValue("q", 0n);
  const a = new RawArray("i", [0, 0]);
  const children = [0, 1].map(() => new ctx.Process({ target: addUnderLock, args: [v, a, lock, 200] }));
  for (const c of children) c.start();
  await addUnderLock(v, a, lock, 100);
  for (const c of children) await c.join();
  assertEquals(v.value, 500n);
  assertEquals([...a], [500, -500]);
});

test("a Value reaches pool workers through initargs and as a task argument", async () => {
  const perTask = new Value("i", 0);
  const perWorker = new Value("i", 0);
  await using pool = new ctx.Pool(2, { initializer: keepValue, initargs: [perWorker] });
  assertEquals(await pool.starmap(addFromTask, [[perTask, 1], [perTask, 2], [perTask, 3]]), [1, 2, 3]);
  assertEquals(perTask.value, 6);
  assertEquals(perWorker.value, 3);
});

test("a Value is not a queue item (as in Python): refused with SerializationError", async () => {
  const q = new Queue<unknown>();
  await assertRejectsClass(() => q.put(new Value("i", 1)), SerializationError);
  await q.put(1); // the queue goes on
  assertEquals(await q.get(), 1);
});

async function assertRejectsClass(fn: () => Promise<unknown>, cls: new (...a: never[]) => Error): Promise<void> {
  let error: unknown;
  try {
    await fn();
  } catch (e) {
    error = e;
  }
  assert(error instanceof cls, `expected ${cls.name}, got ${String(error)}`);
}

test("SharedMemory: create, attach by name, buf, close, unlink; bad options refused", () => {
  const shm = new SharedMemory({ create: true, size: 16 });
  assert(shm.name.length > 0);
  assertEquals(shm.size, 16);
  assertEquals(shm.buf.length, 16);
  shm.buf[0] = 42;
  const again = new SharedMemory({ name: shm.name });
  assertEquals(again.buf[0], 42);
  again.buf[1] = 7;
  assertEquals(shm.buf[1], 7);
  again.close();
  assertThrows(() => again.buf, Error, "closed");
  assertEquals(shm.buf[1], 7, "closing one holder leaves the others");
  const e = assertThrows(() => new SharedMemory({ name: shm.name, create: true, size: 4 }));
  assertEquals(e.name, "FileExistsError");
  shm.unlink();
  assertEquals(assertThrows(() => new SharedMemory({ name: shm.name })).name, "FileNotFoundError");
  assertEquals(shm.buf[0], 42, "unlinking keeps the bytes of those who hold them");
  assertThrows(() => new SharedMemory({ create: true }), RangeError, "size");
  assertThrows(() => new SharedMemory({ create: true, size: -1 }), RangeError, "size");
  assertThrows(() => new SharedMemory({ name: 3 as never }), TypeError, "name");
  assertThrows(() => new SharedMemory(), TypeError, "name");
  const named = new SharedMemory({ name: "multiproc-test-block", create: true, size: 3 });
  assertEquals(named.name, "multiproc-test-block");
  named.unlink();
});

test("SharedMemory: a child attaches by name and writes; passed as an argument, it arrives connected", async () => {
  const shm = new SharedMemory({ create: true, size: 8 });
  try {
    shm.buf.set([1, 2, 3]);
    const out = new Queue<unknown>();
    const p = new ctx.Process({ target: attachAndWrite, args: [shm.name, out] });
    p.start();
    // A real Uint8Array where the child maps the block (OS shared memory), else a stand-in.
    const served = startMethod === "process" && getHost().osMemory() === undefined;
    assertEquals(await out.get({ timeout: 10_000 }), { seen: [1, 2, 3], size: 8, view: !served });
    await p.join();
    assertEquals([...shm.buf], [1, 2, 3, 99, 7, 8, 0, 0]);
    const q = new ctx.Process({ target: writePassed, args: [shm] });
    q.start();
    await q.join();
    assertEquals(q.exitCode, 0);
    assertEquals([...shm.buf.slice(0, 3)], [5, 5, 3]);
    const missing = new ctx.Process({ target: attachMissing, args: [out] });
    missing.start();
    assertEquals(await out.get({ timeout: 10_000 }), "FileNotFoundError");
    await missing.join();
  } finally {
    shm.close();
    shm.unlink();
  }
});

test("a child holding a Value's lock reads its own writes; a big SharedArray under its lock", async () => {
  const v = new Value("d", 0.5);
  const big = new SharedArray("i", 5000);
  const out = new Queue<unknown>();
  const p = new ctx.Process({ target: underLock, args: [v, big, out] });
  p.start();
  assertEquals(await out.get({ timeout: 10_000 }), [0.5, 1.25, 2.25, 2.25]);
  await p.join();
  assertEquals(v.value, 2.25);
  assertEquals([big[0], big[1], big[4999]], [1, 0, 9]);
});

test("a pool task's writes and puts are done by the time its result arrives", async () => {
  const v = new Value("i", 0);
  const q = new Queue<number>();
  await using pool = new ctx.Pool(2);
  for (let i = 1; i <= 40; i++) {
    assertEquals(await pool.apply(setAndReturn, [v, i]), i);
    assertEquals(v.value, i);
    assertEquals(await pool.apply(putAndReturn, [q, i]), i);
    assertEquals(q.getNowait(), i);
  }
});

test("where the runtime maps OS shared memory (Deno with --allow-ffi, Bun, on Linux), a child process touches it directly", async () => {
  const lock = new Lock();
  const v = new Value("i", 1);
  const out = new Queue<unknown>();
  const p = new ctx.Process({ target: howReached, args: [lock, v, out] });
  p.start();
  // Served (one request to this process per operation) only for a child
  // process where this process has no OS shared memory: Node, and Deno
  // without --allow-ffi.
  const served = startMethod === "process" && getHost().osMemory() === undefined;
  assertEquals(await out.get({ timeout: 10_000 }), { remote: served, value: 6 });
  await p.join();
  assertEquals(v.value, 6);
  assertEquals(getHost().osMemory() === undefined, runtimeName === "node" || process.platform !== "linux");
});

test("thousands of Values and Locks share a few OS segments (file descriptors)", () => {
  const fds = () => readdirSync("/proc/self/fd").length;
  const before = fds();
  const kept: unknown[] = [];
  for (let i = 0; i < 3000; i++) kept.push(new Value("i", i), new Lock());
  assert(fds() - before <= 2, `${fds() - before} descriptors for ${kept.length} objects`);
  assertEquals((kept[2998] as Value<"i">).value, 1499);
}, { skip: process.platform !== "linux" ? "counts /proc/self/fd (Linux)" : false });

test("served shared memory (Deno without --allow-ffi, or MULTIPROC_SHARED_MEMORY=served): exact counts, and Deno says why once", async () => {
  const example = new URL("../examples/process_counter.ts", import.meta.url);
  const r = runtimeName === "deno"
    ? await runCommand(process.execPath, ["run", "--quiet", "--allow-read", "--allow-env", "--allow-run", "--allow-sys", example.pathname])
    : await runFixture(example, [], { MULTIPROC_SHARED_MEMORY: "served" });
  assertEquals(r.stdout, "Total number of processes: 4\n", r.stderr);
  const notices = r.stderr.split("\n").filter((l) => l.includes("--allow-ffi"));
  // Only Deno says so, and only when a child process is given shared state.
  assertEquals(notices.length, runtimeName === "deno" && startMethod === "process" ? 1 : 0, r.stderr);
  assertEquals(r.stderr.replace(/^multiproc: shared state reaches child processes.*\n/m, ""), "");
  assertEquals(r.code, 0);
}, { timeout: 60_000 });

export function unlinkThere(name: string): void {
  new SharedMemory({ name }).unlink();
}

test("SharedMemory: unlink in a child removes the name in the parent too", async () => {
  const shm = new SharedMemory({ create: true, size: 16 });
  shm.buf[0] = 7;
  const p = new ctx.Process({ target: unlinkThere, args: [shm.name] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
  assertThrows(() => new SharedMemory({ name: shm.name }), Error, "no block named");
  assertEquals(shm.buf[0], 7, "the bytes stay while held");
  shm.close();
}, {
  skip: startMethod === "thread"
    ? "names are kept per thread: a thread child's unlink removes the name in that thread and the threads it starts (README)"
    : false,
});

/** Adds 1 to `v` under its lock (a grandchild of the test). */
export function addOne(v: Value<"i">): void {
  v.getLock().withLockSync(() => {
    v.value += 1;
  });
}

/** Passes `v` on to a child of its own (same start method), and says how that went. */
export async function passOn(v: Value<"i">, out: Queue<string>, method: "process" | "thread"): Promise<void> {
  try {
    const p = new (getContext(method).Process)({ target: addOne, args: [v] });
    p.start();
    await p.join();
    await out.put(`exit ${p.exitCode}`);
  } catch (error) {
    await out.put(`${(error as Error).name}: ${(error as Error).message}`);
  }
}

test("shared state passed on by a child: to its threads it stays connected; a child process is refused clearly", async () => {
  const v = new Value("i", 0);
  const out = new Queue<string>();
  const p = new ctx.Process({ target: passOn, args: [v, out, startMethod] });
  p.start();
  const said = await out.get({ timeout: 30_000 });
  await p.join();
  if (startMethod === "thread") {
    // One process: the memory is the same SharedArrayBuffer (or mapping) all the way down.
    assertEquals([said, v.value], ["exit 0", 1]);
  } else {
    // Holders of a lock are told apart by tokens of the process that made it, which knows only its own children.
    assert(said.startsWith("SerializationError: A Value that came from process"), said);
    assert(said.includes("cannot be passed on to a child process of this child"), said);
    assertEquals(v.value, 0);
  }
  assertEquals(p.exitCode, 0);
}, { timeout: 60_000 });

/** Says it has started (which opens its way to the memory), then adds 1 to `v` `n` times under its lock. */
export function countWhileParentBusy(v: Value<"i">, started: Event, n: number): void {
  started.set();
  for (let i = 0; i < n; i++) {
    v.getLock().withLockSync(() => {
      v.value += 1;
    });
  }
}

test("a child's operations on shared state do not wait for the parent's event loop (busy in synchronous code)", async () => {
  // On Node a child process reaches the parent's memory through a thread of
  // the parent (its state line); elsewhere the memory is mapped or shared.
  const v = new Value("i", 0);
  const started = new Event();
  const n = 300;
  const p = new ctx.Process({ target: countWhileParentBusy, args: [v, started, n] });
  p.start();
  assert(await started.wait(30_000), "the child started");
  const end = performance.now() + 20_000;
  while (v.value < n && performance.now() < end) {
    // busy: no await, so this thread's event loop serves nobody meanwhile
  }
  assertEquals(v.value, n, "the child counted to the end while the parent was busy");
  await p.join();
  assertEquals(p.exitCode, 0);
}, { timeout: 60_000 });
