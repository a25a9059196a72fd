// What a queue's put and get take, and the errors they end with: shared
// by Queue (lib/queue.ts) and its variants.
import { EOFError } from "../errors.ts";
import { checkTimeout } from "../checks.ts";

/**
 * How `put` waits when the queue is full.
 *
 * @example
 * ```ts
 * import type { PutOptions } from "multiproc";
 * const options: PutOptions = { timeout: 100 }; // give up with QueueFull after 100 ms
 * ```
 */
export interface PutOptions {
  /** Wait for room (true), or throw QueueFull at once (false). @default true */
  block?: boolean;
  /** The longest wait in ms, then QueueFull. @default wait forever */
  timeout?: number;
  /** Stops waiting (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

/**
 * How `get` waits when the queue is empty.
 *
 * @example
 * ```ts
 * import type { GetOptions } from "multiproc";
 * const options: GetOptions = { timeout: 100 }; // give up with QueueEmpty after 100 ms
 * ```
 */
export interface GetOptions {
  /** Wait for an item (true), or throw QueueEmpty at once (false). @default true */
  block?: boolean;
  /** The longest wait in ms, then QueueEmpty. @default wait forever */
  timeout?: number;
  /** Stops waiting (the promise rejects with the signal's reason). */
  signal?: AbortSignal;
}

export const RESOLVED: Promise<void> = Promise.resolve();

export function eofError(): EOFError {
  return new EOFError("Queue is closed and drained: no more items will come");
}

export function closedError(): Error {
  return new Error("Queue is closed: nothing more can be put on it (close() ends the queue for every holder)");
}

export function waitFor(options: PutOptions | GetOptions | undefined, what: string): number | undefined {
  if (options === undefined || options === null) return undefined;
  if (typeof options !== "object") throw new TypeError(`Cannot ${what}: options must be an object, got ${String(options)}`);
  const timeout = checkTimeout(options.timeout, what);
  return options.block === false ? 0 : timeout;
}
