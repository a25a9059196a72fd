// RLock: Python's multiprocessing.RLock on shared memory (kernels.ts), for
// this process, its threads and its child processes.
import { type AtomicMemory, TIMED_OUT, bindMemory } from "../shared/memory.ts";
import { crossing, type Destination } from "../transport/values.ts";
import {
  type AcquireOptions,
  acquireWait,
  newOrArriving,
  type Ownership,
  refuseBlocking,
  settled,
  type SyncAcquireOptions,
  syncCrossing,
  unheld,
  holding,
  holdingSync,
  quickTry,
} from "./common.ts";
import { NOT_OWNER, RLOCK, TOOK_OVER } from "./kernels.ts";

const NONE: number[] = [];
const MINE: number[] = [1];

let rlockParts: (lock: RLock) => Ownership;

/** @internal What a Condition needs of an RLock. */
export function rlockOwnership(lock: RLock): Ownership {
  return rlockParts(lock);
}

/**
 * Python's `multiprocessing.RLock`: a re-entrant lock. The thread (or child
 * process) that holds it may acquire it again; it is free once released as
 * many times as acquired. Only the holder may release it.
 *
 * Ownership is per thread, as in Python: async code of one thread shares
 * it (two async functions of one thread both get in). To keep async tasks
 * of one thread apart, use a Lock.
 *
 * A holder that dies with it held is handled as for Lock: the next
 * `acquire` takes it over and `ownerDied` is true.
 *
 * @example
 * ```ts
 * import { RLock } from "multiproc";
 * const lock = new RLock();
 * await lock.withLock(async () => {
 *   await lock.withLock(() => console.log("in twice"));
 * });
 * ```
 */
export class RLock {
  readonly #mem: AtomicMemory;
  #ownerDied = false;

  /** Creates an unlocked re-entrant lock. */
  constructor() {
    this.#mem = newOrArriving(RLOCK.size).mem;
    bindMemory(this, this.#mem);
    quickTry(this, this.#mem, () => this.#took(this.#mem.runNow("rlock.acquire", 0, NONE)));
  }

  static {
    rlockParts = (lock) => {
      const mem = lock.#mem;
      return {
        owned: () => mem.runNow("rlock.owned", 0, NONE) === 1,
        releaseAll: (call) => {
          const count = mem.runNow("rlock.release", 0, MINE);
          if (count < 0) throw unheld(call);
          return count;
        },
        restore: async (count) => void lock.#took(await mem.run("rlock.acquire", 0, [count], undefined)),
        restoreSync: (count) => void lock.#took(mem.runSync("rlock.acquire", 0, [count], undefined)),
        get ownerDied() {
          return lock.#ownerDied;
        },
      };
    };
    Object.defineProperty(RLock.prototype, crossing, {
      value(this: RLock, to: Destination) {
        return syncCrossing("RLock", this.#mem, to);
      },
    });
  }

  #took(result: number): boolean {
    if (result === TIMED_OUT) return false;
    this.#ownerDied = result === TOOK_OVER;
    return true;
  }

  /**
   * Whether the last acquire here took the lock over from a holder that had
   * died holding it.
   *
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * const lock = new RLock();
   * await lock.acquire();
   * console.log(lock.ownerDied); // false
   * ```
   */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /**
   * Acquires the lock (again, if this thread holds it already).
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up; `signal` to stop waiting.
   * @returns true once acquired; false if not.
   * @throws {TypeError} for bad options; the signal's reason when it aborts.
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * const lock = new RLock();
   * console.log(await lock.acquire(), await lock.acquire({ block: false })); // true true
   * lock.release();
   * lock.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    try {
      const { ms, signal } = acquireWait(options, "acquire the RLock");
      return this.#mem.run("rlock.acquire", 0, NONE, ms, signal).then((r) => this.#took(settled(r, signal)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * As `acquire`, blocking this thread meanwhile: for code in a child process or worker.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up.
   * @returns true once acquired; false if not.
   * @throws {Error} in the main thread of the top process: use `await acquire()` there.
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(lock: RLock): void {
   *   lock.acquireSync();
   *   lock.release();
   * }
   * ```
   */
  acquireSync(options?: SyncAcquireOptions): boolean {
    refuseBlocking("acquireSync()", "await lock.acquire()");
    const { ms } = acquireWait(options, "acquire the RLock");
    return this.#took(this.#mem.runSync("rlock.acquire", 0, NONE, ms));
  }

  /**
   * Releases one level; the lock is free once released as many times as acquired.
   *
   * @throws {Error} if this thread (or child process) does not hold it.
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * const lock = new RLock();
   * await lock.acquire();
   * lock.release();
   * ```
   */
  release(): void {
    if (this.#mem.runNow("rlock.release", 0, NONE) === NOT_OWNER) {
      throw new Error("cannot release un-acquired lock: only the thread or process holding an RLock may release it");
    }
  }

  /**
   * Runs `fn` holding the lock, releasing it however `fn` ends.
   *
   * @typeParam R What `fn` returns (or its promise resolves to).
   * @param fn Sync or async; it holds the lock until it settles.
   * @returns What `fn` returned.
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * const lock = new RLock();
   * console.log(await lock.withLock(() => "done")); // "done"
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
   * @param fn Runs holding the lock.
   * @returns What `fn` returned.
   * @throws {Error} in the main thread of the top process: use `await withLock()` there.
   * @example
   * ```ts
   * import { RLock } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(lock: RLock): number {
   *   return lock.withLockSync(() => lock.withLockSync(() => 1));
   * }
   * ```
   */
  withLockSync<R>(fn: () => R): R {
    return holdingSync(this, fn, "await lock.withLock(fn)");
  }
}
