/**
 * The error classes multiproc throws, named after Python's `multiprocessing`
 * and `queue` exceptions. Every one of them crosses process and thread
 * boundaries with its class intact (see `lib/transport/errors.ts`).
 *
 * @module
 */

/**
 * Base class of multiproc's own process errors (Python's `ProcessError`).
 *
 * @example Catching any multiproc process error
 * ```ts
 * import { ProcessError } from "multiproc";
 * try {
 *   throw new ProcessError("Cannot start a process twice");
 * } catch (e) {
 *   console.log(e instanceof ProcessError); // true
 * }
 * ```
 */
export class ProcessError extends Error {
  /**
   * Creates the error.
   *
   * @param message What went wrong and how to fix it.
   * @param options Standard error options (`cause`).
   */
  constructor(message?: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * An operation did not finish within its timeout (Python's `TimeoutError`).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "multiproc";
 * const e = new TimeoutError("Timed out after 100 ms");
 * console.log(e.name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends ProcessError {}

/**
 * A value could not be sent to another process or thread. The message names
 * where in the arguments the value sits, e.g. `args[1].callback`.
 *
 * @example
 * ```ts
 * import { SerializationError } from "multiproc";
 * const e = new SerializationError("Cannot send args[0]: functions cannot be cloned", "args[0]");
 * console.log(e.path); // "args[0]"
 * ```
 */
export class SerializationError extends TypeError {
  /** Where the offending value sits, as a property path such as `args[1].fn`. */
  path: string;
  /**
   * Creates the error.
   *
   * @param message What could not be sent and why.
   * @param path Where it sits, e.g. `args[1].fn`.
   * @param options Standard error options (`cause`).
   */
  constructor(message: string, path = "", options?: ErrorOptions) {
    super(message, options);
    this.name = "SerializationError";
    this.path = path;
  }
}

/**
 * A pool worker died while running a task: killed, exited via `process.exit(n)`, out of
 * memory. Only the tasks it held reject with this; the pool replaces it.
 *
 * @example
 * ```ts
 * import { WorkerLostError } from "multiproc";
 * const e = new WorkerLostError("PoolWorker-2 died (signal SIGKILL) while running a task");
 * console.log(e instanceof Error); // true
 * ```
 */
export class WorkerLostError extends ProcessError {
  /** The worker's exit code, or `null` when a signal ended it. */
  exitCode?: number | null;
  /** The signal that ended the worker, if any. */
  signal?: string | null;
  /** The worker's name, e.g. `PoolWorker-2`. */
  workerName?: string;
}

/**
 * An error raised on the other side of a Manager or remote connection whose
 * class could not be rebuilt locally (Python's `RemoteError`).
 *
 * @example
 * ```ts
 * import { RemoteError } from "multiproc";
 * console.log(new RemoteError("boom").name); // "RemoteError"
 * ```
 */
export class RemoteError extends ProcessError {}

/**
 * A manager connection was refused because the authkey did not match.
 *
 * @example
 * ```ts
 * import { AuthenticationError } from "multiproc";
 * console.log(new AuthenticationError("digest mismatch").name); // "AuthenticationError"
 * ```
 */
export class AuthenticationError extends ProcessError {}

/**
 * `Queue.getNowait()` (or a timed `get`) found nothing (Python's `queue.Empty`).
 *
 * @example
 * ```ts
 * import { QueueEmpty } from "multiproc";
 * console.log(new QueueEmpty().name); // "QueueEmpty"
 * ```
 */
export class QueueEmpty extends Error {
  /**
   * Creates the error.
   *
   * @param message Optional detail.
   * @param options Standard error options (`cause`).
   */
  constructor(message = "Queue is empty", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueEmpty";
  }
}

/**
 * `Queue.putNowait()` (or a timed `put`) found the queue at `maxsize`
 * (Python's `queue.Full`).
 *
 * @example
 * ```ts
 * import { QueueFull } from "multiproc";
 * console.log(new QueueFull().name); // "QueueFull"
 * ```
 */
export class QueueFull extends Error {
  /**
   * Creates the error.
   *
   * @param message Optional detail.
   * @param options Standard error options (`cause`).
   */
  constructor(message = "Queue is full", options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueFull";
  }
}

/**
 * Reading from a closed, drained queue or a pipe whose other end is closed.
 *
 * @example
 * ```ts
 * import { EOFError } from "multiproc";
 * console.log(new EOFError().name); // "EOFError"
 * ```
 */
export class EOFError extends Error {
  /**
   * Creates the error.
   *
   * @param message Optional detail.
   * @param options Standard error options (`cause`).
   */
  constructor(message = "End of file: the other side is closed", options?: ErrorOptions) {
    super(message, options);
    this.name = "EOFError";
  }
}

/**
 * A `Barrier` was aborted or reset while parties waited on it.
 *
 * @example
 * ```ts
 * import { BrokenBarrierError } from "multiproc";
 * console.log(new BrokenBarrierError().name); // "BrokenBarrierError"
 * ```
 */
export class BrokenBarrierError extends Error {
  /**
   * Creates the error.
   *
   * @param message Optional detail.
   * @param options Standard error options (`cause`).
   */
  constructor(message = "The barrier is broken", options?: ErrorOptions) {
    super(message, options);
    this.name = "BrokenBarrierError";
  }
}

/** Every error class above, by name, so an envelope can rebuild the right class. */
export const errorClasses: Readonly<Record<string, new (message?: string) => Error>> = {
  ProcessError,
  TimeoutError,
  SerializationError: SerializationError as unknown as new (message?: string) => Error,
  WorkerLostError,
  RemoteError,
  AuthenticationError,
  QueueEmpty,
  QueueFull,
  EOFError,
  BrokenBarrierError,
};
