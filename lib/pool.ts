// Pool: Python's multiprocessing.Pool. This file is the public surface and
// the lifecycle; the scheduler (lib/pool/scheduler.ts) moves chunks to
// workers, lib/pool/calls.ts and imap.ts turn calls into chunks, and
// lib/child/pool_worker.ts runs them.
import { ProcessError } from "./errors.ts";
import { checkMayStartChildren } from "./spawn.ts";
import { checkStartMethod, cpuCount, type StartMethod, startMethodOf } from "./context.ts";
import { checkPositiveInteger, checkSignal } from "./checks.ts";
import { asArgs, checkInput, collect } from "./pool/input.ts";
import { resolveFunction } from "./transport/functions.ts";
import { encodeValue } from "./transport/values.ts";
import { Scheduler } from "./pool/scheduler.ts";
import { ApplyCall, MapCall } from "./pool/calls.ts";
import { ImapIterator } from "./pool/imap.ts";
import { type AsyncCallbacks, AsyncResult } from "./pool/async_result.ts";

export { AsyncResult };
export type { AsyncCallbacks };

/**
 * imap keeps at most this many items per worker between reading and
 * yielding (and at least 4 chunks per worker): enough to keep each worker's
 * batches full while results make their round trip, and bounded.
 */
const WINDOW_ITEMS_PER_WORKER = 512;

/**
 * How a Pool is made (Python's `Pool(processes, initializer, initargs, maxtasksperchild, context)`).
 *
 * @typeParam I The initializer's parameter types, checked against `initargs`.
 * @example
 * ```ts
 * import type { PoolOptions } from "multiproc";
 * const options: PoolOptions = { processes: 2, maxtasksperchild: 100 };
 * console.log(options.processes); // 2
 * ```
 */
export interface PoolOptions<I extends unknown[] = unknown[]> {
  /** How many workers. @default cpuCount() */
  processes?: number;
  /** Run once in each worker before its first task (open a connection, load a model). */
  initializer?: (...args: I) => unknown;
  /** The initializer's arguments. @default [] */
  initargs?: I;
  /** Replace a worker after it has run this many tasks (a map chunk is one task). @default never */
  maxtasksperchild?: number | null;
  /** The start method, or a context from getContext(). @default getStartMethod() */
  context?: StartMethod | { readonly startMethod: StartMethod };
}

/**
 * Options of map-like calls.
 *
 * @example
 * ```ts
 * import type { MapOptions } from "multiproc";
 * const options: MapOptions = { chunksize: 100, signal: AbortSignal.timeout(5000) };
 * console.log(options.chunksize); // 100
 * ```
 */
export interface MapOptions {
  /** Items per task. @default map: ceil(n / (4 x workers)); imap: 1 */
  chunksize?: number;
  /** Aborts the call: queued work is dropped, running work stopped, and the call rejects with the reason. */
  signal?: AbortSignal;
}

/**
 * Options of apply and applyAsync.
 *
 * @example
 * ```ts
 * import type { ApplyOptions } from "multiproc";
 * const options: ApplyOptions = { signal: AbortSignal.timeout(1000) };
 * console.log(options.signal !== undefined); // true
 * ```
 */
export interface ApplyOptions {
  /** Aborts the call; a task already running is stopped (its worker replaced) after a short grace period. */
  signal?: AbortSignal;
}

/**
 * What map-like calls accept: an array, any iterable, or an async iterable.
 *
 * @typeParam T The items' type.
 * @example
 * ```ts
 * import type { PoolIterable } from "multiproc";
 * const items: PoolIterable<number> = new Set([1, 2, 3]);
 * console.log([...(items as Set<number>)].length); // 3
 * ```
 */
export type PoolIterable<T> = Iterable<T> | AsyncIterable<T>;

/**
 * A pool of worker processes or threads running functions in parallel
 * (Python's `multiprocessing.Pool`). Results come back typed and in order;
 * a task that throws rejects only its own call; a worker that dies
 * mid-task rejects that task with `WorkerLostError` and is replaced.
 *
 * @example Squares, as in Python's docs
 * ```ts
 * import { Pool } from "multiproc";
 *
 * export function square(n: number): number {
 *   return n * n;
 * }
 *
 * // (in a program: under `if (isMain(import.meta))`, see isMain)
 * await using pool = new Pool(4);
 * console.log(await pool.map(square, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]));
 * // [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
 * ```
 */
export class Pool {
  #sched: Scheduler;
  #processes: number;

  /**
   * Starts the workers (in parallel; calls made meanwhile wait for them).
   *
   * @param processes How many workers, or all options in one object. @default cpuCount()
   * @param options Initializer, initargs, maxtasksperchild, context.
   * @throws {TypeError} for bad options, or an initializer that cannot reach a child.
   * @throws {ProcessError} when no worker can be started at all, or in a daemonic child.
   */
  // deno-lint-ignore no-explicit-any -- any initializer, whatever its parameters
  constructor(processes?: number | PoolOptions<any[]> | null, options: PoolOptions<any[]> = {}) {
    if (typeof processes === "object" && processes !== null) [options, processes] = [processes, processes.processes];
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Cannot create a Pool: options must be an object like { initializer, initargs }, got ${String(options)}`);
    }
    const n = processes === undefined || processes === null ? cpuCount() : checkPositiveInteger(processes, "create a Pool", "processes");
    const { initializer, initargs, maxtasksperchild, context } = options;
    if (initargs !== undefined && !Array.isArray(initargs)) {
      throw new TypeError(`Cannot create a Pool: initargs must be an array, got ${typeof initargs}`);
    }
    const maxTasks = maxtasksperchild === undefined || maxtasksperchild === null
      ? 0
      : checkPositiveInteger(maxtasksperchild, "create a Pool", "maxtasksperchild");
    const method = context === undefined
      ? startMethodOf(this.constructor)
      : checkStartMethod(typeof context === "object" && context !== null ? context.startMethod : context, "create a Pool");
    checkMayStartChildren("create a Pool");
    this.#processes = n;
    this.#sched = new Scheduler({
      processes: n,
      method,
      initializer: initializer === undefined ? null : resolveFunction(initializer, "the initializer"),
      initargs: encodeValue(initargs ?? [], "initargs", true, method),
      maxTasks,
    });
  }

  /**
   * Runs `fn(...args)` in a worker and resolves with its value (Python's `apply`).
   *
   * @param fn A main-module export, a self-contained function or a `task()`.
   * @param args Its arguments. @default []
   * @param options An AbortSignal.
   * @returns What `fn` returns (awaited).
   */
  apply<A extends unknown[], R>(fn: (...args: A) => R, args?: A, options?: ApplyOptions): Promise<Awaited<R>> {
    // Not `async`: the call's own promise is returned, without another
    // promise and three microtask hops per task. Bad input still rejects.
    try {
      return this.#apply(fn, args, options, "apply").promise as Promise<Awaited<R>>;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Starts `fn(...args)` in a worker (Python's `apply_async`).
   *
   * @param fn The function.
   * @param args Its arguments. @default []
   * @param options `callback`, `errorCallback`, `signal`.
   * @returns An AsyncResult; `await result.get()` is the value.
   */
  applyAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    args?: A,
    options: AsyncCallbacks<Awaited<R>> & ApplyOptions = {},
  ): AsyncResult<Awaited<R>> {
    const call = this.#apply(fn, args, options, "applyAsync");
    return new AsyncResult(call.promise as Promise<Awaited<R>>, options);
  }

  /**
   * Applies `fn` to every item, in chunks, and resolves with the results in
   * input order (Python's `map`). Rejects with the error of the first item
   * (by position) that failed.
   *
   * @param fn The function.
   * @param iterable An array, iterable or async iterable (read in full first).
   * @param chunksize Items per task, or `{ chunksize, signal }`. @default ceil(n / (4 x workers))
   * @returns The results.
   */
  async map<T, R>(fn: (item: T) => R, iterable: PoolIterable<T>, chunksize?: number | MapOptions): Promise<Awaited<R>[]> {
    return await this.#map(fn, iterable, chunksize, 1, "map") as Awaited<R>[];
  }

  /**
   * As map, but returns an AsyncResult at once (Python's `map_async`).
   *
   * @param fn The function.
   * @param iterable The input.
   * @param chunksize Items per task, or `{ chunksize, signal }`.
   * @param callbacks `callback` and `errorCallback`.
   * @returns An AsyncResult of the results.
   */
  mapAsync<T, R>(
    fn: (item: T) => R,
    iterable: PoolIterable<T>,
    chunksize?: number | MapOptions,
    callbacks: AsyncCallbacks<Awaited<R>[]> = {},
  ): AsyncResult<Awaited<R>[]> {
    this.#checkRunning("mapAsync");
    const promise = this.#map(fn, iterable, chunksize, 1, "mapAsync") as Promise<Awaited<R>[]>;
    return new AsyncResult(promise, callbacks);
  }

  /**
   * Calls `fn(...args)` for every args array (Python's `starmap`).
   *
   * @param fn The function.
   * @param iterable Arrays of arguments.
   * @param chunksize Items per task, or `{ chunksize, signal }`.
   * @returns The results, in input order.
   */
  async starmap<A extends unknown[], R>(fn: (...args: A) => R, iterable: PoolIterable<A>, chunksize?: number | MapOptions): Promise<Awaited<R>[]> {
    return await this.#map(fn, iterable, chunksize, 2, "starmap") as Awaited<R>[];
  }

  /**
   * As starmap, but returns an AsyncResult at once (Python's `starmap_async`).
   *
   * @param fn The function.
   * @param iterable Arrays of arguments.
   * @param chunksize Items per task, or `{ chunksize, signal }`.
   * @param callbacks `callback` and `errorCallback`.
   * @returns An AsyncResult of the results.
   */
  starmapAsync<A extends unknown[], R>(
    fn: (...args: A) => R,
    iterable: PoolIterable<A>,
    chunksize?: number | MapOptions,
    callbacks: AsyncCallbacks<Awaited<R>[]> = {},
  ): AsyncResult<Awaited<R>[]> {
    this.#checkRunning("starmapAsync");
    const promise = this.#map(fn, iterable, chunksize, 2, "starmapAsync") as Promise<Awaited<R>[]>;
    return new AsyncResult(promise, callbacks);
  }

  /**
   * Yields `fn(item)` for each item, in order, reading the input lazily and
   * keeping a bounded window in flight (Python's `imap`).
   *
   * @param fn The function.
   * @param iterable The input; may be endless.
   * @param chunksize Items per task, or `{ chunksize, signal }`. @default 1
   * @returns An async iterator of the results.
   */
  imap<T, R>(fn: (item: T) => R, iterable: PoolIterable<T>, chunksize?: number | MapOptions): AsyncIterableIterator<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, true, "imap") as AsyncIterableIterator<Awaited<R>>;
  }

  /**
   * As imap, but yields results as they finish (Python's `imap_unordered`).
   *
   * @param fn The function.
   * @param iterable The input; may be endless.
   * @param chunksize Items per task, or `{ chunksize, signal }`. @default 1
   * @returns An async iterator of the results.
   */
  imapUnordered<T, R>(fn: (item: T) => R, iterable: PoolIterable<T>, chunksize?: number | MapOptions): AsyncIterableIterator<Awaited<R>> {
    return this.#imap(fn, iterable, chunksize, false, "imapUnordered") as AsyncIterableIterator<Awaited<R>>;
  }

  /** Accepts no more calls; workers exit once the work already submitted is done. */
  close(): void {
    this.#sched.close();
  }

  /** Ends the workers now; everything outstanding rejects. */
  terminate(): void {
    this.#sched.terminate();
  }

  /**
   * Waits for the workers to exit. Call close() or terminate() first. After
   * close(), an imap iterator still holding results keeps the pool open
   * until it is read to its end or left with `break`.
   *
   * @throws {ProcessError} while the pool is still running.
   */
  async join(): Promise<void> {
    if (this.#sched.phase === "running") {
      throw new ProcessError("Cannot join the pool: it is still running; call close() or terminate() first");
    }
    const release = this.#sched.hold();
    try {
      await this.#sched.allExited();
    } finally {
      release();
    }
  }

  /** `await using pool = new Pool()`: waits for submitted work, then ends the workers. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.join();
  }

  /** `<Pool state=RUN pool_size=4>`, as Python's repr. */
  toString(): string {
    const phase = { running: "RUN", closed: "CLOSE", terminated: "TERMINATE" }[this.#sched.phase];
    return `<Pool state=${phase} pool_size=${this.#processes}>`;
  }

  #checkRunning(what: string): void {
    const phase = this.#sched.phase;
    if (phase !== "running") throw new ProcessError(`Cannot ${what}: the pool is ${phase}; create a new Pool`);
  }

  #apply(fn: unknown, args: unknown, options: ApplyOptions | undefined, what: string): ApplyCall {
    this.#checkRunning(what);
    if (args !== undefined && !Array.isArray(args)) {
      throw new TypeError(`Cannot ${what}: args must be an array, got ${typeof args}; wrap a single value as [value]`);
    }
    const signal = checkSignal(options?.signal, what);
    const fnId = this.#sched.functionId(fn, `the function given to ${what}`);
    return new ApplyCall(this.#sched, fnId, (args ?? []) as unknown[], signal);
  }

  #options(chunksize: number | MapOptions | undefined, what: string): { chunksize?: number; signal?: AbortSignal } {
    if (chunksize === undefined || chunksize === null) return {};
    if (typeof chunksize === "object") {
      return {
        chunksize: chunksize.chunksize === undefined ? undefined : checkPositiveInteger(chunksize.chunksize, what, "chunksize"),
        signal: checkSignal(chunksize.signal, what),
      };
    }
    return { chunksize: checkPositiveInteger(chunksize, what, "chunksize") };
  }

  async #map(fn: unknown, iterable: unknown, chunksize: number | MapOptions | undefined, kind: 1 | 2, what: string): Promise<unknown[]> {
    this.#checkRunning(what);
    checkInput(iterable, what);
    const options = this.#options(chunksize, what);
    const fnId = this.#sched.functionId(fn, `the function given to ${what}`);
    let items = await collect(iterable as PoolIterable<unknown>);
    if (kind === 2) items = asArgs(items);
    const size = options.chunksize ?? Math.max(1, Math.ceil(items.length / (4 * this.#processes)));
    return await new MapCall(this.#sched, fnId, kind, items, size, options.signal).promise;
  }

  #imap(fn: unknown, iterable: unknown, chunksize: number | MapOptions | undefined, ordered: boolean, what: string): AsyncIterableIterator<unknown> {
    this.#checkRunning(what);
    checkInput(iterable, what);
    const options = this.#options(chunksize, what);
    const fnId = this.#sched.functionId(fn, `the function given to ${what}`);
    const size = options.chunksize ?? 1;
    return new ImapIterator(this.#sched, {
      fnId,
      kind: 1,
      chunksize: size,
      ordered,
      windowItems: Math.max(4 * this.#processes * size, WINDOW_ITEMS_PER_WORKER * this.#processes),
      signal: options.signal,
    }, iterable as PoolIterable<unknown>);
  }
}
