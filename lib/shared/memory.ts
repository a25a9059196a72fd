// One atomic memory interface for all shared state (Value, SharedArray, the
// Lock family): 32-bit cells with load, store, add, compareExchange, wait
// and notify, plus byte reads and writes. Providers:
//   - LocalMemory: a SharedArrayBuffer this thread can touch (the process
//     that made the object, and its worker threads), or a piece of a segment of OS shared memory mapped into this process (Deno with
//     --allow-ffi and Bun on Linux: os_segments.ts), which child processes
//     map too and then touch as directly as threads;
//   - RemoteMemory (remote_memory.ts): the owner's SharedArrayBuffer seen
//     from a child process, every operation a request to the owner (Node,
//     and Deno without --allow-ffi).
//
// Everything that may have to wait (acquire a lock, wait for an event) is
// written once as a *kernel*: a function that tries, without blocking, and
// either finishes or names the cell to wait on. A driver runs it, waiting
// between tries, synchronously or asynchronously. A remote memory sends
// (kernel name, arguments) to the owner, which runs the same kernel on its
// memory: `withLock(() => v.value += 1)` costs round trips per call, not
// per compare-and-swap.
import { holderDead, myToken } from "./lives.ts";

/** How a wait ended. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

/** One try of a kernel: finished with a value, or "wait until cell moves from seen". */
export type Step<R> = { done: true; value: R } | { done: false; cell: number; seen: number; ms?: number };

/**
 * Tries an operation on cells without blocking. `holder` is the caller's
 * token (lives.ts): a thread's, or a child process's when the owner runs
 * it for that child. `cells` starts at the object's base. `dead` tells
 * whether a holder token found in the cells is gone (lives.ts holderDead,
 * or the owner's answer for a child that maps the memory itself).
 */
export type Kernel = (cells: Int32Array, holder: number, args: number[], dead: (token: number) => boolean) => Step<number>;

/** Who runs kernels on a memory: the holder token written into its cells, and how dead holders are told. */
export interface Identity {
  holder(): number;
  dead(token: number): boolean;
}

/** This thread, in the process that owns the memory. */
export const OWN_IDENTITY: Identity = { holder: myToken, dead: holderDead };

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
const waiting = new WeakMap<ArrayBufferLike, Map<number, Set<() => void>>>();

function localWaiters(buffer: ArrayBufferLike, cell: number): Set<() => void> {
  let cells = waiting.get(buffer);
  if (!cells) waiting.set(buffer, cells = new Map());
  let set = cells.get(cell);
  if (!set) cells.set(cell, set = new Set());
  return set;
}

// Buffers that no other thread has: a queue's or pipe's ring made in this
// thread and not passed to another (its child processes reach it through
// this thread). Waits on them need no Atomics.waitAsync and wakes no
// Atomics.notify: this thread's waiters are woken directly, and a V8
// waitAsync woken by a notify costs a task on this thread's event loop
// (~12 us of a pipe's round trip to a child process on Node, measured).
// Before such a buffer goes to another thread, markShared gives the waits
// under way a waitAsync, so that the other thread's notifies reach them.
const solo = new WeakSet<ArrayBufferLike>();
const soloWaits = new WeakMap<ArrayBufferLike, Set<() => void>>();

/** Marks `buffer`, just made by this thread, as one that no other thread has (until markShared). */
export function markSolo(buffer: SharedArrayBuffer): void {
  solo.add(buffer);
}

/** Whether no other thread has `buffer` (markSolo'd and not shared since): only this thread moves its cells. */
export function isSolo(buffer: ArrayBufferLike): boolean {
  return solo.has(buffer);
}

/** Called before `buffer` crosses to another thread (a no-op unless markSolo'd). */
export function markShared(buffer: ArrayBufferLike): void {
  if (!solo.delete(buffer)) return;
  const listens = soloWaits.get(buffer);
  soloWaits.delete(buffer);
  for (const listen of listens ?? []) listen();
}

/** Waits and wakes for cells of a buffer that is not a SharedArrayBuffer (OS shared memory). */
export interface CellWaits {
  /** Blocks while the cell at `byteIndex` (of the buffer) holds `expected`, `ms` at most. */
  wait(byteIndex: number, expected: number, ms: number): void;
  wake(byteIndex: number, count: number): void;
  /** Resolves once `cells[cell]` moves from `expected` (or is woken), `ms` pass or `signal` aborts. */
  waitAsync(cells: Int32Array, cell: number, expected: number, ms: number | undefined, signal: AbortSignal): Promise<WaitResult>;
}

const osWaits = new WeakMap<ArrayBufferLike, CellWaits>();

/** Makes waits on cells of `buffer` go through `waits`. */
export function useCellWaits(buffer: ArrayBuffer, waits: CellWaits): void {
  osWaits.set(buffer, waits);
}

// An async wait on OS shared memory, also woken directly by a notify of
// this thread (as waitCellAsync's waiters are).
async function waitOsAsync(
  waits: CellWaits,
  cells: Int32Array,
  cell: number,
  seen: number,
  ms: number | undefined,
  signal?: AbortSignal,
): Promise<WaitResult> {
  if (Atomics.load(cells, cell) !== seen) return "not-equal";
  const here = localWaiters(cells.buffer, cells.byteOffset / 4 + cell);
  const stop = new AbortController();
  const wake = () => stop.abort();
  here.add(wake);
  signal?.addEventListener("abort", wake, { once: true });
  try {
    const r = await waits.waitAsync(cells, cell, seen, ms, stop.signal);
    return stop.signal.aborted ? (signal?.aborted ? "timed-out" : "ok") : r;
  } finally {
    here.delete(wake);
    signal?.removeEventListener("abort", wake);
  }
}

/** Blocks while `cells[cell]` holds `seen`, `ms` at most (or until notified). */
export function waitCellSync(cells: Int32Array, cell: number, seen: number, ms: number): void {
  const os = osWaits.get(cells.buffer);
  if (os) os.wait(cells.byteOffset + 4 * cell, seen, ms);
  else Atomics.wait(cells, cell, seen, ms);
}

/** Waits (async) until `cells[cell]` moves from `seen`, `ms` pass or `signal` aborts; keeps the event loop alive. */
export function waitCellAsync(cells: Int32Array, cell: number, seen: number, ms: number | undefined, signal?: AbortSignal): Promise<WaitResult> {
  if (signal?.aborted) return Promise.resolve("timed-out");
  const os = osWaits.get(cells.buffer);
  if (os) return waitOsAsync(os, cells, cell, seen, ms, signal);
  const buffer = cells.buffer;
  const alone = solo.has(buffer);
  const until = ms === undefined ? Infinity : performance.now() + ms;
  const r = alone
    ? (Atomics.load(cells, cell) === seen ? null : { async: false as const, value: "not-equal" })
    : (Atomics as unknown as AtomicsWaitAsync).waitAsync(cells, cell, seen, ms ?? Infinity);
  if (r && !r.async) return Promise.resolve(r.value as WaitResult);
  return new Promise<WaitResult>((resolve) => {
    let once = false;
    const here = localWaiters(buffer, cells.byteOffset / 4 + cell);
    const done = (how: WaitResult) => {
      if (once) return;
      once = true;
      here.delete(wake);
      if (alone) soloWaits.get(buffer)?.delete(listen);
      clearTimeout(keep);
      signal?.removeEventListener("abort", abort);
      resolve(how);
    };
    const wake = () => done("ok");
    const abort = () => done("timed-out");
    // (once the buffer goes to another thread: its notifies reach this wait too)
    const listen = () => {
      const later = (Atomics as unknown as AtomicsWaitAsync).waitAsync(cells, cell, seen, Math.max(0, until - performance.now()));
      if (!later.async) done(later.value as WaitResult);
      else void later.value.then((v) => done(v as WaitResult));
    };
    // Node and Deno do not count a pending waitAsync as work: without a
    // timer, a program waiting only on shared state would just end.
    const keep = setTimeout(() => done("timed-out"), Math.min(ms ?? 2 ** 31 - 1, 2 ** 31 - 1));
    signal?.addEventListener("abort", abort, { once: true });
    here.add(wake);
    if (r) void r.value.then((v) => done(v as WaitResult));
    else {
      let listens = soloWaits.get(buffer);
      if (!listens) soloWaits.set(buffer, listens = new Set());
      listens.add(listen);
    }
  });
}

/** Wakes waiters on `cells[cell]`, those of this thread directly. */
export function notifyCell(cells: Int32Array, cell: number, count: number = Infinity): void {
  const here = waiting.get(cells.buffer)?.get(cells.byteOffset / 4 + cell);
  if (here?.size) {
    let n = 0;
    for (const wake of [...here]) {
      if (n++ >= count) break;
      wake();
    }
  }
  const os = osWaits.get(cells.buffer);
  if (os) os.wake(cells.byteOffset + 4 * cell, count);
  else if (!solo.has(cells.buffer)) Atomics.notify(cells, cell, count);
}

/**
 * Runs a kernel on local cells until it finishes, waiting asynchronously
 * between tries; TIMED_OUT after `ms`. Waits are capped at 50 ms so that a
 * kernel that looks for dead holders looks again.
 */
export async function driveAsync(
  kernel: Kernel,
  cells: Int32Array,
  who: Identity,
  args: number[],
  ms: number | undefined,
  signal?: AbortSignal,
): Promise<number> {
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (;;) {
    const step = kernel(cells, who.holder(), args, who.dead);
    if (step.done) return step.value;
    const rest = until - performance.now();
    if (rest <= 0 || signal?.aborted) return TIMED_OUT;
    await waitCellAsync(cells, step.cell, step.seen, Math.min(rest, step.ms ?? 50), signal);
  }
}

/** As driveAsync, blocking this thread between tries. */
export function driveSync(kernel: Kernel, cells: Int32Array, who: Identity, args: number[], ms: number | undefined): number {
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (let spin = 0;; spin++) {
    const step = kernel(cells, who.holder(), args, who.dead);
    if (step.done) return step.value;
    if (spin < 32) continue; // a holder usually lets go within microseconds
    const rest = until - performance.now();
    if (rest <= 0) return TIMED_OUT;
    waitCellSync(cells, step.cell, step.seen, Math.min(rest, step.ms ?? 50));
  }
}

// Extra tries of a kernel before an async wait (about a microsecond).
const SPIN_TRIES = 32;

/** Where memory lies in a buffer: a SharedArrayBuffer, or a mapping of OS shared memory. */
export interface MemoryView {
  buffer: ArrayBufferLike;
  byteOffset: number;
  byteLength: number;
}

/**
 * Memory this thread touches directly: a SharedArrayBuffer, or a piece of
 * a mapped OS segment (its waits then go through useCellWaits()).
 */
export class LocalMemory implements AtomicMemory {
  readonly buffer: ArrayBufferLike;
  readonly byteOffset: number;
  readonly byteLength: number;
  readonly cells: Int32Array;
  readonly bytes: Uint8Array;
  readonly remote = false;
  readonly who: Identity;

  /**
   * New zeroed memory of `byteLength` bytes (rounded up to 8), or a view of
   * `from`; `who` when this process is not the memory's owner.
   */
  constructor(from: number | SharedArrayBuffer | MemoryView, who: Identity = OWN_IDENTITY) {
    const view: MemoryView = typeof from === "number"
      ? new Uint8Array(new SharedArrayBuffer(Math.max(8, Math.ceil(from / 8) * 8)))
      : from instanceof SharedArrayBuffer
      ? new Uint8Array(from)
      : from;
    this.buffer = view.buffer;
    this.byteOffset = view.byteOffset;
    this.byteLength = view.byteLength;
    this.cells = new Int32Array(this.buffer, this.byteOffset, this.byteLength >> 2);
    this.bytes = new Uint8Array(this.buffer, this.byteOffset, this.byteLength);
    this.who = who;
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
    const holder = this.who.holder();
    let step = k(cells, holder, args, this.who.dead);
    if (step.done) return Promise.resolve(step.value);
    if (ms === 0) return Promise.resolve(TIMED_OUT);
    // A lock is usually held for a moment by another thread or process:
    // a few more tries often take it without a wait and its promise turns.
    for (let spin = 0; spin < SPIN_TRIES && !step.done; spin++) step = k(cells, holder, args, this.who.dead);
    if (step.done) return Promise.resolve(step.value);
    return driveAsync(k, cells, this.who, args, ms, signal);
  }

  runSync(kernel: string, base: number, args: number[], ms: number | undefined): number {
    return driveSync(kernelNamed(kernel), this.#view(base), this.who, args, ms);
  }

  runNow(kernel: string, base: number, args: number[]): number {
    const step = kernelNamed(kernel)(this.#view(base), this.who.holder(), args, this.who.dead);
    return step.done ? step.value : TIMED_OUT;
  }
}
