// Lock: Python's multiprocessing.Lock on shared memory (kernels.ts), for
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
import { LOCK, NOT_LOCKED, TOOK_OVER } from "./kernels.ts";

const NONE: number[] = [];
const MINE: number[] = [1];

let lockParts: (lock: Lock) => Ownership;

/** @internal What a Condition needs of a Lock. */
export function lockOwnership(lock: Lock): Ownership {
  return lockParts(lock);
}

/**
 * Python's `multiprocessing.Lock`: mutual exclusion across this process,
 * its worker threads and its child processes. Pass it to a Process or Pool
 * as an argument; every copy is the same lock.
 *
 * Not re-entrant: acquiring it again from where it is held waits (use an
 * RLock for that). Any holder may release it, as in Python.
 *
 * A holder that dies with the lock held (a killed thread or child process)
 * does not block everybody for ever, as it would in CPython: the next
 * `acquire` takes the lock over, answers true, and `ownerDied` tells it
 * that whatever the lock guarded may be half-updated. (On Deno, a worker
 * thread's `terminate()` does not stop a busy thread, so there a thread is
 * never taken to be dead; a child process is.)
 *
 * @example
 * ```ts
 * import { Lock } from "multiproc";
 * const lock = new Lock();
 * await lock.withLock(() => console.log("only one at a time"));
 * console.log(await lock.acquire(), await lock.acquire({ block: false })); // true false
 * lock.release();
 * ```
 */
export class Lock {
  readonly #mem: AtomicMemory;
  #ownerDied = false;

  /** Creates an unlocked lock. */
  constructor() {
    this.#mem = newOrArriving(LOCK.size).mem;
    bindMemory(this, this.#mem);
    quickTry(this, this.#mem, () => this.#took(this.#mem.runNow("lock.acquire", 0, NONE)));
  }

  static {
    lockParts = (lock) => {
      const mem = lock.#mem;
      return {
        owned: () => mem.runNow("lock.owned", 0, NONE) === 1,
        releaseAll: (call) => {
          if (mem.runNow("lock.release", 0, MINE) < 0) throw unheld(call);
          return 1;
        },
        restore: async () => void lock.#took(await mem.run("lock.acquire", 0, NONE, undefined)),
        restoreSync: () => void lock.#took(mem.runSync("lock.acquire", 0, NONE, undefined)),
        get ownerDied() {
          return lock.#ownerDied;
        },
      };
    };
    Object.defineProperty(Lock.prototype, crossing, {
      value(this: Lock, to: Destination) {
        return syncCrossing("Lock", this.#mem, to);
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
   * died holding it: what it guarded may be half-updated.
   *
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * const lock = new Lock();
   * await lock.acquire();
   * console.log(lock.ownerDied); // false
   * ```
   */
  get ownerDied(): boolean {
    return this.#ownerDied;
  }

  /**
   * Acquires the lock, waiting while another holds it.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up; `signal` to stop waiting.
   * @returns true once acquired; false if not (no wait, or the timeout passed).
   * @throws {TypeError} for bad options; the signal's reason when it aborts.
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * const lock = new Lock();
   * await lock.acquire();
   * console.log(await lock.acquire({ timeout: 10 })); // false: it is held
   * lock.release();
   * ```
   */
  acquire(options?: AcquireOptions): Promise<boolean> {
    try {
      const { ms, signal } = acquireWait(options, "acquire the Lock");
      return this.#mem.run("lock.acquire", 0, NONE, ms, signal).then((r) => this.#took(settled(r, signal)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * As `acquire`, blocking this thread meanwhile: for code in a child
   * process or worker, where it saves the promise.
   *
   * @param options `block: false` to try once; `timeout` (ms) to give up.
   * @returns true once acquired; false if not.
   * @throws {Error} in the main thread of the top process (which serves children's requests): use `await acquire()` there.
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(lock: Lock): void {
   *   if (lock.acquireSync({ timeout: 1000 })) lock.release();
   * }
   * ```
   */
  acquireSync(options?: SyncAcquireOptions): boolean {
    refuseBlocking("acquireSync()", "await lock.acquire()");
    const { ms } = acquireWait(options, "acquire the Lock");
    return this.#took(this.#mem.runSync("lock.acquire", 0, NONE, ms));
  }

  /**
   * Releases the lock. Any holder may release it, as in Python.
   *
   * @throws {Error} if the lock is not locked.
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * const lock = new Lock();
   * await lock.acquire();
   * lock.release();
   * ```
   */
  release(): void {
    if (this.#mem.runNow("lock.release", 0, NONE) === NOT_LOCKED) {
      throw new Error("release() of an unlocked Lock: each release() must follow an acquire()");
    }
  }

  /**
   * Runs `fn` holding the lock (Python's `with lock:`), releasing it however `fn` ends.
   *
   * @typeParam R What `fn` returns (or its promise resolves to).
   * @param fn Sync or async; it holds the lock until it settles.
   * @returns What `fn` returned.
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * const lock = new Lock();
   * console.log(await lock.withLock(async () => 42)); // 42
   * ```
   */
  withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    return holding(this, fn);
  }

  /**
   * As `withLock` for synchronous `fn`, blocking this thread while it
   * waits: for code in a child process or worker.
   *
   * @typeParam R What `fn` returns.
   * @param fn Runs holding the lock; the lock is released when it returns or throws.
   * @returns What `fn` returned.
   * @throws {Error} in the main thread of the top process: use `await withLock()` there.
   * @example
   * ```ts
   * import { Lock } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(lock: Lock, log: string[]): void {
   *   lock.withLockSync(() => log.push("inside"));
   * }
   * ```
   */
  withLockSync<R>(fn: () => R): R {
    return holdingSync(this, fn, "await lock.withLock(fn)");
  }
}
