// The calls of a pool: how apply, map and imap turn their input into chunks,
// and chunk outcomes into their answer.
import { SerializationError } from "../errors.ts";
import { type Destination, encodeValue } from "../transport/values.ts";
import { packNumbers, type TaskKind } from "./protocol.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Chunk, ChunkOwner, ChunkResult } from "./worker.ts";

/**
 * Encodes input[from, to) as a chunk's payload: numbers packed, anything
 * else walked, and a value that cannot cross named by its position in the
 * input (`at` is the position of input[0]).
 */
export function encodeItems(
  input: unknown[],
  from: number,
  to: number,
  at: number,
  kind: TaskKind,
  verify: boolean,
  dest: Destination,
): unknown {
  if (kind === 1) {
    const packed = packNumbers(input, from, to);
    if (packed) return packed;
  }
  const items = from === 0 && to === input.length ? input : input.slice(from, to);
  try {
    return encodeValue(items, "iterable", verify, dest);
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    for (let i = 0; i < items.length; i++) encodeValue(items[i], `iterable[${at + from + i}]`, verify, dest);
    throw error;
  }
}

// Calls an abort listener once, and forgets it when the call is over.
function onAbort(signal: AbortSignal | undefined, abort: () => void): () => void {
  if (!signal) return () => {};
  signal.addEventListener("abort", abort, { once: true });
  return () => signal.removeEventListener("abort", abort);
}

/** apply / applyAsync: one chunk, one value. */
export class ApplyCall implements ChunkOwner {
  readonly promise: Promise<unknown>;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  #forget: () => void = () => {};

  constructor(sched: Scheduler, fnId: number, args: unknown[], signal?: AbortSignal) {
    this.promise = new Promise((resolve, reject) => ((this.#resolve = resolve), (this.#reject = reject)));
    if (signal?.aborted) {
      this.#reject(signal.reason);
      return;
    }
    const chunk = sched.chunk(this, fnId, 0, encodeValue(args, "args", sched.verifySends, sched.method), 0, 0, 1);
    this.#forget = onAbort(signal, () => {
      sched.cancel([chunk]);
      this.#reject(signal!.reason);
    });
    sched.submit([chunk]);
  }

  settle(_chunk: Chunk, result: ChunkResult): void {
    this.#forget();
    result.ok ? this.#resolve(result.value) : this.#reject(result.error);
  }
}

/**
 * map / starmap over a materialised input. Rejects with the error at the
 * lowest position, once every chunk before it has finished, so the error a
 * caller sees does not depend on timing; the rest of the call is dropped.
 */
export class MapCall implements ChunkOwner {
  readonly promise: Promise<unknown[]>;
  #resolve!: (value: unknown[]) => void;
  #reject!: (error: unknown) => void;
  #sched: Scheduler;
  #results: unknown[];
  #chunks: Chunk[] = [];
  #finished: boolean[] = [];
  #contiguous = 0;
  #remaining = 0;
  #failure: { seq: number; error: unknown } | null = null;
  #over = false;
  #forget: () => void = () => {};

  constructor(sched: Scheduler, fnId: number, kind: 1 | 2, items: unknown[], chunksize: number, signal?: AbortSignal) {
    this.promise = new Promise((resolve, reject) => ((this.#resolve = resolve), (this.#reject = reject)));
    this.#sched = sched;
    this.#results = new Array(items.length);
    if (signal?.aborted) {
      this.#end(signal.reason);
      return;
    }
    for (let start = 0, seq = 0; start < items.length; start += chunksize, seq++) {
      const end = Math.min(items.length, start + chunksize);
      const payload = encodeItems(items, start, end, 0, kind, sched.verifySends, sched.method);
      this.#chunks.push(sched.chunk(this, fnId, kind, payload, seq, start, end - start));
    }
    this.#remaining = this.#chunks.length;
    if (this.#remaining === 0) {
      this.#over = true;
      this.#resolve(this.#results);
      return;
    }
    this.#forget = onAbort(signal, () => this.#end(signal!.reason));
    sched.submit(this.#chunks);
  }

  settle(chunk: Chunk, result: ChunkResult): void {
    if (this.#over) return;
    if (result.ok) {
      const values = result.value as ArrayLike<unknown>; // a Float64Array when packed
      for (let i = 0; i < values.length; i++) this.#results[chunk.start + i] = values[i];
    } else if (!this.#failure || chunk.seq < this.#failure.seq) {
      this.#failure = { seq: chunk.seq, error: result.error };
    }
    this.#finished[chunk.seq] = true;
    while (this.#finished[this.#contiguous]) this.#contiguous++;
    this.#remaining--;
    if (this.#failure && this.#contiguous > this.#failure.seq) this.#end(this.#failure.error);
    else if (this.#remaining === 0) {
      this.#over = true;
      this.#forget();
      this.#resolve(this.#results);
    }
  }

  #end(error: unknown): void {
    this.#over = true;
    this.#forget();
    this.#sched.cancel(this.#chunks);
    this.#reject(error);
  }
}
