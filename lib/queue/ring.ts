// The storage behind every Queue and Pipe: a ring of byte frames in one
// growable SharedArrayBuffer, so that every thread of the owning process
// puts and gets directly, in place, under a short lock. Process children
// reach it through the owner (remote.ts, server.ts), which runs the same
// operations for them.
//
// Robust to a thread being killed at any instruction: frames are written
// into free space first and become visible only when the new indices are
// committed; the commit goes through a small journal (the new values, then
// a valid flag, then the values themselves), so a thread that takes over
// the lock of a dead holder finishes a half-applied commit or ignores an
// unwritten one. A killed producer never corrupts the ring; a killed
// consumer loses at most the frame it was taking.
import { isAlive, myToken } from "../shared/lives.ts";

// Header cells (Int32).
const LOCK = 0; // holder's token, or 0
/** The lock cell: async callers wait on it when the ring is busy. */
export const LOCK_CELL: number = LOCK;
const HEAD = 1; // offset of the first frame in the data area
const USED = 2; // bytes used by frames
const COUNT = 3; // frames
const UNFINISHED = 4; // frames put and not yet acknowledged (JoinableQueue)
const CLOSED = 5; // 1 once closed
const MAXSIZE = 6; // frames allowed at once; 0: no limit
const CAP = 7; // size of the data area in bytes
/** Bumped on every put and on close: what a waiting consumer waits on. */
export const SEQ_ITEMS = 8;
/** Bumped on every get and on close: what a waiting producer waits on. */
export const SEQ_SPACE = 9;
/** Bumped when the unfinished count reaches zero: what `join` waits on. */
export const SEQ_DONE = 10;
const JOURNAL = 11; // 1 while the journal below holds a commit being applied
const J_HEAD = 12;
const J_USED = 13;
const J_COUNT = 14;
const J_UNFINISHED = 15;
const J_CAP = 16;
const LOCK_WAITERS = 17;
/** Free cells for the users of a ring (a Pipe's open ends). */
export const USER_CELLS = 24;
const HEADER_BYTES = 32 * 4;

const INITIAL_CAP = 64 * 1024;
/** The most bytes a ring holds at once (frames and their 4-byte headers). */
export const MAX_CAP: number = 1024 * 1024 * 1024;

/** What a put or get found instead of doing its work. */
export type RingRefusal = "full" | "closed" | "empty" | "eof";

/** A ring as it crosses to another thread: the buffer is shared, not copied. */
export type RingState = SharedArrayBuffer;

// Atomics.waitAsync is ES2024; the compiler's lib here is older.
interface AtomicsWaitAsync {
  waitAsync(
    cells: Int32Array,
    index: number,
    value: number,
    ms: number,
  ): { async: false; value: string } | { async: true; value: Promise<string> };
}

/** A byte-frame FIFO in shared memory. */
export class Ring {
  readonly buffer: SharedArrayBuffer;
  readonly cells: Int32Array;
  #bytes: Uint8Array;

  constructor(from: { maxsize: number } | SharedArrayBuffer) {
    if (from instanceof SharedArrayBuffer) {
      this.buffer = from;
    } else {
      const options = { maxByteLength: HEADER_BYTES + MAX_CAP };
      this.buffer = new (SharedArrayBuffer as new (n: number, o: object) => SharedArrayBuffer)(
        HEADER_BYTES + INITIAL_CAP,
        options,
      );
    }
    this.cells = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.#bytes = new Uint8Array(this.buffer); // tracks the length as it grows
    if (!(from instanceof SharedArrayBuffer)) {
      this.cells[CAP] = INITIAL_CAP;
      this.cells[MAXSIZE] = from.maxsize;
    }
  }

  get maxsize(): number {
    return this.cells[MAXSIZE];
  }

  /** Frames in the ring (a snapshot). */
  count(): number {
    return Atomics.load(this.cells, COUNT);
  }

  /** Frames put and not yet acknowledged with `taskDone` (a snapshot). */
  unfinished(): number {
    return Atomics.load(this.cells, UNFINISHED);
  }

  isClosed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }

  /** The value of a sequence cell, to wait on with `waitSync`/`waitAsync`. */
  seq(cell: number): number {
    return Atomics.load(this.cells, cell);
  }

  /**
   * Appends a frame; a refusal leaves the ring as it was. "busy": the lock
   * stayed taken for `lockMs` (see #lock).
   */
  put(frame: Uint8Array, lockMs: number): "ok" | "full" | "closed" | "busy" {
    if (!this.#lock(lockMs)) return "busy";
    try {
      const c = this.cells;
      if (c[CLOSED]) return "closed";
      if (c[MAXSIZE] > 0 && c[COUNT] >= c[MAXSIZE]) return "full";
      const need = 4 + frame.length;
      let cap = c[CAP];
      if (c[USED] + need > cap) cap = this.#grow(need);
      const tail = (c[HEAD] + c[USED]) % cap;
      const len = new Uint8Array(4);
      new DataView(len.buffer).setUint32(0, frame.length, true);
      this.#write(tail, len, cap);
      this.#write((tail + 4) % cap, frame, cap);
      this.#commit(c[HEAD], c[USED] + need, c[COUNT] + 1, c[UNFINISHED] + 1, cap);
    } finally {
      this.#unlock();
    }
    this.#bump(SEQ_ITEMS);
    return "ok";
  }

  /** Takes the oldest frame. */
  get(lockMs: number): Uint8Array | "empty" | "eof" | "busy" {
    let frame: Uint8Array;
    if (!this.#lock(lockMs)) return "busy";
    try {
      const c = this.cells;
      if (c[COUNT] === 0) return c[CLOSED] ? "eof" : "empty";
      const cap = c[CAP];
      const lenBytes = new Uint8Array(4);
      this.#read(c[HEAD], lenBytes, cap);
      const len = new DataView(lenBytes.buffer).getUint32(0, true);
      frame = new Uint8Array(len);
      this.#read((c[HEAD] + 4) % cap, frame, cap);
      const used = c[USED] - 4 - len;
      this.#commit(used === 0 ? 0 : (c[HEAD] + 4 + len) % cap, used, c[COUNT] - 1, c[UNFINISHED], cap);
    } finally {
      this.#unlock();
    }
    this.#bump(SEQ_SPACE);
    return frame;
  }

  /** Closes the ring for everyone: puts are refused, gets drain then see "eof". */
  close(): void {
    if (Atomics.exchange(this.cells, CLOSED, 1) === 1) return;
    this.#bump(SEQ_ITEMS);
    this.#bump(SEQ_SPACE);
  }

  /** Acknowledges one frame; false when more were acknowledged than put. */
  taskDone(lockMs: number): boolean | "busy" {
    if (!this.#lock(lockMs)) return "busy";
    let zero = false;
    try {
      const c = this.cells;
      if (c[UNFINISHED] <= 0) return false;
      this.#commit(c[HEAD], c[USED], c[COUNT], c[UNFINISHED] - 1, c[CAP]);
      zero = c[UNFINISHED] === 0;
    } finally {
      this.#unlock();
    }
    if (zero) this.#bump(SEQ_DONE);
    return true;
  }

  /** Blocks this thread until `cell` moves from `seen` or `ms` pass. */
  waitSync(cell: number, seen: number, ms: number | undefined): void {
    Atomics.wait(this.cells, cell, seen, ms ?? Infinity);
  }

  /**
   * Resolves once `cell` moves from `seen`, `ms` pass or `signal` aborts;
   * keeps the event loop alive meanwhile.
   */
  waitAsync(cell: number, seen: number, ms: number | undefined, signal?: AbortSignal): Promise<void> {
    const r = (Atomics as unknown as AtomicsWaitAsync).waitAsync(this.cells, cell, seen, ms ?? Infinity);
    if (!r.async) return Promise.resolve();
    // Node and Deno do not count a pending waitAsync as work: without a
    // timer, a program waiting only on a queue would just end.
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(keep);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const keep = setTimeout(done, Math.min(ms ?? 2 ** 31 - 1, 2 ** 31 - 1));
      signal?.addEventListener("abort", done, { once: true });
      void r.value.then(done);
    });
  }

  #bump(cell: number): void {
    Atomics.add(this.cells, cell, 1);
    Atomics.notify(this.cells, cell);
  }

  #grow(need: number): number {
    const c = this.cells;
    const cap = c[CAP];
    let next = cap * 2;
    while (next < c[USED] + need) next *= 2;
    if (next > MAX_CAP) {
      throw new RangeError(
        `The queue cannot hold more than ${MAX_CAP / 2 ** 20} MiB at once: take items out, or set a maxsize`,
      );
    }
    if (this.buffer.byteLength < HEADER_BYTES + next) {
      (this.buffer as unknown as { grow(n: number): void }).grow(HEADER_BYTES + next);
    }
    // Frames that wrapped past the old end are copied after it, so that
    // they follow on in the bigger ring. The originals stay until the new
    // capacity is committed, so dying here changes nothing.
    const wrapped = c[HEAD] + c[USED] - cap;
    if (wrapped > 0) this.#bytes.copyWithin(HEADER_BYTES + cap, HEADER_BYTES, HEADER_BYTES + wrapped);
    return next;
  }

  #write(at: number, src: Uint8Array, cap: number): void {
    const first = Math.min(src.length, cap - at);
    this.#bytes.set(first === src.length ? src : src.subarray(0, first), HEADER_BYTES + at);
    if (first < src.length) this.#bytes.set(src.subarray(first), HEADER_BYTES);
  }

  #read(at: number, dst: Uint8Array, cap: number): void {
    const first = Math.min(dst.length, cap - at);
    dst.set(this.#bytes.subarray(HEADER_BYTES + at, HEADER_BYTES + at + first));
    if (first < dst.length) dst.set(this.#bytes.subarray(HEADER_BYTES, HEADER_BYTES + dst.length - first), first);
  }

  #commit(head: number, used: number, count: number, unfinished: number, cap: number): void {
    const c = this.cells;
    Atomics.store(c, J_HEAD, head);
    Atomics.store(c, J_USED, used);
    Atomics.store(c, J_COUNT, count);
    Atomics.store(c, J_UNFINISHED, unfinished);
    Atomics.store(c, J_CAP, cap);
    Atomics.store(c, JOURNAL, 1);
    this.#apply();
  }

  #apply(): void {
    const c = this.cells;
    Atomics.store(c, HEAD, c[J_HEAD]);
    Atomics.store(c, USED, c[J_USED]);
    Atomics.store(c, COUNT, c[J_COUNT]);
    Atomics.store(c, UNFINISHED, c[J_UNFINISHED]);
    Atomics.store(c, CAP, c[J_CAP]);
    Atomics.store(c, JOURNAL, 0);
  }

  /** The holder of the lock (0: free), to wait on with `waitAsync(LOCK_CELL, holder, ms)`. */
  lockHolder(): number {
    return Atomics.load(this.cells, LOCK);
  }

  // Takes the lock, waiting up to `ms` (after a short spin); false if it
  // could not. A lock is held for microseconds; a holder that is no longer
  // alive was a thread killed inside, and its lock is taken over (its
  // half-done commit, if any, finished from the journal). Its death is
  // known once its parent has seen it exit: so an async caller waits with
  // a small `ms` and lets the event loop turn in between.
  #lock(ms: number): boolean {
    const c = this.cells;
    const me = myToken();
    let until = -1;
    for (let spin = 0;; spin++) {
      const holder = Atomics.compareExchange(c, LOCK, 0, me);
      if (holder === 0) break;
      if (holder === me) throw new Error("multiproc: a queue's lock was re-entered (a bug in multiproc)");
      if (!isAlive(holder) && Atomics.compareExchange(c, LOCK, holder, me) === holder) break;
      if (spin < 64) continue;
      if (until < 0) until = performance.now() + ms;
      const rest = until - performance.now();
      if (rest <= 0) return false;
      Atomics.add(c, LOCK_WAITERS, 1);
      Atomics.wait(c, LOCK, holder, Math.min(rest, 20));
      Atomics.sub(c, LOCK_WAITERS, 1);
    }
    if (Atomics.load(c, JOURNAL) === 1) this.#apply();
    return true;
  }

  #unlock(): void {
    Atomics.store(this.cells, LOCK, 0);
    if (Atomics.load(this.cells, LOCK_WAITERS) > 0) Atomics.notify(this.cells, LOCK, 1);
  }
}
