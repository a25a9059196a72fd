// What the Lock family shares: how acquire's options are read, where the
// `...Sync` twins are refused, and the memory a primitive being revived
// after crossing takes instead of new memory.
import { checkSignal, checkTimeout } from "../checks.ts";
import { type MemoryState, memoryState } from "../shared/crossing.ts";
import { isMainThread } from "../shared/lives.ts";
import { type AtomicMemory, TIMED_OUT } from "../shared/memory.ts";
import { allocateMemory } from "../shared/os_segments.ts";
import { state } from "../state.ts";
import type { Crossing, Destination } from "../transport/values.ts";

/**
 * How `acquire` waits for a Lock, RLock, Semaphore or Condition.
 *
 * @example
 * ```ts
 * import { Lock, type AcquireOptions } from "multiproc";
 * const options: AcquireOptions = { timeout: 100 }; // give up (false) after 100 ms
 * const lock = new Lock();
 * console.log(await lock.acquire(options)); // true
 * ```
 */
export interface AcquireOptions {
  /** Wait until it is free (true), or try once and answer at once (false). @default true */
  block?: boolean;
  /** The longest wait in ms; then `acquire` answers false. @default wait forever */
  timeout?: number;
  /** Stops waiting: the promise rejects with the signal's reason (nothing is acquired). */
  signal?: AbortSignal;
}

/** How `acquireSync` waits: as acquire's options, without a signal. */
export type SyncAcquireOptions = Omit<AcquireOptions, "signal">;

/** @internal What a Condition needs of its lock (a Lock or an RLock). */
export interface Ownership {
  /** Whether the caller (this thread, or this child process) holds it. */
  owned(): boolean;
  /** Lets go of every level the caller holds; answers the count to take back. Throws if not held. */
  releaseAll(call: string): number;
  restore(count: number): Promise<void>;
  restoreSync(count: number): void;
  readonly ownerDied: boolean;
}

/** The error for wait or notify on a Condition whose lock the caller does not hold (Python's words). */
export function unheld(call: string): Error {
  return new Error(
    `cannot ${call} on un-acquired lock: call it inside condition.withLock(...) or after await condition.acquire()`,
  );
}

/** The longest wait an acquire asks for (undefined: forever), and its signal. */
export interface Wait {
  ms: number | undefined;
  signal: AbortSignal | undefined;
}

/** Reads acquire's options, refusing bad ones with a TypeError that names `what`. */
export function acquireWait(options: AcquireOptions | undefined, what: string): Wait {
  if (options === undefined || options === null) return { ms: undefined, signal: undefined };
  if (typeof options !== "object") {
    throw new TypeError(`Cannot ${what}: options must be an object such as { timeout: 100 }, got ${String(options)}`);
  }
  const timeout = timeoutMs(options.timeout, what);
  const signal = checkSignal(options.signal, what);
  return { ms: options.block === false ? 0 : timeout, signal };
}

/** A timeout in ms, undefined (or Infinity) meaning forever. */
export function timeoutMs(timeout: unknown, what: string): number | undefined {
  const ms = checkTimeout(timeout, what);
  return ms === Infinity ? undefined : ms;
}

/** What a kernel run answers when it timed out or was aborted; rejects with the signal's reason then. */
export function settled(result: number, signal: AbortSignal | undefined): number {
  if (result === TIMED_OUT) signal?.throwIfAborted();
  return result;
}

/**
 * Refuses a blocking `...Sync` call in the main thread of the top process:
 * it serves its child processes' requests (their locks too), so blocking
 * it could wait for ever.
 */
export function refuseBlocking(call: string, twin: string): void {
  if (!state().isChild && isMainThread()) {
    throw new Error(
      `${call} blocks its thread and is for code in a child process or worker; here use ${twin}`,
    );
  }
}

// A primitive being revived takes this memory instead of new memory.
let arriving: AtomicMemory | null = null;

/** Runs `make` with `memory` given to the primitive it constructs. */
export function reviving<T>(memory: AtomicMemory, make: () => T): T {
  arriving = memory;
  try {
    return make();
  } finally {
    arriving = null;
  }
}

/** The memory a new primitive uses: the arriving one, or new memory of `bytes`. */
export function newOrArriving(bytes: number): { mem: AtomicMemory; fresh: boolean } {
  const mem = arriving;
  arriving = null;
  return mem ? { mem, fresh: false } : { mem: allocateMemory(bytes), fresh: true };
}

/** What the Lock family crosses as: its kind, its memory, and whatever else it needs. */
export interface SyncState {
  kind: "Lock" | "RLock" | "Semaphore" | "BoundedSemaphore" | "Event" | "Condition" | "Barrier";
  memory: MemoryState;
  [more: string]: unknown;
}

/** A primitive's crossing, as `[crossing](to)` answers it. */
export function syncCrossing(
  kind: SyncState["kind"],
  mem: AtomicMemory,
  to: Destination,
  more: Record<string, unknown> = {},
): Crossing {
  const article = /^[AEIOU]/.test(kind) ? "An" : "A";
  return { type: "sync", state: { kind, memory: memoryState(mem, to, `${article} ${kind}`), ...more } };
}

/** What `withLock` needs of a Lock, RLock or semaphore. */
interface Guarded {
  acquire(): Promise<boolean>;
  acquireSync(): boolean;
  release(): void;
}

// One synchronous try to acquire, for primitives in memory this thread
// touches directly: withLock then runs a synchronous `fn` without a single
// await (a free lock costs a few atomic instructions, not promise turns).
const quickTries = new WeakMap<object, () => boolean>();

/** Registers `g`'s one-try acquire (only for local memory: remotely it is a round trip either way). */
export function quickTry(g: object, mem: AtomicMemory, tryNow: () => boolean): void {
  if (!mem.remote) quickTries.set(g, tryNow);
}

/** Runs `fn` holding `g` (Python's `with g:`), releasing it however `fn` ends. */
export function holding<R>(g: Guarded, fn: () => R | Promise<R>): Promise<R> {
  if (quickTries.get(g)?.()) {
    let r: R | Promise<R>;
    try {
      r = fn();
    } catch (error) {
      g.release();
      return Promise.reject(error);
    }
    if (r !== null && typeof (r as { then?: unknown })?.then === "function") {
      return Promise.resolve(r).finally(() => g.release());
    }
    try {
      g.release();
    } catch (error) {
      return Promise.reject(error);
    }
    return Promise.resolve(r);
  }
  return holdingAsync(g, fn);
}

async function holdingAsync<R>(g: Guarded, fn: () => R | Promise<R>): Promise<R> {
  await g.acquire();
  try {
    return await fn();
  } finally {
    g.release();
  }
}

/** As holding(), blocking the thread while it waits (refused where that may deadlock). */
export function holdingSync<R>(g: Guarded, fn: () => R, twin: string): R {
  refuseBlocking("withLockSync()", twin);
  g.acquireSync();
  try {
    return fn();
  } finally {
    g.release();
  }
}
