// imap and imapUnordered: an async iterator that reads its input lazily and
// keeps at most `windowItems` items between reading and yielding, so an
// endless input (or a slow consumer) runs in bounded memory. A failing task
// ends the iteration at its position, after the results before it; so does
// an error thrown by the input itself, or an input item that cannot cross.
//
// With chunksize 1 (the default) and a function that proves fast (the
// workers report how long each chunk ran), adjacent items of a synchronous
// input travel together, up to about COALESCE_MS of work per message: the
// per-item results and the position of an error are the same, and a message
// of 0.25 ms of work cannot unbalance the workers. Python's chunksize is a
// performance hint too; slow functions still go one item per task.
import type { TaskKind } from "./protocol.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Chunk, ChunkOwner, ChunkResult } from "./worker.ts";
import { encodeItems } from "./calls.ts";

type Input = Iterator<unknown> | AsyncIterator<unknown>;

/** Coalesced chunksize-1 items carry about this much work per chunk. */
const COALESCE_MS = 0.25;
const MAX_COALESCE = 64;

/** Options of one imap call, checked by the Pool. */
export interface ImapSetup {
  readonly fnId: number;
  readonly kind: 1 | 2;
  readonly chunksize: number;
  readonly ordered: boolean;
  /** At most this many items read and not yet yielded. */
  readonly windowItems: number;
  readonly signal: AbortSignal | undefined;
}

/** The iterator an imap call returns. */
export class ImapIterator implements ChunkOwner, AsyncIterableIterator<unknown> {
  #sched: Scheduler;
  #setup: ImapSetup;
  #input: Input;
  #inputAsync: boolean;
  #inputDone = false;
  #reading = false;
  #nextSeq = 0;
  #nextItem = 0;
  /** Items read and not yet yielded: what the window bounds. */
  #unconsumed = 0;
  /** Items per chunk, by sequence number, while the chunk is unconsumed. */
  #counts = new Map<number, number>();
  /** How long one item takes in a worker (EWMA), once known. */
  #msPerItem = Number.NaN;
  #outstanding = new Map<number, Chunk>();
  #ordered = new Map<number, ChunkResult>();
  #completed: Array<[number, ChunkResult]> = [];
  #nextYield = 0;
  #buffer: ArrayLike<unknown> = [];
  #bufferAt = 0;
  /** An input error and the chunk position it stands at. */
  #inputError: { seq: number; error: unknown } | null = null;
  /** The error to throw once the buffer is drained. */
  #failure: { error: unknown } | null = null;
  #finished = false;
  #waiters: Array<{ resolve: (r: IteratorResult<unknown>) => void; reject: (e: unknown) => void }> = [];
  #forget: () => void = () => {};

  constructor(sched: Scheduler, setup: ImapSetup, input: Iterable<unknown> | AsyncIterable<unknown>) {
    this.#sched = sched;
    this.#setup = setup;
    const asyncIt = (input as AsyncIterable<unknown>)[Symbol.asyncIterator];
    this.#inputAsync = typeof asyncIt === "function";
    this.#input = this.#inputAsync
      ? (input as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      : (input as Iterable<unknown>)[Symbol.iterator]();
    sched.openJob();
    const signal = setup.signal;
    if (signal?.aborted) {
      this.#abort(signal.reason);
      return;
    }
    this.#forget = signal ? (() => {
      const abort = () => this.#abort(signal.reason);
      signal.addEventListener("abort", abort, { once: true });
      return () => signal.removeEventListener("abort", abort);
    })() : () => {};
    void this.#pump();
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<unknown>> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#wake();
    });
  }

  /** Stops early (a `break` out of `for await`): drops what is queued and closes the input. */
  async return(): Promise<IteratorResult<unknown>> {
    const closing = this.#finish();
    this.#wake();
    await closing;
    return { done: true, value: undefined };
  }

  settle(chunk: Chunk, result: ChunkResult): void {
    if (!this.#outstanding.delete(chunk.seq)) return;
    if (result.ms !== undefined) {
      const per = result.ms / chunk.count;
      this.#msPerItem = Number.isNaN(this.#msPerItem) ? per : this.#msPerItem * 0.7 + per * 0.3;
    }
    if (this.#setup.ordered) this.#ordered.set(chunk.seq, result);
    else this.#completed.push([chunk.seq, result]);
    this.#wake();
  }

  // Items per chunk on the wire: the caller's chunksize, or for chunksize 1
  // and a synchronous input, as many fast items as make COALESCE_MS of work.
  #wireSize(): number {
    const { chunksize } = this.#setup;
    if (chunksize !== 1 || this.#inputAsync || this.#sched.maxTasks > 0 || !(this.#msPerItem >= 0)) return chunksize;
    return Math.max(1, Math.min(MAX_COALESCE, Math.floor(COALESCE_MS / Math.max(this.#msPerItem, 1e-4))));
  }

  // Reads input and submits chunks while the window has room.
  async #pump(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    const { kind, fnId, windowItems } = this.#setup;
    try {
      while (!this.#inputDone && !this.#finished && this.#unconsumed < windowItems) {
        const items: unknown[] = [];
        let error: { error: unknown } | null = null;
        // The caller's chunks stay whole (as Python's); coalesced ones fill the window.
        const size = this.#setup.chunksize !== 1
          ? this.#setup.chunksize
          : Math.min(this.#wireSize(), Math.max(1, windowItems - this.#unconsumed));
        while (items.length < size) {
          let step: IteratorResult<unknown>;
          try {
            step = this.#inputAsync ? await this.#input.next() : this.#input.next() as IteratorResult<unknown>;
          } catch (e) {
            error = { error: e };
            break;
          }
          if (step.done) {
            this.#inputDone = true;
            break;
          }
          items.push(step.value);
        }
        if (this.#finished) return;
        let payload: unknown;
        try {
          payload = items.length > 0
            ? encodeItems(items, 0, items.length, this.#nextItem, kind as TaskKind, this.#sched.verifySends, this.#sched.method)
            : null;
        } catch (e) {
          error = { error: e };
          items.length = 0;
        }
        if (items.length > 0) {
          const chunk = this.#sched.chunk(this, fnId, kind, payload, this.#nextSeq++, this.#nextItem, items.length);
          this.#nextItem += items.length;
          this.#unconsumed += items.length;
          this.#counts.set(chunk.seq, items.length);
          this.#outstanding.set(chunk.seq, chunk);
          this.#sched.submit([chunk]);
        }
        if (error) {
          this.#inputDone = true;
          this.#inputError = { seq: this.#nextSeq, error: error.error };
        }
      }
    } finally {
      this.#reading = false;
      if (this.#inputDone) this.#closeJob();
      this.#wake();
    }
  }

  #jobClosed = false;
  #closeJob(): void {
    if (this.#jobClosed) return;
    this.#jobClosed = true;
    this.#sched.closeJob();
  }

  // Answers waiting next() calls with what is ready, in order.
  // Not re-entrant: #step may pump the input, whose end wakes us again.
  #waking = false;
  #wake(): void {
    if (this.#waking) return;
    this.#waking = true;
    try {
      while (this.#waiters.length > 0) {
        const step = this.#step();
        if (step === null) return;
        const waiter = this.#waiters.shift()!;
        if ("error" in step) waiter.reject(step.error);
        else waiter.resolve(step);
      }
    } finally {
      this.#waking = false;
    }
  }

  // The next value, the end, an error to throw, or null: nothing yet.
  #step(): IteratorResult<unknown> | { error: unknown } | null {
    for (;;) {
      if (this.#bufferAt < this.#buffer.length) {
        return { done: false, value: this.#buffer[this.#bufferAt++] };
      }
      if (this.#failure) {
        const failure = this.#failure;
        this.#failure = null;
        this.#finish();
        return failure;
      }
      if (this.#finished) return { done: true, value: undefined };
      const taken = this.#takeResult();
      if (taken === null) {
        if (this.#inputError && this.#atInputError()) {
          this.#failure = { error: this.#inputError.error };
          continue;
        }
        if (this.#inputDone && this.#unconsumed === 0 && !this.#reading) {
          this.#finish();
          return { done: true, value: undefined };
        }
        return null;
      }
      const [seq, result] = taken;
      this.#unconsumed -= this.#counts.get(seq) ?? 0;
      this.#counts.delete(seq);
      // Refill once half the window is free: many chunks submitted together
      // go out as one message per worker, not one message per chunk.
      if (this.#unconsumed <= this.#setup.windowItems / 2) void this.#pump();
      if (result.ok) {
        this.#buffer = result.value as ArrayLike<unknown>; // a Float64Array when packed
      } else {
        this.#buffer = result.partial;
        this.#failure = { error: result.error };
      }
      this.#bufferAt = 0;
    }
  }

  #takeResult(): [number, ChunkResult] | null {
    if (!this.#setup.ordered) return this.#completed.shift() ?? null;
    const seq = this.#nextYield;
    const result = this.#ordered.get(seq);
    if (result === undefined) return null;
    this.#ordered.delete(seq);
    this.#nextYield++;
    return [seq, result];
  }

  // Every chunk before the input error has been yielded.
  #atInputError(): boolean {
    return this.#setup.ordered ? this.#nextYield === this.#inputError!.seq : this.#unconsumed === 0;
  }

  #abort(reason: unknown): void {
    if (this.#finished) return;
    this.#buffer = [];
    this.#bufferAt = 0;
    this.#failure = { error: reason };
    this.#wake();
    this.#finish();
  }

  // Returns the input's closing, to await when the input is not mid-read (a
  // generator's return() waits behind a pending next(), which may never end).
  #finish(): Promise<unknown> | undefined {
    if (this.#finished) return;
    this.#finished = true;
    this.#forget();
    this.#sched.cancel(this.#outstanding.values());
    this.#outstanding.clear();
    this.#closeJob();
    if (!this.#inputDone) {
      this.#inputDone = true;
      try {
        const closing = this.#input.return?.();
        if (closing && typeof (closing as Promise<unknown>).then === "function") {
          const quiet = (closing as Promise<unknown>).then(undefined, () => {});
          if (!this.#reading) return quiet;
        }
      } catch {
        // an input that fails to close has nothing more to tell us
      }
    }
  }
}
