// The seam between multiproc and the runtime it runs on. Everything above
// lib/runtime and lib/child talks to Node, Deno and Bun only through these
// types, so Process, Pool, Queue and friends are written once.
import type { OsMemory } from "./os_memory.ts";
import type { AckLine } from "./ack_line.ts";

/**
 * The runtimes multiproc runs on.
 *
 * @example
 * ```ts
 * import type { RuntimeName } from "multiproc";
 * const here: RuntimeName = "deno";
 * ```
 */
export type RuntimeName = "node" | "deno" | "bun";

/**
 * How a child runs: a real OS process, or a worker thread of this process.
 *
 * @example
 * ```ts
 * import type { StartMethod } from "multiproc";
 * const method: StartMethod = "thread";
 * ```
 */
export type StartMethod = "process" | "thread";

/** How a child ended: an exit code, or the signal that killed it. */
export interface ExitInfo {
  /** The exit code, or `null` when a signal ended the child. */
  code: number | null;
  /** The signal name (`"SIGTERM"`, `"SIGKILL"`, ...) that ended it, else `null`. */
  signal: string | null;
  /** An error that ended a thread from outside its code (out of memory), when the runtime reports one. */
  error?: unknown;
}

/** What the seam needs to start a child. */
export interface ChildSpec {
  /** Process or thread. */
  method: StartMethod;
  /** The first message the child receives (the role, the target, the args). */
  init: unknown;
  /** Thread name shown in debuggers; also the process title hint. */
  name: string;
}

/**
 * The parent's end of a child process's state line: a pipe that a thread
 * of the parent reads with blocking reads and answers at once, for the
 * child's operations on shared memory the parent owns (Node, which cannot
 * map memory into a child: lib/child/state_thread.ts). Nothing reads it
 * until `serve` starts that thread.
 */
export interface StateLineEnd {
  /** Starts the thread with `data` (its workerData); resolves once it serves, false if it cannot. */
  serve(data: unknown, transfer: readonly Transferable[]): Promise<boolean>;
  /** Resolves once the thread has read the line to its end (at once if none was started). */
  ended(): Promise<void>;
}

/** The parent's end of a child process's request line (fd 4 in the child). */
export interface RequestStream {
  /** Receives the bytes the child writes, in order, as they come. */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Writes bytes the child will read (answers to its blocking requests). */
  write(bytes: Uint8Array): void;
  /**
   * Writes bytes to the child's answer line (fd 6), which it reads as they
   * come (answers to its async requests); undefined where the child has
   * none (Bun): those answers go on the message channel.
   */
  readonly answer?: (bytes: Uint8Array) => void;
  /** Called once, when the child's end is closed (it exited). */
  onEnd(listener: () => void): void;
  /** Resolves once everything the child wrote has been read (its end of the line is closed). */
  readonly ended: Promise<void>;
}

/** A running child, whatever it runs on. */
export interface ChildHandle {
  /** The request line of a child process; undefined for a thread. */
  readonly requests?: RequestStream;
  /** The state line of a child process on Node (fd 5 in the child); undefined elsewhere. */
  readonly stateLine?: StateLineEnd;
  /** OS process id: the child's own for processes, this process's for threads. */
  readonly pid: number;
  /** Sends a message; `transfer` lists buffers to move instead of copy. */
  send(message: unknown, transfer?: readonly Transferable[]): void;
  /** Registers the one message listener. */
  onMessage(listener: (message: unknown) => void): void;
  /** Resolves once with how the child ended. */
  readonly exited: Promise<ExitInfo>;
  /** Asks the child to end (SIGTERM for processes, terminate for threads). */
  terminate(): void;
  /** Ends the child at once (SIGKILL for processes, terminate for threads). */
  kill(): void;
  /** Lets this process exit while the child still runs. */
  unref(): void;
  /** Keeps this process alive while the child runs (the default). */
  ref(): void;
}

/** Facts about, and services of, the process this code runs in. */
export interface Host {
  readonly runtime: RuntimeName;
  /** This OS process's id (threads share it). */
  readonly pid: number;
  /** The number of CPUs this process may use. */
  cpuCount(): number;
  /** The file URL of the program's entry module, if it has one. */
  mainModuleUrl(): string | undefined;
  /** An environment variable, or undefined (also when reading env is not permitted). */
  env(name: string): string | undefined;
  /** Reads a text file synchronously, or undefined when it cannot. */
  readTextFile(url: string): string | undefined;
  /** Writes to standard error synchronously, so nothing is lost at exit. */
  writeStderr(text: string): void;
  /** The number of a signal, by name (`"SIGTERM"` is 15). */
  signalNumber(name: string): number;
  /** Runs `fn` when this process exits (synchronously, as it goes). */
  onExit(fn: () => void): void;
  /**
   * Runs `fn` once the event loop has turned: after the I/O that is ready
   * now has been handled, before timers that are due later (`setImmediate`).
   */
  afterTurn(fn: () => void): void;
  /** Starts a child running the bootstrap. */
  spawn(spec: ChildSpec): ChildHandle;
  /**
   * OS shared memory for child processes (memfd + futex through FFI: Deno
   * with --allow-ffi and Bun, on Linux), or undefined (Node; see
   * osMemoryMissing()).
   */
  osMemory(): OsMemory | undefined;
  /** Why osMemory() is undefined here, or null. */
  osMemoryMissing(): string | null;
  /**
   * The acknowledgement line this process gives its child processes
   * (ack_line.ts), once it made one; null before that and where it has none.
   */
  ackLine(): AckLine | null;
  /** Structured clone to bytes (the runtime's `v8.serialize`). */
  serialize(value: unknown): Uint8Array;
  /** Bytes from `serialize` back to a value. */
  deserialize(bytes: Uint8Array): unknown;
}
