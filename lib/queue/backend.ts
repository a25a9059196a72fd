// The operations a Queue or Pipe end needs, whoever performs them: the ring
// itself (local, in the process that owns it) or the owner on behalf of a
// child process (remote.ts). Timeouts are in ms; `undefined` waits forever
// and 0 does not wait.
import { type Frame, Ring, SEQ_DONE, SEQ_ITEMS, SEQ_SPACE } from "./ring.ts";
import { isMainThread } from "../shared/lives.ts";

/** A snapshot of a queue's counters. */
export interface QueueStat {
  count: number;
  unfinished: number;
  closed: boolean;
}

/** What the front-ends (Queue, Connection) call. */
export interface Backend {
  readonly maxsize: number;
  put(frame: Frame, ms: number | undefined, signal?: AbortSignal): Promise<"ok" | "full" | "closed">;
  putSync(frame: Frame, ms: number | undefined): "ok" | "full" | "closed";
  get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof">;
  getSync(ms: number | undefined): Uint8Array | "empty" | "eof";
  stat(): QueueStat;
  close(): void;
  taskDone(): boolean;
  join(ms: number | undefined, signal?: AbortSignal): Promise<boolean>;
  joinSync(ms: number | undefined): boolean;
  /** A put that does not wait, where one is cheap: "full" or "busy" when it would have to. */
  tryPut?(frame: Frame): "ok" | "full" | "closed" | "busy";
  /**
   * A get that does not wait, where one is cheap: "empty" or "busy" when it
   * would have to. `toScratch`: the frame may be scratch memory, good until
   * the next call (for a caller that decodes it at once).
   */
  tryGet?(toScratch?: boolean): Uint8Array | "empty" | "eof" | "busy";
}

function deadline(ms: number | undefined): number {
  return ms === undefined ? Infinity : performance.now() + ms;
}

function left(until: number): number | undefined {
  return until === Infinity ? undefined : until - performance.now();
}

// How long a blocking call waits for a ring's lock before giving up. A lock
// is held for microseconds; longer means its holder is a thread that was
// killed inside, which is known once its parent (often this very thread)
// has seen it exit, so the main thread must not wait for it forever.
function syncLockMs(): number {
  return isMainThread() ? 2000 : Infinity;
}

function busy(): Error {
  return new Error(
    "The queue's lock is held by a thread that stopped inside a queue operation (killed?); " +
      "it is taken over once that thread's exit is seen: retry after an await, or use the async methods",
  );
}

type Attempt<R> = (lockMs: number) => R | null | "busy";

/** The ring itself, in the process that owns it (any of its threads). */
export class LocalBackend implements Backend {
  readonly ring: Ring;

  constructor(ring: Ring) {
    this.ring = ring;
  }

  get maxsize(): number {
    return this.ring.maxsize;
  }

  // The one waiting loop: try, and if the answer is "wait", sleep until
  // the ring's sequence cell moves (or time runs out) and try again. The
  // cell is read before trying, so a change in between is never missed.
  // A busy lock is waited for the same way, 20 ms at a time, so that the
  // event loop turns (and can learn that a holder died).
  async #until<R, T>(cell: number, attempt: Attempt<R>, ms: number | undefined, timedOut: T, signal?: AbortSignal): Promise<R | T> {
    const until = deadline(ms);
    for (;;) {
      const seen = this.ring.seq(cell);
      const r = attempt(0);
      if (r === "busy") {
        await this.ring.waitBusy(20, signal);
        if (signal?.aborted) return timedOut;
        continue;
      }
      if (r !== null) return r;
      const rest = left(until);
      if ((rest !== undefined && rest <= 0) || signal?.aborted) return timedOut;
      if (cell !== SEQ_DONE && this.ring.spin(cell, seen)) continue;
      await this.ring.waitAsync(cell, seen, rest, signal);
    }
  }

  #untilSync<R, T>(cell: number, attempt: Attempt<R>, ms: number | undefined, timedOut: T): R | T {
    const until = deadline(ms);
    for (;;) {
      const seen = this.ring.seq(cell);
      const r = attempt(syncLockMs());
      if (r === "busy") throw busy();
      if (r !== null) return r;
      const rest = left(until);
      if (rest !== undefined && rest <= 0) return timedOut;
      if (cell !== SEQ_DONE && this.ring.spin(cell, seen)) continue;
      this.ring.waitSync(cell, seen, rest);
    }
  }

  #tryPut(frame: Frame): Attempt<"ok" | "closed"> {
    return (lockMs) => {
      const r = this.ring.put(frame, lockMs);
      return r === "full" ? null : r;
    };
  }

  #tryGet: Attempt<Uint8Array | "eof"> = (lockMs) => {
    const r = this.ring.get(lockMs);
    return r === "empty" ? null : r;
  };

  #isDone: Attempt<true> = () => (this.ring.unfinished() === 0 ? true : null);

  put(frame: Frame, ms: number | undefined, signal?: AbortSignal): Promise<"ok" | "full" | "closed"> {
    const r = this.ring.put(frame, 0);
    if (r !== "busy" && (r !== "full" || ms === 0)) return Promise.resolve(r);
    return this.#until(SEQ_SPACE, this.#tryPut(frame), ms, "full" as const, signal);
  }

  tryPut(frame: Frame): "ok" | "full" | "closed" | "busy" {
    return this.ring.put(frame, 0);
  }

  tryGet(toScratch = false): Uint8Array | "empty" | "eof" | "busy" {
    return this.ring.get(0, toScratch);
  }

  unget(frames: Uint8Array[]): "ok" | "busy" {
    return this.ring.unget(frames, 0);
  }

  putSync(frame: Frame, ms: number | undefined): "ok" | "full" | "closed" {
    return this.#untilSync(SEQ_SPACE, this.#tryPut(frame), ms, "full" as const);
  }

  get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    const r = this.ring.get(0);
    if (r !== "busy" && (r !== "empty" || ms === 0)) return Promise.resolve(r);
    return this.#until(SEQ_ITEMS, this.#tryGet, ms, "empty" as const, signal);
  }

  getSync(ms: number | undefined): Uint8Array | "empty" | "eof" {
    return this.#untilSync(SEQ_ITEMS, this.#tryGet, ms, "empty" as const);
  }

  stat(): QueueStat {
    return { count: this.ring.count(), unfinished: this.ring.unfinished(), closed: this.ring.isClosed() };
  }

  close(): void {
    this.ring.close();
  }

  taskDone(): boolean {
    return this.ring.taskDone();
  }

  join(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    return this.#until(SEQ_DONE, this.#isDone, ms, false, signal);
  }

  joinSync(ms: number | undefined): boolean {
    return this.#untilSync(SEQ_DONE, this.#isDone, ms, false);
  }
}
