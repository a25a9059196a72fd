// One end of a pipe as the process that owns the pipe's memory sees it:
// the holders' table of each end and the ring of each direction (lib/pipe.ts
// has the API). Also what the owner serves to child processes holding an end.
import { type Frame, Ring, SEQ_ITEMS } from "../queue/ring.ts";
import { hasEnded, isMainThread } from "../shared/lives.ts";
import type { Served } from "../queue/server.ts";

const HOLDERS = 64; // copies of one end at most

/** The two ends' holder tables and rings, as every copy of an end sees them. */
export interface PipeMemory {
  /** Int32 cells: end 0's holder tokens, then end 1's. */
  holders: SharedArrayBuffer;
  /** ring[k] carries messages to end k; one-way pipes have only ring[0]. */
  rings: [SharedArrayBuffer, SharedArrayBuffer | null];
}

/** How a copy of an end reaches its ring: directly, or through the owner. */
export interface EndBackend {
  readonly readable: boolean;
  readonly writable: boolean;
  send(frame: Frame): "ok" | "closed";
  recv(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof">;
  recvSync(ms: number | undefined): Uint8Array | "empty" | "eof";
  poll(ms: number | undefined, signal?: AbortSignal): Promise<boolean>;
  /** Closes this copy (entry: its line in the holders' table). */
  release(entry: number): void;
}

const RECHECK_MS = 100;

/** New memory for a pipe: its holders' tables, a ring per direction (one if not duplex). */
export function pipeMemory(duplex: boolean): PipeMemory {
  return {
    holders: new SharedArrayBuffer(2 * HOLDERS * 4),
    // (SharedArrayBuffers: a pipe's rings are never mapped OS memory)
    rings: [new Ring({ maxsize: 0 }).buffer as SharedArrayBuffer, duplex ? new Ring({ maxsize: 0 }).buffer as SharedArrayBuffer : null],
  };
}

/** One end of a pipe in the process that owns its memory: what the owner serves to its child processes. */
export class LocalEnd implements Served, EndBackend {
  readonly memory: PipeMemory;
  readonly end: 0 | 1;
  readonly #holders: Int32Array;
  readonly #in: Ring | null;
  readonly #out: Ring | null;

  constructor(memory: PipeMemory, end: 0 | 1) {
    this.memory = memory;
    this.end = end;
    this.#holders = new Int32Array(memory.holders);
    const [r0, r1] = memory.rings;
    this.#in = end === 0 ? new Ring(r0) : r1 && new Ring(r1);
    this.#out = end === 0 ? r1 && new Ring(r1) : new Ring(r0);
  }

  get readable(): boolean {
    return this.#in !== null;
  }

  get writable(): boolean {
    return this.#out !== null;
  }

  /** Lists a new holder of this end; returns its entry. */
  hold(token: number): number {
    const base = this.end * HOLDERS;
    for (let i = 0; i < HOLDERS; i++) {
      const t = Atomics.load(this.#holders, base + i);
      if ((t === 0 || hasEnded(t)) && Atomics.compareExchange(this.#holders, base + i, t, token) === t) return i;
    }
    throw new Error(`A pipe end cannot have more than ${HOLDERS} copies open at once: close() the ones you are done with`);
  }

  /** Takes a holder off the list; wakes the other end's readers. */
  release(entry: number): void {
    Atomics.store(this.#holders, this.end * HOLDERS + entry, 0);
    // The other end's recv may be waiting for EOF.
    this.#out?.wake();
  }

  /** Whether any copy of the other end is still open. */
  otherOpen(): boolean {
    const base = (1 - this.end) * HOLDERS;
    for (let i = 0; i < HOLDERS; i++) {
      const t = Atomics.load(this.#holders, base + i);
      if (t !== 0 && !hasEnded(t)) return true;
    }
    return false;
  }

  send(frame: Frame): "ok" | "closed" {
    if (!this.#out) throw new TypeError("This end of a one-way pipe only receives: send from the other end");
    if (!this.otherOpen()) return "closed";
    for (;;) {
      const r = this.#out.put(frame, isMainThread() ? 2000 : Infinity);
      if (r === "busy") throw new Error("The pipe's lock is held by a thread that stopped inside a send (killed?)");
      return r === "ok" ? "ok" : "closed";
    }
  }

  // The other end's last holder may go away without a word (its thread or
  // process ended): so a waiting recv looks again every RECHECK_MS.
  async recv(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    const ring = this.#in;
    if (!ring) throw new TypeError("This end of a one-way pipe only sends: recv on the other end");
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      const seen = ring.seq(SEQ_ITEMS);
      const r = ring.get(0);
      if (r instanceof Uint8Array) return r;
      if (r === "empty" && !this.otherOpen() && ring.count() === 0) return "eof";
      if (r === "busy") {
        await ring.waitBusy(20, signal);
        continue;
      }
      const rest = until - performance.now();
      if (rest <= 0 || signal?.aborted) return "empty";
      // (the other end may be about to answer: watched a few µs before sleeping)
      if (ring.spin(SEQ_ITEMS, seen)) continue;
      await ring.waitAsync(SEQ_ITEMS, seen, Math.min(rest, RECHECK_MS), signal);
    }
  }

  recvSync(ms: number | undefined): Uint8Array | "empty" | "eof" {
    const ring = this.#in;
    if (!ring) throw new TypeError("This end of a one-way pipe only sends: recv on the other end");
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      const seen = ring.seq(SEQ_ITEMS);
      const r = ring.get(isMainThread() ? 2000 : Infinity);
      if (r === "busy") throw new Error("The pipe's lock is held by a thread that stopped inside a recv (killed?)");
      if (r instanceof Uint8Array) return r;
      if (!this.otherOpen() && ring.count() === 0) return "eof";
      const rest = until - performance.now();
      if (rest <= 0) return "empty";
      if (ring.spin(SEQ_ITEMS, seen)) continue;
      ring.waitSync(SEQ_ITEMS, seen, Math.min(rest, RECHECK_MS));
    }
  }

  /** True once recv would not wait: a message is there, or end of file. */
  async poll(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    const ring = this.#in;
    if (!ring) throw new TypeError("This end of a one-way pipe only sends: poll the other end");
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      const seen = ring.seq(SEQ_ITEMS);
      if (ring.count() > 0 || !this.otherOpen()) return true;
      const rest = until - performance.now();
      if (rest <= 0 || signal?.aborted) return false;
      if (ring.spin(SEQ_ITEMS, seen)) continue;
      await ring.waitAsync(SEQ_ITEMS, seen, Math.min(rest, RECHECK_MS), signal);
    }
  }

  // Served, for child processes: the same operations by the request line's names.
  tryPut(frame: Frame): "ok" | "closed" {
    return this.send(frame);
  }

  put(frame: Frame): Promise<"ok" | "closed"> {
    return Promise.resolve(this.send(frame));
  }

  get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    return this.recv(ms, signal);
  }

  join(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    return this.poll(ms, signal);
  }

  close(payload?: Uint8Array): void {
    if (payload && payload.length >= 4) this.release(new DataView(payload.buffer, payload.byteOffset).getUint32(0, true));
  }

  stat(): { count: number; unfinished: number; closed: boolean } {
    return { count: this.#in?.count() ?? 0, unfinished: 0, closed: !this.otherOpen() };
  }

  taskDone(): boolean {
    return false;
  }
}
