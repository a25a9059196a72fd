// The storage behind every Queue and Pipe: a ring of byte frames in one
// growable SharedArrayBuffer, so that every thread of the owning process
// puts and gets directly, in place. Process children reach it through the
// owner (remote.ts, server.ts), which runs the same operations for them.
// Where the runtime maps OS shared memory (Deno with --allow-ffi, Bun:
// lib/shared/os_segments.ts), a Queue's ring is a window of it instead
// (sparse, as big as a ring may grow), and child processes map it and put
// and get in place too. Such a window is mapped only as far as the ring has
// grown, by each process (after taking a lock, each maps as far as the
// capacity in the header says: #cover).
//
// Two locks, as in a two-lock queue: producers take the put lock and own
// the tail, consumers take the get lock and own the head, so a producer and
// a consumer never wait for each other. Each side's cells sit in a cache
// line of their own, and each side keeps the last value it read of the
// other side's counter, reading the real one only when that says "full" or
// "empty": a thread putting and a thread getting at once mostly touch only
// their own memory and the frames. Growing the ring takes both locks
// (producer's first, always).
//
// Robust to a thread being killed at any instruction: frames are written
// into free space first and become visible only when the new counters are
// committed; a commit goes through a small journal of its side (the new
// values, then a valid flag, then the values themselves), so a thread that
// takes over the lock of a dead holder finishes a half-applied commit or
// ignores an unwritten one. A frame is copied out before the get commits.
// A killed producer never corrupts the ring; a killed consumer loses nothing.
import { isSolo, markSolo, OWN_IDENTITY } from "../shared/memory.ts";
import { allocateGrowing, attachGrowing, type GrowingWindow, type SegmentRef } from "../shared/os_segments.ts";
import {
  CAP,
  CLOSED,
  GET_LOCK,
  GETS,
  GOT_BYTES,
  HEAD,
  HEADER_BYTES,
  INITIAL_CAP,
  MAX_CAP,
  MAXSIZE,
  P_CAP,
  PUT_BYTES,
  PUT_LOCK,
  PUTS,
  RingCells,
  SEEN_GETS,
  SEEN_GOT_BYTES,
  SEEN_PUT_BYTES,
  SEQ_ITEMS,
  SEQ_SPACE,
  TAIL,
} from "./ring_header.ts";
import { Scratch } from "./scratch.ts";

export { MAX_CAP, SEQ_DONE, SEQ_ITEMS, SEQ_SPACE } from "./ring_header.ts";

/** What a put or get found instead of doing its work. */
export type RingRefusal = "full" | "closed" | "empty" | "eof";

/** A frame, whole or as a head and a body (written one after the other). */
export type Frame = Uint8Array | readonly [Uint8Array, Uint8Array];

// A get that finds less than this many bytes put since its last look, this
// soon after the last that found some, is at the producer's heels, and
// its next look waits this long first (#keepBack).
const HEELS_BYTES = 64;
const HEELS_GAP_MS = 0.002;
const HEELS_PAUSE_MS = 0.001;

// A thread's scratch for frames that are decoded at once (`get(ms, true)`).
const scratch = new Scratch();

/** A byte-frame FIFO in shared memory. */
export class Ring extends RingCells {
  /** A growable SharedArrayBuffer, or the mapping of a window of OS shared memory (then `mapped`). */
  buffer: ArrayBufferLike;
  readonly mapped: boolean;
  readonly #window: GrowingWindow | null = null;
  // A view of fixed length (V8 reads a length-tracking view several times
  // slower), made anew when the ring has grown.
  #bytes: Uint8Array;

  /**
   * A new ring (in OS shared memory if `mapped` and this process has it),
   * the ring in a SharedArrayBuffer that crossed to this thread, or a
   * window of OS shared memory that crossed here.
   */
  constructor(from: { maxsize: number; mapped?: boolean } | SharedArrayBuffer | SegmentRef) {
    super();
    if ("path" in from) this.#window = attachGrowing(from, this, HEADER_BYTES + INITIAL_CAP);
    else if ("maxsize" in from && from.mapped) {
      this.#window = allocateGrowing(this, HEADER_BYTES + MAX_CAP, HEADER_BYTES + INITIAL_CAP);
    }
    const options = { maxByteLength: HEADER_BYTES + MAX_CAP };
    this.buffer = this.#window?.buffer ?? (from instanceof SharedArrayBuffer ? from : (
      new (SharedArrayBuffer as new (n: number, o: object) => SharedArrayBuffer)(HEADER_BYTES + INITIAL_CAP, options)
    ));
    this.mapped = this.#window !== null;
    // (made here: no other thread has it until it crosses to one, queue.ts and pipe.ts)
    if ("maxsize" in from && !this.mapped) markSolo(this.buffer as SharedArrayBuffer);
    this.who = this.#window?.who ?? OWN_IDENTITY;
    this.cells = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.#bytes = new Uint8Array(this.buffer, 0, this.buffer.byteLength);
    if ("maxsize" in from) {
      this.cells[CAP] = this.cells[P_CAP] = INITIAL_CAP;
      this.cells[MAXSIZE] = from.maxsize;
    } else {
      this.covered(Atomics.load(this.cells, CAP));
    }
  }

  // Views (and, for a mapped ring, mappings) as far as a capacity of `cap`
  // needs (a lock held, or before anyone can use the ring).
  protected override covered(cap: number): void {
    if (HEADER_BYTES + cap <= this.#bytes.length) return;
    this.buffer = this.#window ? this.#window.cover(HEADER_BYTES + cap) : this.buffer;
    this.#bytes = new Uint8Array(this.buffer, 0, this.buffer.byteLength);
  }

  /**
   * Appends a frame (given whole, or as a head and a body, to save a copy);
   * a refusal leaves the ring as it was. "busy": a lock stayed taken for
   * `lockMs` (see lockSide; `waitBusy` waits for it).
   */
  put(frame: Frame, lockMs: number): "ok" | "full" | "closed" | "busy" {
    const r = this.#put(frame, lockMs);
    if (r !== "full") return r;
    // Full, because a consumer is inside its commit (or was killed there)?
    // Wait for it (or finish it) and look again.
    const settled = this.settleSide(GET_LOCK, lockMs);
    return settled === true ? this.#put(frame, lockMs) : settled === "busy" ? "busy" : r;
  }

  #put(frame: Frame, lockMs: number): "ok" | "full" | "closed" | "busy" {
    const whole = frame instanceof Uint8Array;
    const head = whole ? frame : frame[0];
    const body = whole ? null : frame[1];
    const size = head.length + (body === null ? 0 : body.length);
    if (!this.lockSide(PUT_LOCK, lockMs)) return "busy";
    let both = false;
    try {
      const c = this.cells;
      if (Atomics.load(c, CLOSED) === 1) return "closed";
      const max = c[MAXSIZE];
      if (max > 0 && ((c[PUTS] - c[SEEN_GETS]) | 0) >= max) {
        c[SEEN_GETS] = Atomics.load(c, GETS);
        if (((c[PUTS] - c[SEEN_GETS]) | 0) >= max) return "full";
      }
      const need = 4 + size;
      let cap = c[P_CAP];
      let tail = c[TAIL];
      if (((c[PUT_BYTES] - c[SEEN_GOT_BYTES]) | 0) + need > cap) {
        c[SEEN_GOT_BYTES] = Atomics.load(c, GOT_BYTES);
        const used = (c[PUT_BYTES] - c[SEEN_GOT_BYTES]) | 0;
        if (used + need > cap) {
          if (!this.lockSide(GET_LOCK, lockMs)) return "busy";
          both = true;
          [cap, tail] = this.#grow(need);
        }
      }
      // (a capacity is a power of two: `& (cap - 1)` is `% cap`, without a division)
      const mask = cap - 1;
      this.#writeLength(tail, size, mask);
      this.#write((tail + 4) & mask, head, cap);
      if (body !== null) this.#write((tail + 4 + head.length) & mask, body, cap);
      this.commitPut((tail + need) & mask, c[PUT_BYTES] + need, c[PUTS] + 1, cap);
    } finally {
      if (both) this.unlockSide(GET_LOCK);
      this.unlockSide(PUT_LOCK);
    }
    this.bump(SEQ_ITEMS);
    return "ok";
  }

  /**
   * Takes the oldest frame. With `scratch`, the frame is a view of this
   * thread's scratch memory, good only until the next such call: for a
   * caller that decodes it at once (a fresh array costs microseconds on
   * some runtimes).
   */
  get(lockMs: number, toScratch = false): Uint8Array | "empty" | "eof" | "busy" {
    if (this.#atHeels) this.#keepBack();
    const r = this.#get(lockMs, toScratch);
    if (r !== "empty") return r;
    // Empty, because a producer is inside its commit (or was killed there)?
    const settled = this.settleSide(PUT_LOCK, lockMs);
    return settled === true ? this.#get(lockMs, toScratch) : settled === "busy" ? "busy" : r;
  }

  // A consumer at a producer's heels: its last two looks at what was put
  // found a little each (less than HEELS_BYTES), within HEELS_GAP_MS of
  // each other (a stream it keeps up with, not messages one at a time).
  // Each such look takes the cache line the producer writes with every
  // put, and hands it back on the next put: items then cost both threads
  // a trip between cores each (two threads here, one put and one get a
  // time: 35-57k looks per 100k items, and 1.9-2.4M items/s against 6-7M
  // in runs where the consumer stayed behind). So before its next look it
  // pauses a little, touching no shared memory, and the producer puts
  // several items meanwhile (3.1-4.2M on Bun then, 6.3-6.9M on Node).
  #atHeels = false;
  #foundAt = -Infinity;

  #keepBack(): void {
    const c = this.cells;
    // (only when the next get has to look: what it saw last is all taken;
    // and only if another thread can put meanwhile)
    if (((c[SEEN_PUT_BYTES] - c[GOT_BYTES]) | 0) !== 0 || isSolo(this.buffer)) return;
    const resume = performance.now() + HEELS_PAUSE_MS;
    while (performance.now() < resume);
  }

  #get(lockMs: number, toScratch: boolean): Uint8Array | "empty" | "eof" | "busy" {
    let frame: Uint8Array;
    if (!this.lockSide(GET_LOCK, lockMs)) return "busy";
    try {
      const c = this.cells;
      const got = c[GOT_BYTES];
      if (((c[SEEN_PUT_BYTES] - got) | 0) === 0) {
        // Closed is read first: every put made before the close shows then.
        const closed = Atomics.load(c, CLOSED) === 1;
        c[SEEN_PUT_BYTES] = Atomics.load(c, PUT_BYTES);
        const fresh = (c[SEEN_PUT_BYTES] - got) | 0;
        if (fresh === 0) {
          this.#atHeels = false; // (caught up: whoever waits next watches, or sleeps)
          return closed ? "eof" : "empty";
        }
        if (fresh < HEELS_BYTES) {
          const now = performance.now();
          this.#atHeels = now - this.#foundAt < HEELS_GAP_MS;
          this.#foundAt = now;
        } else {
          this.#atHeels = false;
        }
      }
      const cap = c[CAP];
      const mask = cap - 1;
      const head = c[HEAD];
      const len = this.#readLength(head, mask);
      const at = (head + 4) & mask;
      if (toScratch) {
        frame = this.#read(at, scratch.view(len), cap);
      } else {
        frame = at + len <= cap
          ? this.#bytes.slice(HEADER_BYTES + at, HEADER_BYTES + at + len)
          : this.#read(at, new Uint8Array(len), cap);
      }
      this.commitGet((head + 4 + len) & mask, got + 4 + len, c[GETS] + 1);
    } finally {
      this.unlockSide(GET_LOCK);
    }
    this.bump(SEQ_SPACE);
    return frame;
  }

  /**
   * Puts frames back in front, in order, as they were before they were
   * taken (frames handed to a child process that ended, or gave them back
   * unread). They count as unfinished still: they never stopped being.
   */
  unget(frames: Uint8Array[], lockMs: number): "ok" | "busy" {
    if (frames.length === 0) return "ok";
    const need = frames.reduce((n, f) => n + 4 + f.length, 0);
    if (!this.lockSide(PUT_LOCK, lockMs)) return "busy";
    try {
      if (!this.lockSide(GET_LOCK, lockMs)) return "busy";
      try {
        const c = this.cells;
        let cap = c[P_CAP];
        if (((c[PUT_BYTES] - c[GOT_BYTES]) | 0) + need > cap) {
          const [grown, tail] = this.#grow(need);
          // (a grow with nothing put: the put side's commit carries the new capacity)
          this.commitPut(tail, c[PUT_BYTES], c[PUTS], cap = grown);
        }
        // The put side's copies of the get side's counters go down first:
        // lower than the truth is safe (they are read again), higher is not.
        c[SEEN_GOT_BYTES] = (c[GOT_BYTES] - need) | 0;
        c[SEEN_GETS] = (c[GETS] - frames.length) | 0;
        const mask = cap - 1;
        const head = (c[HEAD] - need) & mask;
        let at = head;
        for (const f of frames) {
          this.#writeLength(at, f.length, mask);
          this.#write((at + 4) & mask, f, cap);
          at = (at + 4 + f.length) & mask;
        }
        this.commitGet(head, c[GOT_BYTES] - need, c[GETS] - frames.length);
      } finally {
        this.unlockSide(GET_LOCK);
      }
    } finally {
      this.unlockSide(PUT_LOCK);
    }
    this.bump(SEQ_ITEMS);
    return "ok";
  }

  // A frame's length, little-endian, at `at` (it may wrap: `mask` is the capacity less one).
  #writeLength(at: number, len: number, mask: number): void {
    const b = this.#bytes;
    b[HEADER_BYTES + at] = len & 0xff;
    b[HEADER_BYTES + ((at + 1) & mask)] = (len >>> 8) & 0xff;
    b[HEADER_BYTES + ((at + 2) & mask)] = (len >>> 16) & 0xff;
    b[HEADER_BYTES + ((at + 3) & mask)] = len >>> 24;
  }

  #readLength(at: number, mask: number): number {
    const b = this.#bytes;
    return (b[HEADER_BYTES + at] | (b[HEADER_BYTES + ((at + 1) & mask)] << 8) | (b[HEADER_BYTES + ((at + 2) & mask)] << 16) |
      (b[HEADER_BYTES + ((at + 3) & mask)] << 24)) >>> 0;
  }

  // Makes room for `need` more bytes, both locks held: a capacity that
  // holds them, and the tail in it. Not committed here: the put side's
  // commit that follows carries both.
  #grow(need: number): [number, number] {
    const c = this.cells;
    const cap = c[P_CAP];
    const used = (c[PUT_BYTES] - c[GOT_BYTES]) | 0;
    let next = cap * 2;
    while (next < used + need) next *= 2;
    if (next > MAX_CAP) {
      throw new RangeError(
        `The queue cannot hold more than ${MAX_CAP / 2 ** 20} MiB at once: take items out, or set a maxsize`,
      );
    }
    if (!this.#window && this.buffer.byteLength < HEADER_BYTES + next) {
      (this.buffer as unknown as { grow(n: number): void }).grow(HEADER_BYTES + next);
    }
    this.covered(next);
    // Frames that wrapped past the old end are copied after it, so that
    // they follow on in the bigger ring. The originals stay until the new
    // capacity is committed, so dying here changes nothing.
    const head = c[HEAD];
    const wrapped = head + used - cap;
    if (wrapped > 0) this.#bytes.copyWithin(HEADER_BYTES + cap, HEADER_BYTES, HEADER_BYTES + wrapped);
    return [next, head + used];
  }

  #write(at: number, src: Uint8Array, cap: number): void {
    const first = Math.min(src.length, cap - at);
    if (first === src.length && src.length <= 16) {
      const b = this.#bytes;
      for (let i = 0, to = HEADER_BYTES + at; i < first; i++) b[to + i] = src[i];
      return;
    }
    this.#bytes.set(first === src.length ? src : src.subarray(0, first), HEADER_BYTES + at);
    if (first < src.length) this.#bytes.set(src.subarray(first), HEADER_BYTES);
  }

  #read(at: number, dst: Uint8Array, cap: number): Uint8Array {
    const first = Math.min(dst.length, cap - at);
    const b = this.#bytes;
    if (first === dst.length && first <= 16) {
      for (let i = 0, from = HEADER_BYTES + at; i < first; i++) dst[i] = b[from + i];
      return dst;
    }
    dst.set(b.subarray(HEADER_BYTES + at, HEADER_BYTES + at + first));
    if (first < dst.length) dst.set(b.subarray(HEADER_BYTES, HEADER_BYTES + dst.length - first), first);
    return dst;
  }

}
