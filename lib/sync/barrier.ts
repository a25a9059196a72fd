// Barrier: Python's multiprocessing.Barrier on shared memory (kernels.ts):
// one word holds the cycle, the broken bit and the count arrived.
import { BrokenBarrierError, SerializationError } from "../errors.ts";
import { checkPositiveInteger } from "../checks.ts";
import { type AtomicMemory, TIMED_OUT } from "../shared/memory.ts";
import { crossing, type Destination } from "../transport/values.ts";
import { type FunctionRef, loadFunction, loadFunctionNow, resolveFunction } from "../transport/functions.ts";
import { newOrArriving, refuseBlocking, syncCrossing, timeoutMs } from "./common.ts";
import { arrival, BARRIER, barrierBroken, barrierCount, BROKE, BROKEN, MAX_PARTIES, RELEASED } from "./kernels.ts";

const NONE: number[] = [];

// Actions of Barriers that arrived from another process or thread, by what they arrived as.
// (what each arrived as, and whether its module is still loading)
const crossedActions = new WeakMap<Function, { ref: FunctionRef; loading: () => boolean }>();

/**
 * The action of a Barrier that arrived: the function `ref` names, found at
 * once if this process has it (a self-contained function, or one of a
 * module it has imported), else when its module has loaded. Until then,
 * `wait()` waits for it and `waitSync()` says to use `wait()`.
 */
export function crossedAction(ref: FunctionRef): () => unknown {
  let fn: Function | null = null;
  let failure: unknown = null;
  let loading: Promise<void> | null = null;
  try {
    fn = loadFunctionNow(ref);
  } catch (error) {
    failure = error;
  }
  if (!fn && !failure) loading = loadFunction(ref).then((f) => void (fn = f), (error) => void (failure = error));
  const action = (): unknown => {
    if (fn) return fn();
    if (failure) throw failure;
    return loading!.then(() => action());
  };
  crossedActions.set(action, { ref, loading: () => !fn && !failure });
  return action;
}

function broken(): BrokenBarrierError {
  return new BrokenBarrierError(
    "The barrier is broken: it was aborted or reset, its action threw, or a party's wait timed out " +
      "(reset() makes it usable again)",
  );
}

function timedOut(ms: number): BrokenBarrierError {
  return new BrokenBarrierError(
    `Timed out after ${ms} ms waiting at the barrier: it is now broken for every party (reset() makes it usable again)`,
  );
}

/**
 * Python's `multiprocessing.Barrier`: each of `parties` parties calls
 * `wait()`, and all go on once the last has arrived; then it is ready for
 * the next cycle. Pass it to a Process or Pool; every copy is the same
 * barrier.
 *
 * `action`, if given, runs once per cycle in the last party to arrive,
 * before any party is released, in whichever process or thread that party
 * is; if it throws, the barrier breaks and that party's `wait` rejects with
 * its error. The action reaches other processes and threads as a Process
 * target does: self-contained (no free variables), exported from the main
 * module, or registered with `task()`; any other is refused with a
 * SerializationError when the Barrier is passed on.
 *
 * A party that dies while the others wait is not noticed: give the waits a
 * timeout. A barrier remembers the outcome of its last 256 cycles; a waiter
 * that sleeps through more than that is told it broke.
 *
 * @example
 * ```ts
 * import { Barrier } from "multiproc";
 * const barrier = new Barrier(3, () => console.log("all here"));
 * console.log((await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()])).sort()); // [0, 1, 2]
 * ```
 */
export class Barrier {
  readonly #mem: AtomicMemory;
  readonly #parties: number;
  readonly #timeout: number | undefined;
  readonly #action: (() => unknown) | undefined;

  /**
   * Creates a barrier.
   *
   * @param parties How many parties each cycle waits for (1 to 32767).
   * @param action Runs once per cycle in the last party to arrive, before the others are released.
   * @param timeout The default timeout of `wait` in ms. @default wait forever
   * @throws {TypeError} for a bad parties, action or timeout.
   */
  constructor(parties: number, action?: () => unknown, timeout?: number) {
    const { mem, fresh } = newOrArriving(BARRIER.size);
    this.#mem = mem;
    checkPositiveInteger(parties, "create a Barrier", "parties");
    if (parties > MAX_PARTIES) {
      throw new RangeError(`Cannot create a Barrier: parties must be at most ${MAX_PARTIES}, got ${parties}`);
    }
    if (action !== undefined && action !== null && typeof action !== "function") {
      throw new TypeError(`Cannot create a Barrier: action must be a function, got ${String(action)}`);
    }
    this.#parties = parties;
    this.#action = action ?? undefined;
    this.#timeout = timeoutMs(timeout, "create a Barrier");
    if (fresh) mem.store(BARRIER.PARTIES, parties);
  }

  static {
    Object.defineProperty(Barrier.prototype, crossing, {
      value(this: Barrier, to: Destination) {
        let action: FunctionRef | undefined;
        if (this.#action) {
          try {
            action = crossedActions.get(this.#action)?.ref ?? resolveFunction(this.#action, "the Barrier's action");
          } catch (error) {
            throw new SerializationError(`Cannot pass this Barrier on: ${(error as Error).message}`, "action", { cause: error });
          }
        }
        return syncCrossing("Barrier", this.#mem, to, { parties: this.#parties, timeout: this.#timeout, action });
      },
    });
  }

  /**
   * How many parties each cycle waits for.
   *
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * console.log(new Barrier(4).parties); // 4
   * ```
   */
  get parties(): number {
    return this.#parties;
  }

  /**
   * How many parties wait in the current cycle.
   *
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * const b = new Barrier(2);
   * const first = b.wait();
   * console.log(b.nWaiting); // 1
   * await Promise.all([first, b.wait()]);
   * ```
   */
  get nWaiting(): number {
    const word = this.#mem.load(BARRIER.STATE);
    return barrierBroken(word) ? 0 : barrierCount(word);
  }

  /**
   * Whether the barrier is broken (until `reset()`).
   *
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * const b = new Barrier(2);
   * b.abort();
   * console.log(b.broken); // true
   * ```
   */
  get broken(): boolean {
    return barrierBroken(this.#mem.load(BARRIER.STATE));
  }

  /**
   * Waits until `parties` parties have called `wait` in this cycle.
   *
   * @param timeout The longest wait in ms; then the barrier breaks. @default the barrier's timeout
   * @returns This party's arrival index in the cycle, 0 to parties - 1 (the last to arrive gets parties - 1).
   * @throws {BrokenBarrierError} if the barrier is or becomes broken (abort, reset, a timeout); the action's error in the party that ran it.
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * const b = new Barrier(2);
   * console.log(await Promise.all([b.wait(), b.wait()])); // [0, 1]
   * ```
   */
  async wait(timeout?: number): Promise<number> {
    const ms = timeout === undefined ? this.#timeout : timeoutMs(timeout, "wait at the Barrier");
    const until = ms === undefined ? undefined : performance.now() + ms;
    const arrived = await this.#mem.run("barrier.arrive", 0, NONE, ms);
    const { cycle, index } = this.#arrived(arrived, ms);
    if (index === this.#parties - 1) {
      if (this.#action) {
        try {
          await this.#action();
        } catch (error) {
          this.#mem.runNow("barrier.end", 0, [cycle, BROKE, 1]);
          throw error;
        }
      }
      return this.#released(cycle, index);
    }
    const rest = until === undefined ? undefined : Math.max(0, until - performance.now());
    return this.#waited(await this.#mem.run("barrier.wait", 0, [cycle], rest), cycle, index, ms);
  }

  /**
   * As `wait`, blocking this thread meanwhile: for code in a child process
   * or worker. An action that returns a promise is refused here (the
   * barrier breaks): use `await wait()` for an async action.
   *
   * @param timeout The longest wait in ms; then the barrier breaks. @default the barrier's timeout
   * @returns This party's arrival index in the cycle.
   * @throws {Error} in the main thread of the top process: use `await wait()` there.
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * // A Process target: runs in a child process or worker.
   * export function work(b: Barrier): number {
   *   return b.waitSync(5000);
   * }
   * ```
   */
  waitSync(timeout?: number): number {
    refuseBlocking("waitSync()", "await barrier.wait()");
    const ms = timeout === undefined ? this.#timeout : timeoutMs(timeout, "wait at the Barrier");
    const until = ms === undefined ? undefined : performance.now() + ms;
    const { cycle, index } = this.#arrived(this.#mem.runSync("barrier.arrive", 0, NONE, ms), ms);
    if (index === this.#parties - 1) {
      if (this.#action) {
        try {
          const crossed = crossedActions.get(this.#action);
          if (crossed?.loading()) {
            throw new TypeError(
              `The Barrier's action (${crossed.ref.name}) is in a module this process has not ` +
                "loaded yet, and waitSync() cannot wait for it: use await barrier.wait()",
            );
          }
          const r = this.#action() as { then?: unknown } | undefined;
          if (typeof r?.then === "function") {
            throw new TypeError("The Barrier's action returned a promise, which waitSync() cannot wait for: use await barrier.wait()");
          }
        } catch (error) {
          this.#mem.runNow("barrier.end", 0, [cycle, BROKE, 1]);
          throw error;
        }
      }
      return this.#released(cycle, index);
    }
    const rest = until === undefined ? undefined : Math.max(0, until - performance.now());
    return this.#waited(this.#mem.runSync("barrier.wait", 0, [cycle], rest), cycle, index, ms);
  }

  #arrived(result: number, ms: number | undefined): { cycle: number; index: number } {
    if (result === TIMED_OUT) {
      // Still waiting for the last cycle's action to end: a timeout breaks
      // the barrier here too.
      this.abort();
      throw timedOut(ms!);
    }
    if (result === BROKEN) throw broken();
    return arrival(result);
  }

  #released(cycle: number, index: number): number {
    if (this.#mem.runNow("barrier.end", 0, [cycle, RELEASED, 0]) === BROKEN) throw broken();
    return index;
  }

  #waited(result: number, cycle: number, index: number, ms: number | undefined): number {
    if (result === TIMED_OUT) {
      // Breaks the cycle, unless it was released just now.
      if (this.#mem.runNow("barrier.end", 0, [cycle, BROKE, 1]) === 0) return index;
      throw timedOut(ms!);
    }
    if (result === BROKEN) throw broken();
    return index;
  }

  /**
   * Breaks the barrier: every party waiting now, and every later `wait`,
   * gets BrokenBarrierError until `reset()`.
   *
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * const b = new Barrier(2);
   * const waiting = b.wait().catch((e) => e.name);
   * b.abort();
   * console.log(await waiting); // "BrokenBarrierError"
   * ```
   */
  abort(): void {
    this.#mem.runNow("barrier.abort", 0, NONE);
  }

  /**
   * Makes the barrier new again: parties waiting now get BrokenBarrierError;
   * a broken barrier works again.
   *
   * @example
   * ```ts
   * import { Barrier } from "multiproc";
   * const b = new Barrier(1);
   * b.abort();
   * b.reset();
   * console.log(b.broken, await b.wait()); // false 0
   * ```
   */
  reset(): void {
    this.#mem.runNow("barrier.reset", 0, NONE);
  }
}
