// The header of a queue's ring (ring.ts has the frames): its cells, two
// locks (put side, get side) that survive a holder killed inside (the
// journal of each side), and the sequence cells that waiters sleep on.
//
// Header cells (Int32), in groups 128 bytes apart (32 cells): a thread on
// one side writes its own group and one group that the other side reads,
// so a thread putting and a thread getting at once seldom touch the same
// cache line. (128, not 64: x86 prefetches lines in 128-byte pairs, and a
// buffer's start need not sit on a line's; crossbeam pads alike.)
import { type Identity, isSolo, notifyCell, waitCellAsync, waitCellSync } from "../shared/memory.ts";

// Group 0: written rarely (close, grow).
export const CLOSED = 0; // 1 once closed
export const MAXSIZE = 1; // frames allowed at once; 0: no limit
export const CAP = 2; // size of the data area in bytes (a copy of the put side's, for readers)
// Group 1: the put side's own (its lock held to write them).
export const PUT_LOCK = 32;
export const TAIL = 33; // offset where the next frame goes
export const PUTS = 34; // frames ever put (wrapping int32)
export const P_CAP = 35; // the capacity, committed with the put side
export const SEEN_GOT_BYTES = 36; // the get side's GOT_BYTES as producers last read it
export const SEEN_GETS = 37; // the get side's GETS as producers last read it
const P_JOURNAL = 38; // 1 while the journal below holds a commit being applied
const JP_TAIL = 39;
const JP_BYTES = 40;
const JP_PUTS = 41;
const JP_CAP = 42;
const PUT_LOCK_WAITERS = 43; // threads waiting for the put lock
// Group 2: what the put side tells the get side (written once a put each).
export const PUT_BYTES = 64; // bytes ever put (wrapping int32)
/** Bumped on every put and on close: what a waiting consumer waits on. */
export const SEQ_ITEMS = 65;
// 1 when a consumer may be asleep on SEQ_ITEMS: the next put wakes it and
// clears it (see bump). In the group a put writes anyway.
const ITEM_WAITERS = 66;
// Group 3: the get side's own.
export const GET_LOCK = 96;
export const HEAD = 97; // offset of the oldest frame
export const GETS = 98; // frames ever taken, less those given back (wrapping int32)
export const SEEN_PUT_BYTES = 99; // the put side's PUT_BYTES as consumers last read it
const C_JOURNAL = 100;
const JC_HEAD = 101;
const JC_BYTES = 102;
const JC_GETS = 103;
const GET_LOCK_WAITERS = 104;
// Group 4: what the get side tells the put side.
export const GOT_BYTES = 128; // bytes ever taken, less those given back (wrapping int32)
/** Bumped on every get and on close: what a waiting producer waits on. */
export const SEQ_SPACE = 129;
const SPACE_WAITERS = 130; // as ITEM_WAITERS, for producers asleep on SEQ_SPACE
// Group 5: acknowledgements (JoinableQueue).
const DONE = 160; // frames ever acknowledged (wrapping int32)
/** Bumped when the unfinished count reaches zero: what `join` waits on. */
export const SEQ_DONE = 161;
const DONE_WAITERS = 162;
export const HEADER_BYTES: number = 192 * 4;

// Who may be asleep on a cell. A sequence cell's is a flag, set by each
// waiter before it sleeps and cleared by the one who moves the cell and
// wakes them all (bump): so a stream of puts to a consumer that is still
// waking up wakes it once, not once a put (a wake costs the waker a
// microsecond or more: Atomics.notify takes a lock every thread shares).
// A waiter that wakes on its own leaves the flag set: the next move
// clears it, with a wake nobody needed. A lock's is a count (a wake per
// unlock, for one waiter: the others sleep on).
function flagOf(seq: number): number {
  return seq === SEQ_ITEMS ? ITEM_WAITERS : seq === SEQ_SPACE ? SPACE_WAITERS : DONE_WAITERS;
}

function lockWaiters(lock: number): number {
  return lock === PUT_LOCK ? PUT_LOCK_WAITERS : GET_LOCK_WAITERS;
}

export const INITIAL_CAP: number = 64 * 1024;
/** The most bytes a ring holds at once (frames and their 4-byte headers). */
export const MAX_CAP: number = 1024 * 1024 * 1024;

// How long a wait lasts at most after a look found a holder inside its
// commit (settleSide), in ms.
const HOLDER_RECHECK_MS = 20;

// How long a thread watches a sequence cell before it sleeps (spin), in µs.
const SPIN_LEAST_US = 2;
const SPIN_MOST_US = 50;

/** A ring's header: counters, locks, journals and waits. */
export class RingCells {
  /** The header (any mapping of it: they are the same memory). */
  cells!: Int32Array;
  /** Who takes the ring's locks here, and how their dead holders are told. */
  who!: Identity;
  // The lock that made the last call say "busy", and its holder then.
  #busyCell = PUT_LOCK;
  #busyHolder = 0;

  /** Called with the capacity in the header each time a lock is taken: maps or views that far (ring.ts). */
  protected covered(_cap: number): void {}

  /** Frames in the ring (a snapshot). */
  count(): number {
    this.#settle();
    const gets = Atomics.load(this.cells, GETS); // (first: a frame is put before it is taken)
    return Math.max(0, (Atomics.load(this.cells, PUTS) - gets) | 0);
  }

  /** Frames put and not yet acknowledged with `taskDone` (a snapshot). */
  unfinished(): number {
    this.#settle();
    const done = Atomics.load(this.cells, DONE);
    return Math.max(0, (Atomics.load(this.cells, PUTS) - done) | 0);
  }

  // A commit left half-applied by a thread killed inside it: finish it
  // (taking the lock over, if its holder is gone) before reading counters.
  #settle(): void {
    this.settleSide(PUT_LOCK, 0);
    this.settleSide(GET_LOCK, 0);
  }

  // One side's commit, if one is under way: true once it is done (by its
  // holder, or here, from the journal of a dead one: a holder counts as
  // dead a little after its exit was seen), so that the counters may have
  // changed; "busy" if its lock stayed taken for `ms`; false if none was.
  // With `ms` 0 (a look that does not wait), a live holder inside its
  // commit is left to finish it: it moves the sequence cell afterwards,
  // which whoever found the ring empty (or full) then waits on. (Taking
  // its lock instead, a consumer at the heels of a producer took the put
  // lock from it again and again: Bun's queue between threads 2-4x slower.)
  // (No caller holds a lock here.)
  protected settleSide(lock: number, ms: number): boolean | "busy" {
    if (Atomics.load(this.cells, lock === PUT_LOCK ? P_JOURNAL : C_JOURNAL) !== 1) return false;
    if (ms === 0) {
      const holder = Atomics.load(this.cells, lock);
      if (holder !== 0 && !this.who.dead(holder)) {
        // (it may also have died a moment ago, and count as dead only a
        // little later: the next wait of this thread looks again soon)
        this.#holderInside = true;
        return false;
      }
    }
    if (!this.lockSide(lock, ms)) return "busy";
    this.unlockSide(lock);
    return true;
  }

  // A call found a holder inside its commit and left it to finish (settleSide).
  #holderInside = false;

  // How long a wait may be after that: should the holder have died, its
  // commit is finished by the next look once its death is known.
  #afterHolderInside(ms: number | undefined): number | undefined {
    if (!this.#holderInside) return ms;
    this.#holderInside = false;
    return Math.min(ms ?? Infinity, HOLDER_RECHECK_MS);
  }

  isClosed(): boolean {
    return Atomics.load(this.cells, CLOSED) === 1;
  }

  /** The value of a sequence cell, to wait on with `waitSync`/`waitAsync`. */
  seq(cell: number): number {
    return Atomics.load(this.cells, cell);
  }

  get maxsize(): number {
    return this.cells[MAXSIZE];
  }

  /** Wakes whoever waits for items, to look again (a pipe's other end closed). */
  wake(): void {
    this.bump(SEQ_ITEMS);
  }

  /** Closes the ring for everyone: puts are refused, gets drain then see "eof". */
  close(): void {
    if (Atomics.exchange(this.cells, CLOSED, 1) === 1) return;
    this.bump(SEQ_ITEMS);
    this.bump(SEQ_SPACE);
  }

  /** Acknowledges one frame; false when more were acknowledged than put. */
  taskDone(): boolean {
    const c = this.cells;
    for (;;) {
      this.#settle();
      const done = Atomics.load(c, DONE);
      const left = (Atomics.load(c, PUTS) - done) | 0;
      if (left <= 0) return false;
      if (Atomics.compareExchange(c, DONE, done, (done + 1) | 0) !== done) continue;
      if (left === 1) this.bump(SEQ_DONE);
      return true;
    }
  }

  /** Blocks this thread until `cell` moves from `seen` or `ms` pass. */
  waitSync(cell: number, seen: number, ms: number | undefined): void {
    this.#willSleep(cell);
    waitCellSync(this.cells, cell, seen, this.#afterHolderInside(ms) ?? Infinity);
    this.#woke(cell);
  }

  /**
   * Resolves once `cell` moves from `seen`, `ms` pass or `signal` aborts;
   * keeps the event loop alive meanwhile.
   */
  waitAsync(cell: number, seen: number, ms: number | undefined, signal?: AbortSignal): Promise<void> {
    if (cell === PUT_LOCK || cell === GET_LOCK) {
      // (waitBusy: for a lock to change hands)
      const waiters = lockWaiters(cell);
      Atomics.add(this.cells, waiters, 1);
      return waitCellAsync(this.cells, cell, seen, ms, signal).then(() => void Atomics.sub(this.cells, waiters, 1));
    }
    this.#willSleep(cell);
    return waitCellAsync(this.cells, cell, seen, this.#afterHolderInside(ms), signal).then(() => this.#woke(cell));
  }

  // Sets the flag of a sequence cell before a wait on it (flagOf).
  // Set already: whoever clears it wakes this waiter too, for it clears it
  // after moving the cell (so this wait sees the move, or is woken).
  #willSleep(cell: number): void {
    const flag = flagOf(cell);
    if (Atomics.load(this.cells, flag) === 0) Atomics.store(this.cells, flag, 1);
  }

  /**
   * After a call said "busy": resolves once the lock it found taken changes
   * hands, `ms` pass or `signal` aborts (its holder is known dead only once
   * the event loop has turned: so wait with a small `ms` and try again).
   */
  waitBusy(ms: number, signal?: AbortSignal): Promise<void> {
    if (Atomics.load(this.cells, this.#busyCell) !== this.#busyHolder || this.#busyHolder === 0) return Promise.resolve();
    return this.waitAsync(this.#busyCell, this.#busyHolder, ms, signal);
  }

  /**
   * Watches `cell` for a short while, in this thread, before a wait that
   * would sleep: true once it moves from `seen`. A thread putting or
   * getting on the other side usually moves it within microseconds, far
   * sooner than a sleeping waiter wakes. How long adapts, per cell: twice
   * as long after a watch that saw the move, half as long after one that
   * did not (nobody was about to: then a watch costs a microsecond or two).
   * Never on a ring no other thread has: only this thread could move the
   * cell, and its event loop (where a child process's answer comes in) is
   * held up for as long as it watches.
   */
  spin(cell: number, seen: number): boolean {
    if (isSolo(this.cells.buffer)) return false;
    const us = this.#spinOf(cell);
    const from = performance.now();
    const until = from + us / 1000;
    for (let i = 1; Atomics.load(this.cells, cell) === seen; i++) {
      if ((i & 63) === 0 && performance.now() > until) {
        this.#setSpin(cell, Math.max(SPIN_LEAST_US, us / 2));
        this.#missedAt = from;
        this.#missedCell = cell;
        return false;
      }
    }
    this.#setSpin(cell, Math.min(SPIN_MOST_US, us * 2));
    return true;
  }

  // A watch that gave up, then a sleep that ended soon after (within twice
  // the longest watch: a sleeper wakes some tens of µs after the move):
  // the move came a little too late for the watch. In a ping-pong whose
  // sides both sleep, each answers late, so each watch gives up and halves
  // for good (Bun, a pipe's round trip between threads: 25-50 µs, against
  // 8-17 once they watch). Then watch twice as long next time, as after a
  // watch that saw it. (A wake costs a waiter about as much as a watch.)
  #missedAt = 0;
  #missedCell = -1;

  #woke(cell: number): void {
    if (cell !== this.#missedCell) return;
    this.#missedCell = -1;
    const us = (performance.now() - this.#missedAt) * 1000;
    if (us < 2 * SPIN_MOST_US) this.#setSpin(cell, Math.min(SPIN_MOST_US, 2 * this.#spinOf(cell)));
  }

  #spinItems = SPIN_MOST_US;

  #spinSpace = SPIN_MOST_US;

  #spinOf(cell: number): number {
    return cell === SEQ_ITEMS ? this.#spinItems : this.#spinSpace;
  }

  #setSpin(cell: number, us: number): void {
    if (cell === SEQ_ITEMS) this.#spinItems = us;
    else this.#spinSpace = us;
  }

  // Moves a sequence cell, then wakes its waiters if its flag says any may
  // sleep (clearing it: see flagOf). notifyCell wakes waiters of this
  // thread directly.
  protected bump(cell: number): void {
    const c = this.cells;
    Atomics.add(c, cell, 1);
    const flag = flagOf(cell);
    if (Atomics.load(c, flag) !== 0 && Atomics.exchange(c, flag, 0) !== 0) notifyCell(c, cell);
  }

  // Plain stores, published by the atomic ones that follow (the journal
  // flag, then the counter the other side reads): whoever reads it, or
  // takes the lock next, sees them.
  protected commitPut(tail: number, bytes: number, puts: number, cap: number): void {
    const c = this.cells;
    c[JP_TAIL] = tail;
    c[JP_BYTES] = bytes | 0;
    c[JP_PUTS] = puts | 0;
    c[JP_CAP] = cap;
    Atomics.store(c, P_JOURNAL, 1);
    this.#applyPut();
  }

  #applyPut(): void {
    const c = this.cells;
    c[TAIL] = c[JP_TAIL];
    if (c[CAP] !== c[JP_CAP]) Atomics.store(c, CAP, c[JP_CAP]);
    c[P_CAP] = c[JP_CAP];
    c[PUTS] = c[JP_PUTS];
    Atomics.store(c, PUT_BYTES, c[JP_BYTES]);
    // (plain: the unlock that follows publishes it; should this thread die
    // first, whoever takes the lock applies the same commit again)
    c[P_JOURNAL] = 0;
  }

  protected commitGet(head: number, bytes: number, gets: number): void {
    const c = this.cells;
    c[JC_HEAD] = head;
    c[JC_BYTES] = bytes | 0;
    c[JC_GETS] = gets | 0;
    Atomics.store(c, C_JOURNAL, 1);
    this.#applyGet();
  }

  #applyGet(): void {
    const c = this.cells;
    c[HEAD] = c[JC_HEAD];
    c[GETS] = c[JC_GETS];
    Atomics.store(c, GOT_BYTES, c[JC_BYTES]);
    c[C_JOURNAL] = 0;
  }

  // Takes a lock, waiting up to `ms` (after a short spin); false if it
  // could not. A lock is held for microseconds; a holder that is no longer
  // alive was a thread killed inside, and its lock is taken over (its
  // half-done commit, if any, finished from the journal; a holder of both
  // locks was growing the ring: its put side is settled first). Its death
  // is known once its parent has seen it exit: so an async caller waits
  // with a small `ms` and lets the event loop turn in between.
  protected lockSide(cell: number, ms: number): boolean {
    const c = this.cells;
    const me = this.who.holder();
    let until = -1;
    for (let spin = 0;; spin++) {
      // (a free lock is taken at the first try: no load before)
      const seen = Atomics.compareExchange(c, cell, 0, me);
      if (seen === 0) break;
      if (seen === me) throw new Error("multiproc: a queue's lock was re-entered (a bug in multiproc)");
      if (spin < 64) continue;
      if (this.who.dead(seen) && Atomics.compareExchange(c, cell, seen, me) === seen) {
        if (cell === GET_LOCK && Atomics.load(c, PUT_LOCK) === seen && Atomics.compareExchange(c, PUT_LOCK, seen, me) === seen) {
          if (Atomics.load(c, P_JOURNAL) === 1) this.#applyPut();
          this.unlockSide(PUT_LOCK);
        }
        break;
      }
      if (until < 0) until = performance.now() + ms;
      const rest = until - performance.now();
      if (rest <= 0) {
        this.#busyCell = cell;
        this.#busyHolder = seen;
        return false;
      }
      const waiters = lockWaiters(cell);
      Atomics.add(c, waiters, 1);
      waitCellSync(c, cell, seen, Math.min(rest, 20));
      Atomics.sub(c, waiters, 1);
    }
    // Plain reads: what the last holder wrote, it wrote before it let go
    // (and CAP changes with both locks held).
    if (cell === PUT_LOCK) {
      if (c[P_JOURNAL] === 1) this.#applyPut();
    } else if (c[C_JOURNAL] === 1) this.#applyGet();
    this.covered(c[CAP]);
    return true;
  }

  protected unlockSide(cell: number): void {
    Atomics.store(this.cells, cell, 0);
    if (Atomics.load(this.cells, lockWaiters(cell)) > 0) notifyCell(this.cells, cell, 1);
  }
}
