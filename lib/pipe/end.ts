// One end of a pipe as a process that has the pipe's memory sees it (the
// owner, its threads, and on Deno and Bun its child processes, which map
// it): the holders' table of each end and the ring of each direction
// (lib/pipe.ts has the API). Also what the owner serves to child processes
// that reach an end through it.
import { type Frame, Ring, SEQ_ITEMS } from "../queue/ring.ts";
import { hasEnded, isMainThread, myToken } from "../shared/lives.ts";
import type { Served } from "../queue/server.ts";
import type { Destination } from "../transport/values.ts";
import { type LocalMemory, markShared } from "../shared/memory.ts";
import { getHost } from "../runtime/host.ts";
import { allocateMemory, attachMemory, endedFor, ownSegment, releaserOf, type SegmentRef, segmentRef } from "../shared/os_segments.ts";
// (a child process that maps a pipe asks its parent whether a holder ended: remote_memory.ts answers and asks)
import "../shared/remote_memory.ts";

const HOLDERS = 64; // copies of one end at most

/**
 * The two ends' holder tables and rings, as every copy of an end in one
 * thread sees them: in SharedArrayBuffers, or, where the runtime maps OS
 * shared memory, in windows of it that child processes map too, sending
 * and receiving in place. A pipe starts in SharedArrayBuffers (waits on
 * them are quicker between threads: ~10 against ~30 us a round trip on
 * Bun) and moves to OS shared memory when an end first crosses to a child
 * process, unless a thread has them by then (then child processes go
 * through this process, as on Node).
 */
export interface PipeMemory {
  /** Int32 cells: end 0's holder tokens, then end 1's. */
  holders: Int32Array;
  /** rings[k] carries messages to end k; one-way pipes have only rings[0]. */
  rings: [Ring, Ring | null];
  /** The holders' cells when they are OS shared memory (what names them when they cross), else null. */
  holdersMemory: LocalMemory | null;
  /** Whether the holder of a token of the owner's liveness table was seen to end (lives.ts hasEnded). */
  ended: (token: number) => boolean;
  /** Whether this is the owner's process (only the owner lists new holders). */
  own: boolean;
  /** Whether a thread other than this one has the memory. */
  shared: boolean;
}

/** How pipe memory crosses: its buffers (to a thread of the owner) or its windows of OS shared memory. */
export type PipeMemoryState =
  | { buffers: [SharedArrayBuffer, SharedArrayBuffer, SharedArrayBuffer | null] }
  | { segments: [SegmentRef, SegmentRef, SegmentRef | null] };

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
  const ring = () => new Ring({ maxsize: 0 });
  return {
    holders: new Int32Array(new SharedArrayBuffer(2 * HOLDERS * 4)),
    rings: [ring(), duplex ? ring() : null],
    holdersMemory: null,
    ended: hasEnded,
    own: true,
    shared: false,
  };
}

// A pipe in OS shared memory, once garbage in the thread that made it:
// given back when no holder is left (children map it, and they may still
// use it until they close their copy or end; this thread's copies are
// gone with it). Looked at again whenever another pipe moves.
interface Leftover {
  holders: Int32Array;
  mine: number;
  release: (() => void)[];
}
const leftovers = new Set<Leftover>();
const unused = new FinalizationRegistry<Leftover>((left) => {
  leftovers.add(left);
  sweepLeftovers();
});

function sweepLeftovers(): void {
  for (const left of leftovers) {
    if (left.holders.some((t) => t !== 0 && t !== left.mine && !hasEnded(t))) continue;
    leftovers.delete(left);
    for (const release of left.release) release();
  }
}

// Moves a pipe that no other thread has into OS shared memory, if this
// process has some: its holders and the messages waiting in its rings are
// copied, and this thread's waits on the old rings are woken (they look
// again, at the new ones). False if it stays where it is.
function moveToOsMemory(memory: PipeMemory): boolean {
  if (memory.shared || !memory.own || !getHost().osMemory()) return false;
  const holders = allocateMemory(2 * HOLDERS * 4);
  holders.cells.set(memory.holders);
  const old = memory.rings;
  const moved = old.map((ring) => {
    if (!ring) return null;
    const to = new Ring({ maxsize: 0, mapped: true });
    for (let frame = ring.get(0); frame instanceof Uint8Array; frame = ring.get(0)) to.put(frame, 0);
    return to;
  }) as [Ring, Ring | null];
  Object.assign(memory, { holders: holders.cells, rings: moved, holdersMemory: holders });
  for (const ring of old) ring?.wake();
  sweepLeftovers();
  const release = [holders, ...moved].map((owner) => owner && releaserOf(owner)).filter((r) => r !== null);
  unused.register(memory, { holders: holders.cells, mine: myToken(), release });
  return true;
}

/** What crosses for `memory` to `to`; null: a child process is served through this process (a RemoteRef). */
export function pipeMemoryState(memory: PipeMemory, to: Destination): PipeMemoryState | null {
  if (!memory.holdersMemory && to === "process") moveToOsMemory(memory);
  const [r0, r1] = memory.rings;
  if (memory.holdersMemory) {
    const ref = (owner: object) => segmentRef(owner)!;
    return { segments: [ref(memory.holdersMemory), ref(r0), r1 && ref(r1)] };
  }
  if (to !== "thread") return null;
  memory.shared = true;
  for (const ring of memory.rings) if (ring) markShared(ring.buffer);
  const buffer = (ring: Ring) => ring.buffer as SharedArrayBuffer;
  return { buffers: [memory.holders.buffer as SharedArrayBuffer, buffer(r0), r1 && buffer(r1)] };
}

/** Pipe memory that crossed to this thread or process. */
export function pipeMemoryFrom(state: PipeMemoryState): PipeMemory {
  if ("buffers" in state) {
    const [holders, r0, r1] = state.buffers;
    const rings: [Ring, Ring | null] = [new Ring(r0), r1 && new Ring(r1)];
    return { holders: new Int32Array(holders), rings, holdersMemory: null, ended: hasEnded, own: true, shared: true };
  }
  const [holders, r0, r1] = state.segments;
  const memory = attachMemory(holders);
  return {
    holders: memory.cells,
    rings: [new Ring(r0), r1 && new Ring(r1)],
    holdersMemory: memory,
    ended: endedFor(holders),
    own: ownSegment(memory),
    shared: true,
  };
}

/** One end of a pipe in the process that owns its memory: what the owner serves to its child processes. */
export class LocalEnd implements Served, EndBackend {
  readonly memory: PipeMemory;
  readonly end: 0 | 1;

  constructor(memory: PipeMemory, end: 0 | 1) {
    this.memory = memory;
    this.end = end;
  }

  // (read anew each time: the memory may move, moveToOsMemory)
  get #holders(): Int32Array {
    return this.memory.holders;
  }

  get #in(): Ring | null {
    return this.memory.rings[this.end];
  }

  get #out(): Ring | null {
    return this.memory.rings[1 - this.end];
  }

  get readable(): boolean {
    return this.#in !== null;
  }

  get writable(): boolean {
    return this.#out !== null;
  }

  /** Lists a new holder of this end (in the owner's process only: endCrossing checks); returns its entry. */
  hold(token: number): number {
    const base = this.end * HOLDERS;
    for (let i = 0; i < HOLDERS; i++) {
      const t = Atomics.load(this.#holders, base + i);
      if ((t === 0 || this.memory.ended(t)) && Atomics.compareExchange(this.#holders, base + i, t, token) === t) return i;
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
      if (t !== 0 && !this.memory.ended(t)) return true;
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
    if (!this.#in) throw new TypeError("This end of a one-way pipe only sends: recv on the other end");
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      const ring = this.#in!; // (anew: the pipe may have moved while this waited)
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
    if (!this.#in) throw new TypeError("This end of a one-way pipe only sends: poll the other end");
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      const ring = this.#in!; // (anew: the pipe may have moved while this waited)
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
