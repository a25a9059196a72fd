// Proxies of a manager's queues, locks, semaphores and events: their waits
// happen at the manager (a waiting call stops when its connection closes).
import { adopt, back, handleOf, out } from "./handle.ts";

/**
 * A proxy of a queue in a manager (Python's `manager.Queue()`): its items
 * live in the manager's process, so processes of other programs that
 * connect to the manager share it too. `get` waits at the manager; an item
 * taken for a caller whose connection broke goes back in front.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const q = manager.Queue<number>();
 * await q.put(1);
 * console.log(await q.get()); // 1
 * ```
 */
export class QueueProxy<T = unknown> {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `q.put(x, timeout=...)`: waits while full (QueueFull once `timeout` ms pass). */
  async put(item: T, options: { timeout?: number } = {}): Promise<void> {
    await handleOf(this).call("put", out(item), options.timeout);
  }

  /** `q.put_nowait(x)`: QueueFull when full. */
  async putNowait(item: T): Promise<void> {
    await handleOf(this).call("putNowait", out(item));
  }

  /** `q.get(timeout=...)`: waits for an item (QueueEmpty once `timeout` ms pass; EOFError once closed and drained). */
  async get(options: { timeout?: number } = {}): Promise<T> {
    return back(await handleOf(this).call("get", options.timeout)) as T;
  }

  /** `q.get_nowait()`: QueueEmpty when empty. */
  async getNowait(): Promise<T> {
    return back(await handleOf(this).call("getNowait")) as T;
  }

  /** `q.qsize()`. */
  async qsize(): Promise<number> {
    return await handleOf(this).call("qsize") as number;
  }

  /** `q.empty()`. */
  async empty(): Promise<boolean> {
    return await handleOf(this).call("empty") as boolean;
  }

  /** `q.full()`. */
  async full(): Promise<boolean> {
    return await handleOf(this).call("full") as boolean;
  }

  /** Closes the queue for everyone (puts throw; gets drain, then EOFError). */
  async close(): Promise<void> {
    await handleOf(this).call("close");
  }
}

/**
 * A proxy of a JoinableQueue in a manager (Python's
 * `manager.JoinableQueue()`): a QueueProxy with taskDone and join.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const q = manager.JoinableQueue<string>();
 * await q.put("job");
 * await q.get();
 * await q.taskDone();
 * console.log(await q.join(1000)); // true
 * ```
 */
export class JoinableQueueProxy<T = unknown> extends QueueProxy<T> {
  /** `q.task_done()`: one item taken earlier is done (ValueError if more than were put). */
  async taskDone(): Promise<void> {
    await handleOf(this).call("taskDone");
  }

  /** `q.join()`: true once every item put is done; false if `timeout` ms pass first. */
  async join(timeout?: number): Promise<boolean> {
    return await handleOf(this).call("join", timeout) as boolean;
  }
}

/**
 * A proxy of a lock in a manager (Python's `manager.Lock()`). Unlike
 * Python's, a lock whose holder's connection closes (its process ended) is
 * let go.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const d = manager.dict<string, number>();
 * const lock = manager.Lock();
 * await lock.withLock(async () => { await d.set("n", (await d.get("n") ?? 0) + 1); });
 * console.log(await d.get("n")); // 1
 * ```
 */
export class LockProxy {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `lock.acquire(block, timeout)`: true once held; false if not (no wait, or `timeout` ms passed). */
  async acquire(options: { block?: boolean; timeout?: number } = {}): Promise<boolean> {
    return await handleOf(this).call("acquire", options.block ?? true, options.timeout) as boolean;
  }

  /** `lock.release()`. */
  async release(): Promise<void> {
    await handleOf(this).call("release");
  }

  /** `with lock:`: runs `fn` holding the lock, letting go however it ends. */
  async withLock<R>(fn: () => R | Promise<R>): Promise<R> {
    await this.acquire();
    try {
      return await fn();
    } finally {
      await this.release();
    }
  }
}

/**
 * A proxy of a semaphore in a manager (Python's `manager.Semaphore(n)` and
 * `manager.BoundedSemaphore(n)`).
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const slots = manager.Semaphore(2);
 * await slots.acquire();
 * console.log(await slots.getValue()); // 1
 * await slots.release();
 * ```
 */
export class SemaphoreProxy extends LockProxy {
  /** The current value (Python's `get_value()`). */
  async getValue(): Promise<number> {
    return await handleOf(this).call("getValue") as number;
  }
}

/**
 * A proxy of an event in a manager (Python's `manager.Event()`).
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const ready = manager.Event();
 * await ready.set();
 * console.log(await ready.wait(1000)); // true
 * ```
 */
export class EventProxy {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `e.set()`. */
  async set(): Promise<void> {
    await handleOf(this).call("set");
  }

  /** `e.clear()`. */
  async clear(): Promise<void> {
    await handleOf(this).call("clear");
  }

  /** `e.is_set()`. */
  async isSet(): Promise<boolean> {
    return await handleOf(this).call("isSet") as boolean;
  }

  /** `e.wait(timeout)`: true once set; false if `timeout` ms pass first. */
  async wait(timeout?: number): Promise<boolean> {
    return await handleOf(this).call("wait", timeout) as boolean;
  }
}

/**
 * A proxy of a re-entrant lock in a manager (Python's `manager.RLock()`).
 * It belongs to the client process that took it (all of that process's
 * async tasks at once, as multiproc's own RLock belongs to a thread): that
 * process may take it again, and only it may let go. Let go if that
 * process's connection closes.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const r = manager.RLock();
 * await r.acquire();
 * console.log(await r.acquire({ block: false })); // true: this process holds it already
 * await r.release();
 * await r.release();
 * ```
 */
export class RLockProxy extends LockProxy {}

/**
 * A proxy of a barrier in a manager (Python's `manager.Barrier(parties,
 * action, timeout)`; the action runs in the manager's process).
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const b = manager.Barrier(2);
 * // Two parties (processes, usually; here two calls of this one):
 * console.log((await Promise.all([b.wait(5000), b.wait(5000)])).sort()); // [ 0, 1 ]
 * ```
 */
export class BarrierProxy {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `b.wait(timeout)`: the arrival index (0 .. parties-1); BrokenBarrierError if broken or timed out. */
  async wait(timeout?: number): Promise<number> {
    return await handleOf(this).call("wait", timeout) as number;
  }

  /** `b.abort()`: breaks the barrier for everyone waiting and to come. */
  async abort(): Promise<void> {
    await handleOf(this).call("abort");
  }

  /** `b.reset()`: back to empty and unbroken. */
  async reset(): Promise<void> {
    await handleOf(this).call("reset");
  }

  /** `b.parties`. */
  async parties(): Promise<number> {
    return await handleOf(this).call("parties") as number;
  }

  /** `b.n_waiting`. */
  async nWaiting(): Promise<number> {
    return await handleOf(this).call("nWaiting") as number;
  }

  /** `b.broken`. */
  async broken(): Promise<boolean> {
    return await handleOf(this).call("broken") as boolean;
  }
}

/**
 * A proxy of a condition in a manager (Python's `manager.Condition(lock)`),
 * over a Lock or RLock proxy of the same manager, or a re-entrant lock of
 * its own; a lock is held per client process.
 *
 * @example
 * ```ts
 * import { type ConditionProxy, type DictProxy, Manager, Process } from "multiproc";
 * await using manager = await Manager.start();
 * const flags = manager.dict<string, boolean>();
 * const ready = manager.Condition();
 * // Another process sets the flag and notifies.
 * const p = new Process({
 *   target: (c: ConditionProxy, f: DictProxy<string, boolean>) =>
 *     c.withLock(async () => {
 *       await f.set("go", true);
 *       await c.notifyAll();
 *     }),
 *   args: [ready, flags],
 * });
 * p.start();
 * const go = await ready.withLock(() => ready.waitFor(async () => (await flags.get("go")) === true, 5000));
 * await p.join();
 * console.log(go); // true
 * ```
 */
export class ConditionProxy extends LockProxy {
  /** `c.wait(timeout)`: lets the lock go, waits for a notify, takes it back; false if `timeout` ms passed. */
  async wait(timeout?: number): Promise<boolean> {
    return await handleOf(this).call("wait", timeout) as boolean;
  }

  /**
   * `c.wait_for(predicate, timeout)`: waits until `predicate` (run here,
   * holding the lock) is true; its last answer.
   */
  async waitFor(predicate: () => boolean | Promise<boolean>, timeout?: number): Promise<boolean> {
    const until = timeout === undefined ? Infinity : performance.now() + timeout;
    for (;;) {
      if (await predicate()) return true;
      const rest = until - performance.now();
      if (rest <= 0) return false;
      await this.wait(rest === Infinity ? undefined : rest);
    }
  }

  /** `c.notify(n)`: wakes up to `n` waiters (1 by default). */
  async notify(n: number = 1): Promise<void> {
    await handleOf(this).call("notify", n);
  }

  /** `c.notify_all()`. */
  async notifyAll(): Promise<void> {
    await handleOf(this).call("notifyAll");
  }
}
