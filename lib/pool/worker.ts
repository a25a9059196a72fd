// One pool worker as the parent sees it: the child behind the seam, the
// tasks sent to it and not yet answered (in order: the first is the one it
// is running), and an estimate of how long its tasks take, which decides
// how many to send ahead.
import type { ChildHandle, ExitInfo } from "../runtime/types.ts";
import type { FunctionRef } from "../transport/functions.ts";
import type { TaskKind, TaskList, ToWorker } from "./protocol.ts";

/** Whoever waits for a chunk: a call of the pool (apply, map, imap...). */
export interface ChunkOwner {
  /** The chunk is finished: its value, or where in it and how it failed. */
  settle(chunk: Chunk, result: ChunkResult): void;
}

/**
 * A finished chunk: the function's value (apply) or values (map), or the
 * failure; `ms` is how long the worker ran it, when it did.
 */
export type ChunkResult =
  | { readonly ok: true; readonly value: unknown; readonly ms?: number }
  | { readonly ok: false; readonly index: number; readonly partial: unknown[]; readonly error: unknown; readonly ms?: number };

/** A unit of work: one apply, or one chunk of a map. */
export interface Chunk {
  readonly id: number;
  readonly fnId: number;
  readonly kind: TaskKind;
  readonly payload: unknown;
  /** Buffers to move rather than copy when sending to a thread. */
  readonly transfer: Transferable[] | undefined;
  readonly owner: ChunkOwner;
  /** The chunk's position among its call's chunks. */
  readonly seq: number;
  /** The position of its first item in the call's input, and how many items. */
  readonly start: number;
  readonly count: number;
  /** queued: waiting in the pool; sent: a worker holds it; settled: its owner knows the outcome. */
  state: "queued" | "sent" | "settled";
}

/** Task times are steered so that a worker holds about this much work. */
const AHEAD_MS = 4;
const MIN_AHEAD = 2;
const MAX_AHEAD = 256;

/** A worker of a pool. */
export class WorkerSlot {
  readonly name: string;
  readonly handle: ChildHandle;
  /** Answered "ready": its initializer ran. */
  ready = false;
  /** Told to exit (pool closed), or it has been sent maxTasks tasks. */
  retiring = false;
  /** Sent and not answered, in the order sent. */
  readonly inflight: Chunk[] = [];
  /** Tasks sent in all (for maxtasksperchild). */
  sent = 0;
  /** Function ids this worker has been sent the definition of. */
  readonly knownFns: Set<number> = new Set();
  /** An error the worker reported before it exited (initializer, stray error). */
  crash: { error: unknown; phase: "init" | "run" } | null = null;
  /** How it ended, once it has. */
  exit: ExitInfo | null = null;
  /** Killed by the pool to stop an aborted task. */
  killedForAbort = false;
  /** The cancelled chunk whose grace period is running, if any. */
  abortWatch: Chunk | null = null;
  #exitRequested = false;
  #msPerTask = Number.NaN;
  #busySince = 0;

  constructor(name: string, handle: ChildHandle) {
    this.name = name;
    this.handle = handle;
  }

  /** How many tasks to keep sent ahead: few when tasks are slow, many when trivial. */
  capacity(): number {
    if (Number.isNaN(this.#msPerTask)) return MIN_AHEAD;
    const n = Math.round(AHEAD_MS / Math.max(this.#msPerTask, 1e-3));
    return Math.min(MAX_AHEAD, Math.max(MIN_AHEAD, n));
  }

  /** Sends tasks (with any function definitions they need). Throws if the channel refuses. */
  sendTasks(chunks: Chunk[], fnRef: (id: number) => FunctionRef): void {
    const fns: Array<[number, FunctionRef]> = [];
    const transfer: Transferable[] = [];
    const tasks: TaskList = new Array(chunks.length * 4);
    for (let i = 0; i < chunks.length; i++) {
      const c = chunks[i];
      if (!this.knownFns.has(c.fnId) && !fns.some(([id]) => id === c.fnId)) fns.push([c.fnId, fnRef(c.fnId)]);
      if (c.transfer) transfer.push(...c.transfer);
      tasks[i * 4] = c.id;
      tasks[i * 4 + 1] = c.fnId;
      tasks[i * 4 + 2] = c.kind;
      tasks[i * 4 + 3] = c.payload;
    }
    const message: ToWorker = ["run", fns.length > 0 ? fns : null, tasks];
    this.handle.send(message, transfer.length > 0 ? transfer : undefined);
    for (const [id] of fns) this.knownFns.add(id);
    if (this.inflight.length === 0) this.#busySince = performance.now();
    for (const c of chunks) {
      c.state = "sent";
      this.inflight.push(c);
    }
    this.sent += chunks.length;
  }

  /** Learns how long tasks take from `count` answers that arrived together. */
  answered(count: number): void {
    const now = performance.now();
    const per = (now - this.#busySince) / count;
    this.#msPerTask = Number.isNaN(this.#msPerTask) ? per : this.#msPerTask * 0.7 + per * 0.3;
    this.#busySince = now;
  }

  /** Asks the worker to finish what it holds and exit. */
  requestExit(): void {
    this.retiring = true;
    // A child process drops what arrives before it listens: a worker that
    // is not ready yet is told when it says "ready".
    if (this.#exitRequested || !this.ready) return;
    this.#exitRequested = true;
    try {
      this.handle.send(["exit"] satisfies ToWorker);
    } catch {
      this.handle.terminate(); // a channel that refuses a message: end it the other way
    }
  }
}
