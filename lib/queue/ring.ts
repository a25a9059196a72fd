// The storage behind every Queue and Pipe: a ring of byte frames in one
// growable SharedArrayBuffer, so that every thread of the owning process
// puts and gets directly, in place, under a short lock. Process children
// reach it through the owner (remote.ts, server.ts), which runs the same
// operations for them. Where the runtime maps OS shared memory (Deno with
// --allow-ffi, Bun: lib/shared/os_segments.ts), a Queue's ring is a window
// of it instead (sparse, as big as a ring may grow), and child processes
// map it and put and get in place too. Such a window is mapped only as far
// as the ring has grown, by each process (after taking the lock, each maps
// as far as the capacity in the header says: #cover).
//
// Robust to a thread being killed at any instruction: frames are written
// into free space first and become visible only when the new indices are
// committed; the commit goes through a small journal (the new values, then
// a valid flag, then the values themselves), so a thread that takes over
// the lock of a dead holder finishes a half-applied commit or ignores an
// unwritten one. A killed producer never corrupts the ring; a killed
// consumer loses at most the frame it was taking.
import { type Identity, notifyCell, OWN_IDENTITY, waitCellAsync, waitCellSync } from "../shared/memory.ts";
import { allocateGrowing, attachGrowing, type GrowingWindow, type SegmentRef } from "../shared/os_segments.ts";

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
// How many wait on each cell that is waited on (18-20 for the sequence cells).
const waitersOf = (cell: number) => (cell === LOCK ? LOCK_WAITERS : cell + 10);
/** Free cells for the users of a ring (a Pipe's open ends). */
export const USER_CELLS = 24;
const HEADER_BYTES = 32 * 4;

const INITIAL_CAP = 64 * 1024;
/** The most bytes a ring holds at once (frames and their 4-byte headers). */
export const MAX_CAP: number = 1024 * 1024 * 1024;

/** What a put or get found instead of doing its work. */
export type RingRefusal = "full" | "closed" | "empty" | "eof";

/** A frame, whole or as a head and a body (written one after the other). */
export type Frame = Uint8Array | readonly [Uint8Array, Uint8Array];

/** A byte-frame FIFO in shared memory. */
export class Ring {
  /** A growable SharedArrayBuffer, or the mapping of a window of OS shared memory (then `mapped`). */
  buffer: ArrayBufferLike;
  readonly mapped: boolean;
  /** The header (any mapping of it: they are the same memory). */
  readonly cells: Int32Array;
  /** Who takes the ring's lock here, and how its dead holders are told. */
  readonly who: Identity;
  readonly #window: GrowingWindow | null = null;
  #bytes: Uint8Array;
  #view: DataView;

  /**
   * A new ring (in OS shared memory if `mapped` and this process has it),
   * the ring in a SharedArrayBuffer that crossed to this thread, or a
   * window of OS shared memory that crossed here.
   */
  constructor(from: { maxsize: number; mapped?: boolean } | SharedArrayBuffer | SegmentRef) {
    if ("path" in from) this.#window = attachGrowing(from, this, HEADER_BYTES + INITIAL_CAP);
    else if ("maxsize" in from && from.mapped) {
      this.#window = allocateGrowing(this, HEADER_BYTES + MAX_CAP, HEADER_BYTES + INITIAL_CAP);
    }
    const options = { maxByteLength: HEADER_BYTES + MAX_CAP };
    this.buffer = this.#window?.buffer ?? (from instanceof SharedArrayBuffer ? from : (
      new (SharedArrayBuffer as new (n: number, o: object) => SharedArrayBuffer)(HEADER_BYTES + INITIAL_CAP, options)
    ));
    this.mapped = this.#window !== null;
    this.who = this.#window?.who ?? OWN_IDENTITY;
    this.cells = new Int32Array(this.buffer, 0, HEADER_BYTES / 4);
    this.#bytes = new Uint8Array(this.buffer); // (a SharedArrayBuffer's tracks its length as it grows)
    this.#view = new DataView(this.buffer);
    if ("maxsize" in from) {
      this.cells[CAP] = INITIAL_CAP;
      this.cells[MAXSIZE] = from.maxsize;
    } else {
      this.#cover(Atomics.load(this.cells, CAP));
    }
  }

  // A mapped ring: maps as far as a capacity of `cap` needs (the lock held,
  // or before anyone can use it).
  #cover(cap: number): void {
    if (!this.#window || HEADER_BYTES + cap <= this.#bytes.length) return;
    this.buffer = this.#window.cover(HEADER_BYTES + cap);
    this.#bytes = new Uint8Array(this.buffer);
    this.#view = new DataView(this.buffer);
  }

  get maxsize(): number {
    return this.cells[MAXSIZE];
  }

  /** Frames in the ring (a snapshot). */
  count(): number {
    this.#settle();
    return Atomics.load(this.cells, COUNT);
  }

  /** Frames put and not yet acknowledged with `taskDone` (a snapshot). */
  unfinished(): number {
    this.#settle();
    return Atomics.load(this.cells, UNFINISHED);
  }

  // A commit left half-applied by a thread killed inside it: finish it
  // (taking the lock over, if its holder is gone) before reading counters.
  #settle(): void {
    if (Atomics.load(this.cells, JOURNAL) === 1 && this.#lock(0)) this.#unlock();
  }

  isClosed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }

  /** The value of a sequence cell, to wait on with `waitSync`/`waitAsync`. */
  seq(cell: number): number {
    return Atomics.load(this.cells, cell);
  }

  /**
   * Appends a frame (given whole, or as a head and a body, to save a copy);
   * a refusal leaves the ring as it was. "busy": the lock stayed taken for
   * `lockMs` (see #lock).
   */
  put(frame: Frame, lockMs: number): "ok" | "full" | "closed" | "busy" {
    const [head, body] = frame instanceof Uint8Array ? [frame, null] : frame;
    const size = head.length + (body?.length ?? 0);
    if (!this.#lock(lockMs)) return "busy";
    try {
      const c = this.cells;
      if (c[CLOSED]) return "closed";
      if (c[MAXSIZE] > 0 && c[COUNT] >= c[MAXSIZE]) return "full";
      const need = 4 + size;
      let cap = c[CAP];
      if (c[USED] + need > cap) cap = this.#grow(need);
      const tail = (c[HEAD] + c[USED]) % cap;
      this.#writeLength(tail, size, cap);
      this.#write((tail + 4) % cap, head, cap);
      if (body) this.#write((tail + 4 + head.length) % cap, body, cap);
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
      const head = c[HEAD];
      const len = this.#readLength(head, cap);
      const at = (head + 4) % cap;
      frame = at + len <= cap
        ? this.#bytes.slice(HEADER_BYTES + at, HEADER_BYTES + at + len)
        : this.#read(at, new Uint8Array(len), cap);
      const used = c[USED] - 4 - len;
      this.#commit(used === 0 ? 0 : (head + 4 + len) % cap, used, c[COUNT] - 1, c[UNFINISHED], cap);
    } finally {
      this.#unlock();
    }
    this.#bump(SEQ_SPACE);
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
    if (!this.#lock(lockMs)) return "busy";
    try {
      const c = this.cells;
      let cap = c[CAP];
      if (c[USED] + need > cap) cap = this.#grow(need);
      const head = (c[HEAD] - need + cap * 2) % cap;
      let at = head;
      for (const f of frames) {
        this.#writeLength(at, f.length, cap);
        this.#write((at + 4) % cap, f, cap);
        at = (at + 4 + f.length) % cap;
      }
      this.#commit(head, c[USED] + need, c[COUNT] + frames.length, c[UNFINISHED], cap);
    } finally {
      this.#unlock();
    }
    this.#bump(SEQ_ITEMS);
    return "ok";
  }

  /** Wakes whoever waits for items, to look again (a pipe's other end closed). */
  wake(): void {
    this.#bump(SEQ_ITEMS);
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
    // Waiters are counted, so that a put or get notifies only when someone waits.
    Atomics.add(this.cells, waitersOf(cell), 1);
    waitCellSync(this.cells, cell, seen, ms ?? Infinity);
    Atomics.sub(this.cells, waitersOf(cell), 1);
  }

  /**
   * Resolves once `cell` moves from `seen`, `ms` pass or `signal` aborts;
   * keeps the event loop alive meanwhile.
   */
  waitAsync(cell: number, seen: number, ms: number | undefined, signal?: AbortSignal): Promise<void> {
    Atomics.add(this.cells, waitersOf(cell), 1);
    return waitCellAsync(this.cells, cell, seen, ms, signal).then(() => void Atomics.sub(this.cells, waitersOf(cell), 1));
  }

  #bump(cell: number): void {
    Atomics.add(this.cells, cell, 1);
    // (notifyCell wakes waiters of this thread directly.)
    if (Atomics.load(this.cells, waitersOf(cell)) !== 0) notifyCell(this.cells, cell);
  }

  #writeLength(at: number, len: number, cap: number): void {
    if (at + 4 <= cap) return this.#view.setUint32(HEADER_BYTES + at, len, true);
    for (let i = 0; i < 4; i++) this.#bytes[HEADER_BYTES + ((at + i) % cap)] = (len >>> (8 * i)) & 0xff;
  }

  #readLength(at: number, cap: number): number {
    if (at + 4 <= cap) return this.#view.getUint32(HEADER_BYTES + at, true);
    let len = 0;
    for (let i = 0; i < 4; i++) len |= this.#bytes[HEADER_BYTES + ((at + i) % cap)] << (8 * i);
    return len >>> 0;
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
    if (this.#window) this.#cover(next);
    else if (this.buffer.byteLength < HEADER_BYTES + next) {
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

  #read(at: number, dst: Uint8Array, cap: number): Uint8Array {
    const first = Math.min(dst.length, cap - at);
    dst.set(this.#bytes.subarray(HEADER_BYTES + at, HEADER_BYTES + at + first));
    if (first < dst.length) dst.set(this.#bytes.subarray(HEADER_BYTES, HEADER_BYTES + dst.length - first), first);
    return dst;
  }

  #commit(head: number, used: number, count: number, unfinished: number, cap: number): void {
    // Plain stores, published by the atomic ones that follow (the journal
    // flag, then the lock's release): whoever takes the lock next sees them.
    const c = this.cells;
    c[J_HEAD] = head;
    c[J_USED] = used;
    c[J_COUNT] = count;
    c[J_UNFINISHED] = unfinished;
    c[J_CAP] = cap;
    Atomics.store(c, JOURNAL, 1);
    this.#apply();
  }

  #apply(): void {
    const c = this.cells;
    c[HEAD] = c[J_HEAD];
    c[USED] = c[J_USED];
    c[COUNT] = c[J_COUNT];
    c[UNFINISHED] = c[J_UNFINISHED];
    c[CAP] = c[J_CAP];
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
    const me = this.who.holder();
    let until = -1;
    for (let spin = 0;; spin++) {
      const holder = Atomics.compareExchange(c, LOCK, 0, me);
      if (holder === 0) break;
      if (holder === me) throw new Error("multiproc: a queue's lock was re-entered (a bug in multiproc)");
      if (spin >= 64 && this.who.dead(holder) && Atomics.compareExchange(c, LOCK, holder, me) === holder) break;
      if (spin < 64) continue;
      if (until < 0) until = performance.now() + ms;
      const rest = until - performance.now();
      if (rest <= 0) return false;
      Atomics.add(c, LOCK_WAITERS, 1);
      waitCellSync(c, LOCK, holder, Math.min(rest, 20));
      Atomics.sub(c, LOCK_WAITERS, 1);
    }
    if (Atomics.load(c, JOURNAL) === 1) this.#apply();
    this.#cover(c[CAP]);
    return true;
  }

  #unlock(): void {
    Atomics.store(this.cells, LOCK, 0);
    if (Atomics.load(this.cells, LOCK_WAITERS) > 0) notifyCell(this.cells, LOCK, 1);
  }
}
