// One atomic memory interface for all shared state (Value, SharedArray, the
// Lock family): 32-bit cells with load, store, add, compareExchange, wait
// and notify, plus byte reads and writes. Providers:
//   - LocalMemory: a SharedArrayBuffer this thread can touch (the process
//     that made the object, and its worker threads);
//   - RemoteMemory (remote_memory.ts): the owner's SharedArrayBuffer seen
//     from a child process, every operation a request to the owner.
//
// Everything that may have to wait (acquire a lock, wait for an event) is
// written once as a *kernel*: a function that tries, without blocking, and
// either finishes or names the cell to wait on. A driver runs it, waiting
// between tries, synchronously or asynchronously. A remote memory sends
// (kernel name, arguments) to the owner, which runs the same kernel on its
// memory: `withLock(() => v.value += 1)` costs round trips per call, not
// per compare-and-swap.
import { myToken } from "./lives.ts";

/** How a wait ended. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/** One try of a kernel: finished with a value, or "wait until cell moves from seen". */
export type Step<R> = { done: true; value: R } | { done: false; cell: number; seen: number; ms?: number };

/**
 * Tries an operation on cells without blocking. `holder` is the caller's
 * token (lives.ts): a thread's, or a child process's when the owner runs
 * it for that child. `cells` starts at the object's base.
 */
export type Kernel = (cells: Int32Array, holder: number, args: number[]) => Step<number>;

/** Returned by the drivers when the time ran out before the kernel finished. */
export const TIMED_OUT = -0x7fffffff;

const kernels = new Map<string, Kernel>();

/** Makes a kernel known by name, so an owner can run it for a child process. */
export function defineKernel(name: string, kernel: Kernel): string {
  if (kernels.has(name) && kernels.get(name) !== kernel) throw new Error(`multiproc: kernel ${name} defined twice`);
  kernels.set(name, kernel);
  return name;
}

/** The kernel registered under `name`. */
export function kernelNamed(name: string): Kernel {
  const k = kernels.get(name);
  if (!k) throw new Error(`multiproc: no kernel named ${name}`);
  return k;
}

const owners = new WeakMap<object, AtomicMemory>();

/** Records that `owner` (a Lock, say) lives in `mem`, for memoryOf(). */
export function bindMemory(owner: object, mem: AtomicMemory): void {
  owners.set(owner, mem);
}

/** The memory `owner` was bound to with bindMemory(), if any. */
export function memoryOf(owner: object): AtomicMemory | undefined {
  return owners.get(owner);
}

/** Shared memory of a fixed size, seen as 32-bit cells and bytes. */
export interface AtomicMemory {
  /** Size in bytes (a multiple of 8). */
  readonly byteLength: number;
  /** Whether this memory is reached through another process (every call a round trip). */
  readonly remote: boolean;
  load(cell: number): number;
  store(cell: number, value: number): void;
  /** Adds and returns the old value. */
  add(cell: number, delta: number): number;
  /** Stores `replacement` if the cell holds `expected`; returns the old value. */
  compareExchange(cell: number, expected: number, replacement: number): number;
  /** Wakes up to `count` waiters on `cell` (all by default). */
  notify(cell: number, count?: number): void;
  /** A copy of `length` bytes at `offset`. */
  read(offset: number, length: number): Uint8Array;
  /** Writes `bytes` at `offset`. */
  write(offset: number, bytes: Uint8Array): void;
  /**
   * Runs `kernel` on the cells from `base` on, waiting up to `ms` (forever
   * if undefined) between tries; TIMED_OUT if it did not finish in time.
   */
  run(kernel: string, base: number, args: number[], ms: number | undefined, signal?: AbortSignal): Promise<number>;
  /** As run(), blocking this thread meanwhile (only where blocking is allowed). */
  runSync(kernel: string, base: number, args: number[], ms: number | undefined): number;
  /** As run() with no waiting: one try (allowed everywhere, main thread included). */
  runNow(kernel: string, base: number, args: number[]): number;
}

// Atomics.waitAsync is ES2024; the compiler's lib here is older.
interface AtomicsWaitAsync {
  waitAsync(
    cells: Int32Array,
    index: number,
    value: number,
    ms: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

// This thread's async waiters per buffer and cell: a notify from this same
// thread reaches a waitAsync only on a later turn of the event loop, so
// such waiters are woken directly.
const waiting = new WeakMap<SharedArrayBuffer, Map<number, Set<() => void>>>();

function localWaiters(buffer: SharedArrayBuffer, cell: number): Set<() => void> {
  let cells = waiting.get(buffer);
  if (!cells) waiting.set(buffer, cells = new Map());
  let set = cells.get(cell);
  if (!set) cells.set(cell, set = new Set());
  return set;
}

/** Waits (async) until `cells[cell]` moves from `seen`, `ms` pass or `signal` aborts; keeps the event loop alive. */
export function waitCellAsync(cells: Int32Array, cell: number, seen: number, ms: number | undefined, signal?: AbortSignal): Promise<WaitResult> {
  if (signal?.aborted) return Promise.resolve("timed-out");
  const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(cells, cell, seen, ms ?? Infinity);
  if (!r.async) return Promise.resolve(r.value as WaitResult);
  return new Promise<WaitResult>((resolve) => {
    let once = false;
    const here = localWaiters(cells.buffer as SharedArrayBuffer, cells.byteOffset / 4 + cell);
    const done = (how: WaitResult) => {
      if (once) return;
      once = true;
      here.delete(wake);
      clearTimeout(keep);
      signal?.removeEventListener("abort", abort);
      resolve(how);
    };
    const wake = () => done("ok");
    const abort = () => done("timed-out");
    // Node and Deno do not count a pending waitAsync as work: without a
    // timer, a program waiting only on shared state would just end.
    const keep = setTimeout(() => done("timed-out"), Math.min(ms ?? 2 ** 31 - 1, 2 ** 31 - 1));
    signal?.addEventListener("abort", abort, { once: true });
    here.add(wake);
    void r.value.then((v) => done(v as WaitResult));
  });
}

/** Wakes waiters on `cells[cell]`, those of this thread directly. */
export function notifyCell(cells: Int32Array, cell: number, count: number = Infinity): void {
  const here = waiting.get(cells.buffer as SharedArrayBuffer)?.get(cells.byteOffset / 4 + cell);
  if (here?.size) {
    let n = 0;
    for (const wake of [...here]) {
      if (n++ >= count) break;
      wake();
    }
  }
  Atomics.notify(cells, cell, count);
}

/**
 * Runs a kernel on local cells until it finishes, waiting asynchronously
 * between tries; TIMED_OUT after `ms`. Waits are capped at 50 ms so that a
 * kernel that looks for dead holders looks again.
 */
export async function driveAsync(
  kernel: Kernel,
  cells: Int32Array,
  holder: number,
  args: number[],
  ms: number | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (;;) {
    const step = kernel(cells, holder, args);
    if (step.done) return step.value;
    const rest = until - performance.now();
    if (rest <= 0 || signal?.aborted) return TIMED_OUT;
    await waitCellAsync(cells, step.cell, step.seen, Math.min(rest, step.ms ?? 50), signal);
  }
}

/** As driveAsync, blocking this thread between tries. */
export function driveSync(kernel: Kernel, cells: Int32Array, holder: number, args: number[], ms: number | undefined): number {
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (let spin = 0;; spin++) {
    const step = kernel(cells, holder, args);
    if (step.done) return step.value;
    if (spin < 32) continue; // a holder usually lets go within microseconds
    const rest = until - performance.now();
    if (rest <= 0) return TIMED_OUT;
    Atomics.wait(cells, step.cell, step.seen, Math.min(rest, step.ms ?? 50));
  }
}

/** Memory this thread touches directly: a SharedArrayBuffer. */
export class LocalMemory implements AtomicMemory {
  readonly buffer: SharedArrayBuffer;
  readonly cells: Int32Array;
  readonly bytes: Uint8Array;
  readonly remote = false;

  /** New zeroed memory of `byteLength` bytes (rounded up to 8), or a view of `buffer`. */
  constructor(from: number | SharedArrayBuffer) {
    this.buffer = typeof from === "number" ? new SharedArrayBuffer(Math.max(8, Math.ceil(from / 8) * 8)) : from;
    this.cells = new Int32Array(this.buffer);
    this.bytes = new Uint8Array(this.buffer);
  }

  get byteLength(): number {
    return this.buffer.byteLength;
  }

  load(cell: number): number {
    return Atomics.load(this.cells, cell);
  }

  store(cell: number, value: number): void {
    Atomics.store(this.cells, cell, value);
  }

  add(cell: number, delta: number): number {
    return Atomics.add(this.cells, cell, delta);
  }

  compareExchange(cell: number, expected: number, replacement: number): number {
    return Atomics.compareExchange(this.cells, cell, expected, replacement);
  }

  notify(cell: number, count?: number): void {
    notifyCell(this.cells, cell, count);
  }

  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  write(offset: number, bytes: Uint8Array): void {
    this.bytes.set(bytes, offset);
  }

  #view(base: number): Int32Array {
    return base === 0 ? this.cells : this.cells.subarray(base);
  }

  run(kernel: string, base: number, args: number[], ms: number | undefined, signal?: AbortSignal): Promise<number> {
    const k = kernelNamed(kernel);
    const cells = this.#view(base);
    // Most calls finish at once (a free lock): no async function then.
    const first = k(cells, myToken(), args);
    if (first.done) return Promise.resolve(first.value);
    if (ms === 0) return Promise.resolve(TIMED_OUT);
    return driveAsync(k, cells, myToken(), args, ms, signal);
  }

  runSync(kernel: string, base: number, args: number[], ms: number | undefined): number {
    return driveSync(kernelNamed(kernel), this.#view(base), myToken(), args, ms);
  }

  runNow(kernel: string, base: number, args: number[]): number {
    const step = kernelNamed(kernel)(this.#view(base), myToken(), args);
    return step.done ? step.value : TIMED_OUT;
  }
}
