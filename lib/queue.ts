// Queue, JoinableQueue and SimpleQueue (queue/simple.ts): Python's multiprocessing queues.
// Items live in a ring in shared memory owned by the process that made the
// queue (queue/ring.ts); its threads use the ring directly, child processes
// through the owner (queue/remote.ts, queue/server.ts). A queue passed to
// a Process or a Pool arrives connected to the same ring.
import { EOFError, QueueEmpty, QueueFull, SerializationError } from "./errors.ts";
import { checkSignal, checkTimeout } from "./checks.ts";
import { closedError, eofError, type GetOptions, type PutOptions, RESOLVED, waitFor } from "./queue/options.ts";
import { SimpleQueue } from "./queue/simple.ts";
import { type Crossing, crossing, type Destination, registerReviver } from "./transport/values.ts";
import { type Frame, Ring } from "./queue/ring.ts";
import { type Backend, LocalBackend } from "./queue/backend.ts";
import { decodeItem, encodeItem, ownFrame } from "./queue/codec.ts";
import { exportRing, relayName, type RemoteRef, remoteBackend } from "./queue/remote.ts";
import { markShared, OWN_IDENTITY } from "./shared/memory.ts";
import { type SegmentRef, segmentRef } from "./shared/os_segments.ts";


type Kind = "Queue" | "JoinableQueue" | "SimpleQueue";

interface QueueState {
  kind: Kind;
  buffer?: SharedArrayBuffer;
  remote?: RemoteRef;
  segment?: SegmentRef;
}

// A queue being revived on arrival takes this backend instead of a new ring.
let arriving: Backend | null = null;
// Set while a SimpleQueue makes the Queue it wraps.
let simple = false;

/**
 * Python's `multiprocessing.Queue`: a FIFO shared by any number of
 * producers and consumers, in this process, its threads and its child
 * processes. Pass it to a Process or Pool as an argument.
 *
 * `put` and `get` wait (with an optional timeout in ms); `putNowait` and
 * `getNowait` throw QueueFull / QueueEmpty instead. `close()` ends the
 * queue for every holder: later puts throw, gets drain what is left and
 * then reject with EOFError, and `for await` ends. Items are structured
 * clones (Errors keep their class, cause and properties); a value that
 * cannot be cloned is refused with SerializationError at `put`.
 *
 * @typeParam T The items' type.
 * @example
 * ```ts
 * import { Queue } from "multiproc";
 * const q = new Queue<number>();
 * await q.put(1);
 * q.putNowait(2);
 * console.log(await q.get(), q.getNowait()); // 1 2
 * ```
 */
export class Queue<T = unknown> {
  readonly #backend: Backend;
  readonly #kind: Kind;

  /**
   * Creates a queue.
   *
   * @param maxsize The most items it holds; `put` waits while full. 0 or less: no limit.
   */
  constructor(maxsize: number = 0) {
    this.#kind = new.target === JoinableQueue ? "JoinableQueue" : simple ? "SimpleQueue" : "Queue";
    if (arriving) {
      this.#backend = arriving;
      arriving = null;
      return;
    }
    if (typeof maxsize !== "number" || !Number.isInteger(maxsize) || maxsize > 2 ** 31 - 1) {
      throw new TypeError(`Cannot create a ${this.#kind}: maxsize must be an integer (0 or less: no limit), got ${String(maxsize)}`);
    }
    this.#backend = new LocalBackend(new Ring({ maxsize: Math.max(0, maxsize), mapped: true }));
  }

  /** @internal */
  get backend(): Backend {
    return this.#backend;
  }

  /**
   * Puts an item, waiting while the queue is full.
   *
   * @param item Any structured-cloneable value.
   * @param options `block: false` or `timeout` (ms) to give up with QueueFull.
   * @throws {QueueFull} when there is no room in time.
   * @throws {SerializationError} for an item that cannot be cloned (nothing is put).
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<string>(1);
   * await q.put("a");
   * await q.put("b", { timeout: 10 }).catch((e) => console.log(e.name)); // "QueueFull"
   * ```
   */
  put(item: T, options?: PutOptions): Promise<void> {
    // The common case, without an async function's cost: room at once
    // (and no earlier put of this holder still waiting for room).
    if (options === undefined && this.#backend.tryPut && this.#waitingPuts === 0) {
      let frame: Frame;
      try {
        frame = encodeItem(item, "item", this.#backend instanceof LocalBackend);
      } catch (error) {
        return Promise.reject(error);
      }
      const r = this.#backend.tryPut(frame);
      if (r === "ok") return RESOLVED;
      if (r === "closed") return Promise.reject(closedError());
      return this.#put(ownFrame(frame), undefined, undefined);
    }
    try {
      const ms = waitFor(options, "put an item on the queue");
      const signal = checkSignal(options?.signal, "put an item on the queue");
      signal?.throwIfAborted();
      return this.#put(ownFrame(encodeItem(item, "item")), ms, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  // Puts that wait for room go one after the other, so that a holder's
  // items keep the order it put them in.
  #waitingPuts = 0;
  #lastPut: Promise<unknown> = RESOLVED;

  #put(frame: Frame, ms: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    this.#waitingPuts++;
    const mine = this.#lastPut.then(() => this.#putNow(frame, ms, signal));
    this.#lastPut = mine.catch(() => {});
    return mine.finally(() => this.#waitingPuts--);
  }

  async #putNow(frame: Frame, ms: number | undefined, signal: AbortSignal | undefined): Promise<void> {
    const r = await this.#backend.put(frame, ms, signal);
    if (r === "ok") return;
    if (r === "closed") throw closedError();
    signal?.throwIfAborted();
    throw new QueueFull(`Queue is full (maxsize ${this.#backend.maxsize})${ms ? `: no room within ${ms} ms` : ""}`);
  }

  /**
   * Puts an item or throws QueueFull at once.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * q.putNowait(7);
   * console.log(q.qsize()); // 1
   * ```
   */
  putNowait(item: T): void {
    // (a local ring copies the frame at once: it may be scratch memory)
    const r = this.#backend.putSync(encodeItem(item, "item", this.#backend instanceof LocalBackend), 0);
    if (r === "closed") throw closedError();
    if (r === "full") throw new QueueFull(`Queue is full (maxsize ${this.#backend.maxsize})`);
  }

  /**
   * Puts an item, blocking this thread while the queue is full: for code
   * running in a child or worker, where blocking is safe.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * q.putSync(1);
   * console.log(q.getSync()); // 1
   * ```
   */
  putSync(item: T, options?: Omit<PutOptions, "signal">): void {
    const ms = waitFor(options, "put an item on the queue");
    const r = this.#backend.putSync(encodeItem(item, "item", this.#backend instanceof LocalBackend), ms);
    if (r === "closed") throw closedError();
    if (r === "full") throw new QueueFull(`Queue is full (maxsize ${this.#backend.maxsize})${ms ? `: no room within ${ms} ms` : ""}`);
  }

  /**
   * Takes the oldest item, waiting while the queue is empty.
   *
   * @param options `block: false` or `timeout` (ms) to give up with QueueEmpty.
   * @throws {QueueEmpty} when no item comes in time.
   * @throws {EOFError} when the queue is closed and drained.
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * await q.get({ timeout: 10 }).catch((e) => console.log(e.name)); // "QueueEmpty"
   * ```
   */
  get(options?: GetOptions): Promise<T> {
    // The common case, without an async function's cost: an item is there.
    if (options === undefined && this.#backend.tryGet) {
      // (a local ring's frame comes in scratch memory, decoded at once)
      const local = this.#backend instanceof LocalBackend;
      const r = this.#backend.tryGet(local);
      if (r instanceof Uint8Array) {
        try {
          return Promise.resolve(decodeItem(r, local) as T);
        } catch (error) {
          return Promise.reject(error);
        }
      }
      if (r === "eof") return Promise.reject(eofError());
      return this.#get(undefined, undefined);
    }
    try {
      const ms = waitFor(options, "get an item from the queue");
      const signal = checkSignal(options?.signal, "get an item from the queue");
      signal?.throwIfAborted();
      return this.#get(ms, signal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #get(ms: number | undefined, signal: AbortSignal | undefined): Promise<T> {
    const r = await this.#backend.get(ms, signal);
    if (r instanceof Uint8Array) return decodeItem(r) as T;
    if (r === "eof") throw eofError();
    signal?.throwIfAborted();
    throw new QueueEmpty(ms ? `Queue is empty: no item within ${ms} ms` : "Queue is empty");
  }

  /**
   * Takes the oldest item or throws QueueEmpty at once.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * q.putNowait(3);
   * console.log(q.getNowait()); // 3
   * ```
   */
  getNowait(): T {
    return this.getSync({ block: false });
  }

  /**
   * Takes the oldest item, blocking this thread while the queue is empty
   * (see `putSync`).
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * q.putSync(5);
   * console.log(q.getSync({ timeout: 100 })); // 5
   * ```
   */
  getSync(options?: Omit<GetOptions, "signal">): T {
    const ms = waitFor(options, "get an item from the queue");
    const r = this.#backend.getSync(ms);
    if (r instanceof Uint8Array) return decodeItem(r) as T;
    if (r === "eof") throw eofError();
    throw new QueueEmpty(ms ? `Queue is empty: no item within ${ms} ms` : "Queue is empty");
  }

  /**
   * How many items the queue holds now (other holders may change it at once).
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue();
   * console.log(q.qsize(), q.empty(), q.full()); // 0 true false
   * ```
   */
  qsize(): number {
    return this.#backend.stat().count;
  }

  /**
   * Whether the queue holds no item now (see `qsize`).
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * console.log(new Queue().empty()); // true
   * ```
   */
  empty(): boolean {
    return this.qsize() === 0;
  }

  /**
   * Whether the queue holds `maxsize` items now (never, without a maxsize).
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>(1);
   * q.putNowait(1);
   * console.log(q.full()); // true
   * ```
   */
  full(): boolean {
    const max = this.#backend.maxsize;
    return max > 0 && this.qsize() >= max;
  }

  /**
   * Ends the queue for every holder: puts throw from now on, gets drain
   * what is left and then reject with EOFError, `for await` loops end.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<number>();
   * await q.put(1);
   * q.close();
   * for await (const x of q) console.log(x); // 1, then the loop ends
   * ```
   */
  close(): void {
    this.#backend.close();
  }

  /**
   * Whether `close()` was called by any holder.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue();
   * q.close();
   * console.log(q.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#backend.stat().closed;
  }

  /**
   * Yields items as they come, until the queue is closed and drained.
   *
   * @example
   * ```ts
   * import { Queue } from "multiproc";
   * const q = new Queue<string>();
   * await q.put("a");
   * q.close();
   * for await (const x of q) console.log(x); // "a"
   * ```
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (;;) {
      let item: T;
      try {
        item = await this.get();
      } catch (error) {
        if (error instanceof EOFError) return;
        throw error;
      }
      yield item;
    }
  }

  /** @internal */
  get kind(): Kind {
    return this.#kind;
  }
}

/**
 * Python's `multiprocessing.JoinableQueue`: a Queue whose consumers
 * acknowledge each item with `taskDone()`, so that `join()` can wait
 * until every item put has been processed.
 *
 * @typeParam T The items' type.
 * @example
 * ```ts
 * import { JoinableQueue } from "multiproc";
 * const q = new JoinableQueue<string>();
 * await q.put("job");
 * const job = await q.get();
 * q.taskDone();
 * await q.join(); // every item acknowledged
 * console.log(job); // "job"
 * ```
 */
export class JoinableQueue<T = unknown> extends Queue<T> {
  /**
   * Creates a joinable queue.
   *
   * @param maxsize The most items it holds; `put` waits while full. 0 or less: no limit.
   */
  constructor(maxsize: number = 0) {
    super(maxsize);
  }

  /**
   * Acknowledges one item taken with `get`.
   *
   * @throws {Error} when called more times than items were put (Python's ValueError).
   * @example
   * ```ts
   * import { JoinableQueue } from "multiproc";
   * const q = new JoinableQueue<number>();
   * q.putNowait(1);
   * q.getNowait();
   * q.taskDone();
   * ```
   */
  taskDone(): void {
    if (!this.backend.taskDone()) {
      throw new Error("taskDone() called more times than there were items put on the JoinableQueue");
    }
  }

  /**
   * Waits until every item put has been acknowledged with `taskDone()`.
   *
   * @param timeout The longest wait in ms; then it resolves false. @default wait forever
   * @returns true once every item is done, false on timeout.
   * @example
   * ```ts
   * import { JoinableQueue } from "multiproc";
   * const q = new JoinableQueue<number>();
   * q.putNowait(1);
   * console.log(await q.join(10)); // false: nobody called taskDone
   * ```
   */
  join(timeout?: number): Promise<boolean> {
    return this.backend.join(checkTimeout(timeout, "join the queue"));
  }
}

// How a queue crosses to a child: to a thread of this process, the ring's
// shared buffer itself; to a child process, the name it is listed under in
// this process, which serves it (or, from a child, the name it came with).
// A ring in OS shared memory goes to both as its window, and is mapped on
// arrival; one that came from a parent is served to this child's children.
// Defined outside the classes so that the classes' public types stay plain.
export function queueCrossing(this: Queue<unknown>, to: Destination): Crossing {
  if (to === "item") {
    throw new SerializationError(
      `A ${this.kind} cannot be put on a queue or sent through a pipe: pass it to the Process or Pool that uses it (as in Python)`,
    );
  }
  const state: QueueState = { kind: this.kind };
  const b = this.backend;
  const own = b instanceof LocalBackend && b.ring.who === OWN_IDENTITY;
  if (own && b.ring.mapped) state.segment = segmentRef(b.ring)!;
  else if (to === "thread" && own) {
    markShared(b.ring.buffer);
    state.buffer = b.ring.buffer as SharedArrayBuffer;
  }
  else if (to === "process" && b instanceof LocalBackend) state.remote = exportRing(b.ring);
  else if (to === "process") state.remote = relayName(b)!;
  else {
    throw new SerializationError(
      `A ${this.kind} that came from a parent process cannot be passed to a thread of this child yet: ` +
        "create the queue in this process, or use the process start method here",
    );
  }
  return { type: "queue", state };
}
Object.defineProperty(Queue.prototype, crossing, { value: queueCrossing });

/** @internal The Queue a SimpleQueue wraps (it crosses as a SimpleQueue). */
export function simpleInner<T>(): Queue<T> {
  simple = true;
  try {
    return new Queue<T>();
  } finally {
    simple = false;
  }
}

function revive(state: QueueState): unknown {
  arriving = state.buffer
    ? new LocalBackend(new Ring(state.buffer))
    : state.segment
    ? new LocalBackend(new Ring(state.segment))
    : remoteBackend(state.remote!);
  try {
    if (state.kind === "SimpleQueue") return new SimpleQueue();
    return state.kind === "JoinableQueue" ? new JoinableQueue() : new Queue();
  } finally {
    arriving = null;
  }
}

registerReviver("queue", (state) => revive(state as QueueState));

export { type GetOptions, type PutOptions, SimpleQueue };
