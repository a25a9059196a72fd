// Semaphore and BoundedSemaphore: Python's multiprocessing semaphores on
// shared memory (kernels.ts).
import { type AtomicMemory, TIMED_OUT } from "../shared/memory.ts";
import { crossing, type Destination } from "../transport/values.ts";
import {
  type AcquireOptions,
  acquireWait,
  newOrArriving,
  refuseBlocking,
  settled,
  type SyncAcquireOptions,
  syncCrossing,
  holding,
  holdingSync,
  quickTry,
} from "./common.ts";
import { SEMAPHORE, TOO_MANY } from "./kernels.ts";

const NONE: number[] = [];

function initialValue(value: unknown, kind: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 0x7fffffff) {
    const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
    const error = typeof value === "number" ? RangeError : TypeError;
    throw new error(`Cannot create a ${kind}: value must be an integer >= 0, got ${shown}`);
  }
  return value;
}

/**
 * Python's `multiprocessing.Semaphore`: a counter that `acquire` takes one
 * from, waiting while it is 0, and `release` gives one back. Pass it to a
 * Process or Pool; every copy is the same counter.
 *
 * A semaphore has no owner: anybody may release it, and nothing can tell
 * that a process or thread died between its acquire and release. The
 * count it held is then lost (as in Python); a Lock knows its holder and
 * is taken over instead.
 *
 * @example At most two at a time
 * ```ts
 * import { Semaphore } from "multiproc";
 * const slots = new Semaphore(2);
 * await Promise.all([1, 2, 3].map((i) => slots.withLock(async () => console.log("working", i))));
 * console.log(slots.getValue()); // 2
 * ```
 */
export class Semaphore {
  readonly #mem: AtomicMemory;

  /**
   * Creates a semaphore.
   *
   * @param value The initial count. @default 1
   * @throws {RangeError} for a negative or fractional value.
   */
  constructor(value: number = 1) {
    const bounded = new.target === BoundedSemaphore;
    const { mem, fresh } = newOrArriving(SEMAPHORE.size);
    this.#mem = mem;
    quickTry(this, mem, () => mem.runNow("semaphore.acquire", 0, NONE) !== TIMED_OUT);
    if (!fresh) return;
    initialValue(value, bounded ? "BoundedSemaphore" : "Semaphore");
    mem.store(SEMAPHORE.VALUE, value);
    mem.store(SEMAPHORE.MAX, bounded ? value : -1);
  }

  static {
    Object.defineProperty(Semaphore.prototype, crossing, {
      value(this: Semaphore, to: Destination) {
        return syncCrossing(this instanceof BoundedSemaphore ? "BoundedSemaphore" : "Semaphore", this.#mem, to);
      },
    });
  }

  /**
   * Takes one from the count, waiting while it is 0.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up; `signal` to stop waiting.
   * @returns true once taken; false if not (no wait, or the timeout passed).
   * @throws {TypeError} for bad options; the signal's reason when it aborts.
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * const s = new Semaphore(1);
   * console.log(await s.acquire(), await s.acquire({ timeout: 10 })); // true false
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    try {
      const { ms, signal } = acquireWait(options, "acquire the Semaphore");
      return this.#mem.run("semaphore.acquire", 0, NONE, ms, signal).then((r) => settled(r, signal) !== TIMED_OUT);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * As `acquire`, blocking this thread meanwhile: for code in a child process or worker.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up.
   * @returns true once taken; false if not.
   * @throws {Error} in the main thread of the top process: use `await acquire()` there.
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(s: Semaphore): void {
   *   if (s.acquireSync({ timeout: 1000 })) s.release();
   * }
   * ```
   */
  acquireSync(options?: SyncAcquireOptions): boolean {
    refuseBlocking("acquireSync()", "await semaphore.acquire()");
    const { ms } = acquireWait(options, "acquire the Semaphore");
    return this.#mem.runSync("semaphore.acquire", 0, NONE, ms) !== TIMED_OUT;
  }

  /**
   * Gives one back to the count, waking a waiter if any.
   *
   * @throws {Error} on a BoundedSemaphore already at its initial value (the count is left as it is).
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * const s = new Semaphore(0);
   * s.release();
   * console.log(s.getValue()); // 1
   * ```
   */
  release(): void {
    if (this.#mem.runNow("semaphore.release", 0, NONE) === TOO_MANY) {
      const max = this.#mem.load(SEMAPHORE.MAX);
      throw new Error(
        max >= 0
          ? `Semaphore released too many times: this BoundedSemaphore(${max}) cannot go above ${max}`
          : "Semaphore released too many times: its count cannot go above 2147483647",
      );
    }
  }

  /**
   * The count now (it may change as soon as it is read).
   *
   * @returns The count.
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * console.log(new Semaphore(3).getValue()); // 3
   * ```
   */
  getValue(): number {
    return this.#mem.load(SEMAPHORE.VALUE);
  }

  /**
   * Runs `fn` holding one of the count, giving it back however `fn` ends.
   *
   * @typeParam R What `fn` returns (or its promise resolves to).
   * @param fn Sync or async.
   * @returns What `fn` returned.
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * const s = new Semaphore(2);
   * console.log(await s.withLock(() => s.getValue())); // 1
   * ```
   */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this, fn);
  }

  /**
   * As `withLock` for synchronous `fn`, blocking this thread while it waits:
   * for code in a child process or worker.
   *
   * @typeParam R What `fn` returns.
   * @param fn Runs holding one of the count.
   * @returns What `fn` returned.
   * @throws {Error} in the main thread of the top process: use `await withLock()` there.
   * @example
   * ```ts
   * import { Semaphore } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(s: Semaphore): number {
   *   return s.withLockSync(() => 1);
   * }
   * ```
   */
  withLockSync<R>(fn: () => R): R {
    return holdingSync(this, fn, "await semaphore.withLock(fn)");
  }
}

/**
 * Python's `multiprocessing.BoundedSemaphore`: a Semaphore whose `release`
 * throws rather than raise the count above its initial value (which
 * catches a release without an acquire).
 *
 * @example
 * ```ts
 * import { BoundedSemaphore } from "multiproc";
 * const s = new BoundedSemaphore(1);
 * try {
 *   s.release();
 * } catch (e) {
 *   console.log((e as Error).message); // "Semaphore released too many times: ..."
 * }
 * ```
 */
export class BoundedSemaphore extends Semaphore {
  /**
   * Creates a bounded semaphore.
   *
   * @param value The initial count, also the most it may hold. @default 1
   * @throws {RangeError} for a negative or fractional value.
   */
  constructor(value: number = 1) {
    super(value);
  }
}
