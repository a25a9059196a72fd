// AsyncResult: what applyAsync, mapAsync and starmapAsync return, as Python's.
import { ProcessError, TimeoutError } from "../errors.ts";
import { checkTimeout } from "../checks.ts";

/** Callbacks run with the outcome of an `...Async` call, as Python's. */
export interface AsyncCallbacks<R> {
  /** Called with the result once the call succeeds. */
  callback?: (result: R) => void;
  /** Called with the error once the call fails. */
  errorCallback?: (error: unknown) => void;
}

// A callback that throws is the caller's bug: let it surface as an uncaught
// error, as an event listener's would, rather than vanish.
function runCallback(fn: () => void): void {
  try {
    fn();
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/**
 * The pending result of `applyAsync`, `mapAsync` or `starmapAsync`
 * (Python's `AsyncResult`). A failure nobody asks for is kept, not thrown.
 *
 * @typeParam R The value the call produces.
 * @example
 * ```ts
 * import { Pool } from "multiproc";
 *
 * await using pool = new Pool(2);
 * const result = pool.applyAsync((x: number) => x * x, [20]);
 * console.log(await result.get(20_000)); // 400
 * console.log(result.ready(), result.successful()); // true true
 * ```
 */
export class AsyncResult<R> {
  #promise: Promise<R>;
  #state: "pending" | "ok" | "error" = "pending";

  /**
   * Wraps a promise; pools create these, users get them from `...Async` calls.
   *
   * @param promise The call's outcome.
   * @param callbacks Run once with the value or the error.
   */
  constructor(promise: Promise<R>, callbacks: AsyncCallbacks<R> = {}) {
    this.#promise = promise;
    promise.then(
      (value) => {
        this.#state = "ok";
        if (callbacks.callback) runCallback(() => callbacks.callback!(value));
      },
      (error) => {
        this.#state = "error";
        if (callbacks.errorCallback) runCallback(() => callbacks.errorCallback!(error));
      },
    );
  }

  /**
   * The result, once ready; rejects with the call's error.
   *
   * @param timeout How long to wait, in milliseconds. @default forever
   * @returns The value.
   * @throws {TimeoutError} when not ready within `timeout`.
   */
  async get(timeout?: number): Promise<R> {
    const ms = checkTimeout(timeout, "get the result");
    if (ms === undefined || this.#state !== "pending") return await this.#promise;
    await this.wait(ms);
    if (this.#state === "pending") throw new TimeoutError(`Cannot get the result: it is not ready after ${ms} ms`);
    return await this.#promise;
  }

  /**
   * Waits until the result is ready, at most `timeout` ms. Never rejects.
   *
   * @param timeout How long to wait, in milliseconds. @default forever
   */
  async wait(timeout?: number): Promise<void> {
    const ms = checkTimeout(timeout, "wait for the result");
    const settled = this.#promise.then(() => {}, () => {});
    if (ms === undefined) return await settled;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([settled, new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))]);
    clearTimeout(timer);
  }

  /** Whether the call has finished. */
  ready(): boolean {
    return this.#state !== "pending";
  }

  /**
   * Whether the call finished without an error.
   *
   * @throws {ProcessError} while it is not ready (Python raises ValueError).
   */
  successful(): boolean {
    if (this.#state === "pending") throw new ProcessError("Cannot tell whether the call was successful: it is not ready yet");
    return this.#state === "ok";
  }
}
