// The pool's wire protocol: labelled tuples, small and flat, because for
// trivial tasks the protocol *is* the cost. The parent sends tasks in
// batches and each worker answers in batches, so 20k tiny tasks cost a few
// hundred messages rather than 40k.
import type { FunctionRef } from "../transport/functions.ts";
import type { StartMethod } from "../runtime/types.ts";

/** How a task applies its function: once to args, or to each item of a chunk. */
export type TaskKind =
  /** `fn(...args)`: apply and applyAsync. */
  | 0
  /** `fn(item)` for each item of a chunk: map and imap. */
  | 1
  /** `fn(...item)` for each item of a chunk: starmap. */
  | 2;

/**
 * Tasks travel flat, four slots each: id, function id, kind, payload (one
 * array rather than one per task: cheaper to serialize and to collect).
 * The payload is the args array (kind 0), or the chunk's items: an array,
 * or for kind 1 the ArrayBuffer of a Float64Array when every item is a
 * number (packNumbers). A chunk's results come back the same way: an array,
 * or packed numbers.
 */
export type TaskList = unknown[];

/** Parent to worker. */
export type ToWorker =
  /** Functions the worker has not seen yet, then tasks to run in order. */
  | ["run", fns: Array<[number, FunctionRef]> | null, tasks: TaskList]
  /** Skip these tasks if they have not started (their call was aborted). */
  | ["cancel", ids: number[]]
  /** Finish what you hold, then exit 0. */
  | ["exit"];

/** A task's outcome: 1 ok (value), 0 error ({ index, partial, error }), 2 skipped. */
export type Outcome = 0 | 1 | 2;

/** What a failed task reports: where in its chunk, what came before, the error. */
export interface TaskFailure {
  index: number;
  partial: unknown;
  error: unknown;
}

/** Worker to parent. */
export type FromWorker =
  /** The initializer ran; send work. */
  | ["ready"]
  /** Finished tasks, in the order they were sent: id, outcome, value, ms it ran, id, ... */
  | ["done", flat: unknown[]]
  /** The initializer failed, or an error escaped a task (a timer, a stray promise). */
  | ["crash", error: unknown, phase: "init" | "run"];

/** The first message a pool worker receives. */
export interface PoolWorkerInit {
  readonly kind: "pool-worker";
  readonly name: string;
  readonly identity: number[];
  readonly method: StartMethod;
  readonly parent: { readonly name: string; readonly pid: number };
  readonly mainUrl: string | undefined;
  readonly initializer: FunctionRef | null;
  readonly initargs: unknown;
  /** Exit after this many tasks (Python's maxtasksperchild); 0 for never. */
  readonly maxTasks: number;
}

/**
 * Packs items[start, end) into the buffer of a Float64Array when every one
 * is a number: structured clone copies a buffer as one block, three times
 * faster than an array of numbers, and a thread can take it without a copy.
 * The bare ArrayBuffer travels, not the typed-array view: Deno's
 * worker_threads move views about 6x slower than buffers. Every JS number
 * is a float64, so nothing is lost (-0 and NaN included). Returns null when
 * any item is not a number, or the range is too short to be worth it.
 */
export function packNumbers(items: ArrayLike<unknown>, start = 0, end: number = items.length): ArrayBuffer | null {
  if (end - start < 16) return null;
  const packed = new Float64Array(end - start);
  for (let i = start; i < end; i++) {
    const v = items[i];
    if (typeof v !== "number") return null;
    packed[i - start] = v;
  }
  return packed.buffer;
}
