// Event: Python's multiprocessing.Event on shared memory (kernels.ts).
import { type AtomicMemory, TIMED_OUT } from "../shared/memory.ts";
import { crossing, type Destination } from "../transport/values.ts";
import { newOrArriving, refuseBlocking, syncCrossing, timeoutMs } from "./common.ts";
import { EVENT } from "./kernels.ts";

const NONE: number[] = [];

/**
 * Python's `multiprocessing.Event`: a flag that `set()` raises and
 * `clear()` lowers; `wait()` waits until it is raised. Pass it to a
 * Process or Pool; every copy is the same flag.
 *
 * A `set()` wakes every waiter, even if `clear()` follows before they look.
 *
 * @example
 * ```ts
 * import { Event } from "multiproc";
 * const ready = new Event();
 * setTimeout(() => ready.set(), 10);
 * console.log(await ready.wait(), ready.isSet()); // true true
 * ```
 */
export class Event {
  readonly #mem: AtomicMemory;

  /** Creates an event, not set. */
  constructor() {
    this.#mem = newOrArriving(EVENT.size).mem;
  }

  static {
    Object.defineProperty(Event.prototype, crossing, {
      value(this: Event, to: Destination) {
        return syncCrossing("Event", this.#mem, to);
      },
    });
  }

  /**
   * Whether the flag is raised.
   *
   * @returns true once `set()`, until `clear()`.
   * @example
   * ```ts
   * import { Event } from "multiproc";
   * console.log(new Event().isSet()); // false
   * ```
   */
  isSet(): boolean {
    return this.#mem.load(EVENT.FLAG) === 1;
  }

  /**
   * Raises the flag and wakes every waiter.
   *
   * @example
   * ```ts
   * import { Event } from "multiproc";
   * const e = new Event();
   * e.set();
   * console.log(e.isSet()); // true
   * ```
   */
  set(): void {
    this.#mem.runNow("event.set", 0, NONE);
  }

  /**
   * Lowers the flag: later waits wait again.
   *
   * @example
   * ```ts
   * import { Event } from "multiproc";
   * const e = new Event();
   * e.set();
   * e.clear();
   * console.log(e.isSet()); // false
   * ```
   */
  clear(): void {
    this.#mem.store(EVENT.FLAG, 0);
  }

  /**
   * Waits until the flag is raised.
   *
   * @param timeout The longest wait in ms. @default wait forever
   * @returns true once raised (at once if it is), false if the timeout passed first.
   * @throws {TypeError} for a timeout that is not a number >= 0.
   * @example
   * ```ts
   * import { Event } from "multiproc";
   * console.log(await new Event().wait(10)); // false
   * ```
   */
  wait(timeout?: number): Promise<boolean> {
    try {
      const ms = timeoutMs(timeout, "wait for the Event");
      // The count of set() calls first: a set() after this counts even if
      // a clear() comes before the kernel looks.
      const sets = this.#mem.load(EVENT.SETS);
      return this.#mem.run("event.wait", 0, [sets], ms).then((r) => r !== TIMED_OUT);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * As `wait`, blocking this thread meanwhile: for code in a child process or worker.
   *
   * @param timeout The longest wait in ms. @default wait forever
   * @returns true once raised, false if the timeout passed first.
   * @throws {Error} in the main thread of the top process: use `await wait()` there.
   * @example
   * ```ts
   * import { Event } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(go: Event): void {
   *   if (!go.waitSync(5000)) throw new Error("nobody said go");
   * }
   * ```
   */
  waitSync(timeout?: number): boolean {
    refuseBlocking("waitSync()", "await event.wait()");
    const ms = timeoutMs(timeout, "wait for the Event");
    const sets = this.#mem.load(EVENT.SETS);
    return this.#mem.runSync("event.wait", 0, [sets], ms) !== TIMED_OUT;
  }
}
