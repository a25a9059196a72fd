// Condition: Python's multiprocessing.Condition. Each waiter has a slot
// in the condition's own shared memory (kernels.ts), which notify marks;
// its lock is a Lock or RLock with memory of its own, released around
// each wait.
import { type AtomicMemory, TIMED_OUT } from "../shared/memory.ts";
import { crossing, type Destination } from "../transport/values.ts";
import {
  type AcquireOptions,
  newOrArriving,
  type Ownership,
  refuseBlocking,
  type SyncAcquireOptions,
  syncCrossing,
  timeoutMs,
  unheld,
} from "./common.ts";
import { CONDITION, FULL } from "./kernels.ts";
import { Lock, lockOwnership } from "./lock.ts";
import { RLock, rlockOwnership } from "./rlock.ts";

const NONE: number[] = [];

function waitsFor(timeout: unknown): number | undefined {
  return timeoutMs(timeout, "wait on the Condition");
}

/**
 * Python's `multiprocessing.Condition`: waiters sleep in `wait()` until
 * another party, holding the same lock, calls `notify()`. Pass it to a
 * Process or Pool; every copy is the same condition on the same lock.
 *
 * `wait` and `notify` must be called holding the lock (`withLock`, or
 * `acquire` ... `release`). `notify(n)` wakes up to n of the parties
 * waiting at that moment, never one that comes later; which ones is not
 * promised (as in Python), but none is passed over for ever. A waiter
 * always re-checks what it waits for: `waitFor(predicate)` does it. At
 * most 1024 parties wait on one Condition at a time; a party that dies
 * while it waits is skipped by notify (on Deno, only a child process is
 * known to have died; a worker thread is not).
 *
 * Its lock is a new Lock unless given one, where Python's is an RLock: an
 * RLock belongs to a thread, so async code of one thread would all hold it
 * at once, and waiters there would not exclude each other (asyncio's
 * Condition takes a Lock for the same reason). Given an RLock, `wait`
 * releases it wholly, however often it was acquired, and takes it back so.
 *
 * @example
 * ```ts
 * import { Condition } from "multiproc";
 * const cond = new Condition();
 * let ready = false;
 * setTimeout(() => cond.withLock(() => { ready = true; cond.notifyAll(); }), 10);
 * await cond.withLock(() => cond.waitFor(() => ready));
 * console.log(ready); // true
 * ```
 */
export class Condition {
  readonly #mem: AtomicMemory;
  readonly #lock: Lock | RLock;
  readonly #own: Ownership;

  /**
   * Creates a condition.
   *
   * @param lock The lock it uses (shared with whoever else uses that lock), a Lock or an RLock. @default a new Lock
   * @throws {TypeError} for anything but a Lock or an RLock.
   */
  constructor(lock?: Lock | RLock) {
    // The memory first: a new Lock must not take a revived condition's.
    this.#mem = newOrArriving(CONDITION.size).mem;
    if (lock !== undefined && !(lock instanceof Lock) && !(lock instanceof RLock)) {
      throw new TypeError(`Cannot create a Condition: lock must be a Lock or an RLock, got ${String(lock)}`);
    }
    this.#lock = lock ?? new Lock();
    this.#own = this.#lock instanceof Lock ? lockOwnership(this.#lock) : rlockOwnership(this.#lock);
  }

  static {
    Object.defineProperty(Condition.prototype, crossing, {
      value(this: Condition, to: Destination) {
        return syncCrossing("Condition", this.#mem, to, { lock: this.#lock });
      },
    });
  }

  /**
   * Whether the last acquire of its lock here took it over from a holder
   * that had died holding it (see Lock).
   *
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * await cond.withLock(() => console.log(cond.ownerDied)); // false
   * ```
   */
  get ownerDied(): boolean {
    return this.#own.ownerDied;
  }

  /**
   * Acquires its lock.
   *
   * @param options As Lock's: `block`, `timeout` (ms), `signal`.
   * @returns true once acquired; false if not.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * console.log(await cond.acquire()); // true
   * cond.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    return this.#lock.acquire(options);
  }

  /**
   * As `acquire`, blocking this thread meanwhile: for code in a child process or worker.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up.
   * @returns true once acquired; false if not.
   * @throws {Error} in the main thread of the top process: use `await acquire()` there.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(cond: Condition): void {
   *   cond.acquireSync();
   *   cond.notify();
   *   cond.release();
   * }
   * ```
   */
  acquireSync(options?: SyncAcquireOptions): boolean {
    return this.#lock.acquireSync(options);
  }

  /**
   * Releases its lock.
   *
   * @throws {Error} as its lock's `release()` does.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * await cond.acquire();
   * cond.release();
   * ```
   */
  release(): void {
    this.#lock.release();
  }

  /**
   * Runs `fn` holding its lock, releasing it however `fn` ends.
   *
   * @typeParam R What `fn` returns (or its promise resolves to).
   * @param fn Sync or async.
   * @returns What `fn` returned.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * console.log(await cond.withLock(() => cond.notify())); // undefined
   * ```
   */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return this.#lock.withLock(fn);
  }

  /**
   * As `withLock` for synchronous `fn`, blocking this thread while it waits:
   * for code in a child process or worker.
   *
   * @typeParam R What `fn` returns.
   * @param fn Runs holding the lock.
   * @returns What `fn` returned.
   * @throws {Error} in the main thread of the top process: use `await withLock()` there.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(cond: Condition): void {
   *   cond.withLockSync(() => cond.waitSync(100));
   * }
   * ```
   */
  withLockSync<R>(fn: () => R): R {
    return this.#lock.withLockSync(fn);
  }

  /**
   * Releases the lock (an RLock wholly, however often this thread
   * acquired it), waits for a `notify`, and takes the lock back as it was held.
   *
   * @param timeout The longest wait in ms. @default wait forever
   * @returns true if notified, false if the timeout passed first (the lock is held again either way).
   * @throws {Error} when the caller does not hold the lock; {TypeError} for a bad timeout.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * console.log(await cond.withLock(() => cond.wait(10))); // false: nobody notified
   * ```
   */
  async wait(timeout?: number): Promise<boolean> {
    const ms = waitsFor(timeout);
    const [slot, count] = this.#enter();
    try {
      if ((await this.#mem.run("condition.wait", 0, slot, ms)) !== TIMED_OUT) return true;
      return this.#mem.runNow("condition.leave", 0, slot) === 1;
    } finally {
      await this.#own.restore(count);
    }
  }

  /**
   * As `wait`, blocking this thread meanwhile: for code in a child process or worker.
   *
   * @param timeout The longest wait in ms. @default wait forever
   * @returns true if notified, false if the timeout passed first.
   * @throws {Error} in the main thread of the top process (use `await wait()` there), or when the lock is not held.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(cond: Condition): boolean {
   *   return cond.withLockSync(() => cond.waitSync(1000));
   * }
   * ```
   */
  waitSync(timeout?: number): boolean {
    refuseBlocking("waitSync()", "await condition.wait()");
    const ms = waitsFor(timeout);
    const [slot, count] = this.#enter();
    try {
      if (this.#mem.runSync("condition.wait", 0, slot, ms) !== TIMED_OUT) return true;
      return this.#mem.runNow("condition.leave", 0, slot) === 1;
    } finally {
      this.#own.restoreSync(count);
    }
  }

  // Takes a waiter's slot while still holding the lock (so that a notify
  // once it lets go finds it), then lets go of every level it holds.
  // Answers the slot (as kernel arguments) and the levels to take back.
  #enter(): [number[], number] {
    if (!this.#own.owned()) throw unheld("wait");
    const slot = this.#mem.runNow("condition.enter", 0, NONE);
    if (slot === FULL) {
      throw new Error(`Cannot wait on the Condition: ${CONDITION.RING} parties wait on it already, the most it holds`);
    }
    try {
      return [[slot], this.#own.releaseAll("wait")];
    } catch (error) {
      this.#mem.runNow("condition.leave", 0, [slot]);
      throw error;
    }
  }

  /**
   * Waits until `predicate` returns something truthy, as Python's
   * `wait_for`: checked first, then after every wake-up, all holding the lock.
   *
   * @typeParam T What `predicate` returns.
   * @param predicate Sync or async; called holding the lock.
   * @param timeout The longest wait in ms, overall. @default wait forever
   * @returns The predicate's last result (falsy if the timeout passed).
   * @throws {Error} when the caller does not hold the lock.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * const items: number[] = [];
   * setTimeout(() => cond.withLock(() => { items.push(1); cond.notify(); }), 10);
   * console.log(await cond.withLock(() => cond.waitFor(() => items.length))); // 1
   * ```
   */
  async waitFor<T>(predicate: () => T | Promise<T>, timeout?: number): Promise<T> {
    let wait = waitsFor(timeout);
    let end: number | undefined;
    let result = await predicate();
    while (!result) {
      if (wait !== undefined) {
        if (end === undefined) end = performance.now() + wait;
        else if ((wait = end - performance.now()) <= 0) break;
      }
      await this.wait(wait);
      result = await predicate();
    }
    return result;
  }

  /**
   * As `waitFor` with a synchronous predicate, blocking this thread
   * meanwhile: for code in a child process or worker.
   *
   * @typeParam T What `predicate` returns.
   * @param predicate Called holding the lock.
   * @param timeout The longest wait in ms, overall. @default wait forever
   * @returns The predicate's last result.
   * @throws {Error} in the main thread of the top process: use `await waitFor()` there.
   * @example
   * ```ts
   * import { Condition, Event } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(cond: Condition, done: Event): boolean {
   *   return cond.withLockSync(() => cond.waitForSync(() => done.isSet(), 1000));
   * }
   * ```
   */
  waitForSync<T>(predicate: () => T, timeout?: number): T {
    refuseBlocking("waitForSync()", "await condition.waitFor()");
    let wait = waitsFor(timeout);
    let end: number | undefined;
    let result = predicate();
    while (!result) {
      if (wait !== undefined) {
        if (end === undefined) end = performance.now() + wait;
        else if ((wait = end - performance.now()) <= 0) break;
      }
      this.waitSync(wait);
      result = predicate();
    }
    return result;
  }

  /**
   * Wakes up to `n` of the parties waiting now. Call it holding the lock.
   *
   * @param n How many to wake at most. @default 1
   * @throws {Error} when the caller does not hold the lock; {RangeError} for a bad n.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * await cond.withLock(() => cond.notify(2)); // nobody waits: nothing happens
   * ```
   */
  notify(n: number = 1): void {
    if (typeof n !== "number" || Number.isNaN(n) || n < 0) {
      throw new RangeError(`Cannot notify: n must be a number >= 0, got ${String(n)}`);
    }
    if (!this.#own.owned()) throw unheld("notify");
    if (n >= 1) this.#mem.runNow("condition.notify", 0, [Math.floor(n)]);
  }

  /**
   * Wakes every party waiting now. Call it holding the lock.
   *
   * @throws {Error} when the caller does not hold the lock.
   * @example
   * ```ts
   * import { Condition } from "multiproc";
   * const cond = new Condition();
   * await cond.withLock(() => cond.notifyAll());
   * ```
   */
  notifyAll(): void {
    this.notify(Number.MAX_SAFE_INTEGER);
  }
}
