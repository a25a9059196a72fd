// The Lock family's kernels (lib/shared/memory.ts): each tries an operation
// on a primitive's cells without blocking, and either finishes or names the
// cell to wait on. The same kernel runs here on a SharedArrayBuffer, and at
// the owner for a child process (with that child's token as `holder`), so
// every kernel is written with Atomics only, for any mix of threads.
//
// How a waiter is never left asleep (Lock, RLock, Semaphore; Event,
// Condition and Barrier wait on a cell that changes for them alone): each
// has a CONTENDED flag and a SEQ counter. A waiter reads SEQ *before*
// it looks at the state, sets CONTENDED when it has to wait, and sleeps on
// SEQ only while SEQ still holds what it read. A state change is followed
// by, in this order: exchange CONTENDED with 0, bump SEQ, wake everyone on
// SEQ if the flag was set. Any change after the waiter's read of SEQ moves
// SEQ, so either the waiter does not fall asleep, or it was asleep when the
// first exchange to find its flag bumped SEQ and woke it. (Waiting on the
// holder cell itself would miss a release followed by a re-acquire by the
// same token.) All waiters are woken: those that lose set the flag again.
// A release nobody waits for costs no notify.
import { defineKernel, notifyCell, type Step } from "../shared/memory.ts";

// What kernels answer besides success (>= 0). TIMED_OUT (memory.ts) is
// far below these.
export const NOT_LOCKED = -1;
export const NOT_OWNER = -2;
export const TOO_MANY = -3;
export const BROKEN = -4;

/** Lock acquired; acquired from a holder that had died. */
export const ACQUIRED = 1;
export const TOOK_OVER = 2;

const DONE: Step<number>[] = [0, 1, 2].map((value) => ({ done: true, value }));

function done(value: number): Step<number> {
  return value >= 0 && value < DONE.length ? DONE[value] : { done: true, value };
}

function sleep(cell: number, seen: number): Step<number> {
  return { done: false, cell, seen };
}

// After a change a waiter may be waiting for (see above).
function changed(cells: Int32Array, contended: number, seq: number): void {
  const flagged = Atomics.exchange(cells, contended, 0) !== 0;
  Atomics.add(cells, seq, 1);
  if (flagged) notifyCell(cells, seq);
}

// ---- Lock: the holder's token (0: free) -------------------------------------

export const LOCK = { HOLDER: 0, CONTENDED: 1, SEQ: 2, size: 12 } as const;

defineKernel("lock.acquire", (cells, holder, _args, dead) => {
  const seq = Atomics.load(cells, LOCK.SEQ);
  for (;;) {
    const h = Atomics.compareExchange(cells, LOCK.HOLDER, 0, holder);
    if (h === 0) return done(ACQUIRED);
    // A Lock is not re-entrant: its own holder waits, as in Python.
    if (h !== holder && dead(h)) {
      if (Atomics.compareExchange(cells, LOCK.HOLDER, h, holder) === h) return done(TOOK_OVER);
      continue;
    }
    Atomics.store(cells, LOCK.CONTENDED, 1);
    return sleep(LOCK.SEQ, seq);
  }
});

// args[0] = 1: only if the caller holds it (a Condition's wait); otherwise
// anybody may release it, as Python's multiprocessing.Lock.
defineKernel("lock.release", (cells, holder, args) => {
  for (;;) {
    const h = Atomics.load(cells, LOCK.HOLDER);
    if (h === 0) return done(NOT_LOCKED);
    if (args[0] === 1 && h !== holder) return done(NOT_OWNER);
    if (Atomics.compareExchange(cells, LOCK.HOLDER, h, 0) === h) break;
  }
  changed(cells, LOCK.CONTENDED, LOCK.SEQ);
  return done(1);
});

defineKernel("lock.owned", (cells, holder) => done(Atomics.load(cells, LOCK.HOLDER) === holder ? 1 : 0));

// ---- RLock: owner token and recursion count ---------------------------------

export const RLOCK = { OWNER: 0, COUNT: 1, CONTENDED: 2, SEQ: 3, size: 16 } as const;

// args[0]: the count to take (a Condition gives back what it released).
defineKernel("rlock.acquire", (cells, holder, args, dead) => {
  const n = args.length > 0 ? args[0] : 1;
  const seq = Atomics.load(cells, RLOCK.SEQ);
  for (;;) {
    const o = Atomics.compareExchange(cells, RLOCK.OWNER, 0, holder);
    // COUNT is only ever touched by the owner (or whoever took over from a
    // dead one), so plain stores after taking OWNER are enough.
    if (o === 0) {
      Atomics.store(cells, RLOCK.COUNT, n);
      return done(ACQUIRED);
    }
    if (o === holder) {
      Atomics.add(cells, RLOCK.COUNT, n);
      return done(ACQUIRED);
    }
    if (dead(o)) {
      if (Atomics.compareExchange(cells, RLOCK.OWNER, o, holder) !== o) continue;
      Atomics.store(cells, RLOCK.COUNT, n);
      return done(TOOK_OVER);
    }
    Atomics.store(cells, RLOCK.CONTENDED, 1);
    return sleep(RLOCK.SEQ, seq);
  }
});

// args[0] = 1: release every level at once (a Condition's wait). Answers
// the count held before.
defineKernel("rlock.release", (cells, holder, args) => {
  if (Atomics.load(cells, RLOCK.OWNER) !== holder) return done(NOT_OWNER);
  const count = Atomics.load(cells, RLOCK.COUNT);
  if (args[0] !== 1 && count > 1) {
    Atomics.store(cells, RLOCK.COUNT, count - 1);
    return done(count);
  }
  Atomics.store(cells, RLOCK.COUNT, 0);
  Atomics.store(cells, RLOCK.OWNER, 0);
  changed(cells, RLOCK.CONTENDED, RLOCK.SEQ);
  return done(count);
});

defineKernel("rlock.owned", (cells, holder) => done(Atomics.load(cells, RLOCK.OWNER) === holder ? 1 : 0));

// ---- Semaphore: a count, and a bound (-1: none) -----------------------------

export const SEMAPHORE = { VALUE: 0, CONTENDED: 1, SEQ: 2, MAX: 3, size: 16 } as const;

defineKernel("semaphore.acquire", (cells) => {
  const seq = Atomics.load(cells, SEMAPHORE.SEQ);
  for (;;) {
    const v = Atomics.load(cells, SEMAPHORE.VALUE);
    if (v > 0) {
      if (Atomics.compareExchange(cells, SEMAPHORE.VALUE, v, v - 1) === v) return done(ACQUIRED);
      continue;
    }
    Atomics.store(cells, SEMAPHORE.CONTENDED, 1);
    return sleep(SEMAPHORE.SEQ, seq);
  }
});

defineKernel("semaphore.release", (cells) => {
  const max = Atomics.load(cells, SEMAPHORE.MAX);
  for (;;) {
    const v = Atomics.load(cells, SEMAPHORE.VALUE);
    if ((max >= 0 && v >= max) || v === 0x7fffffff) return done(TOO_MANY);
    if (Atomics.compareExchange(cells, SEMAPHORE.VALUE, v, v + 1) === v) break;
  }
  changed(cells, SEMAPHORE.CONTENDED, SEMAPHORE.SEQ);
  return done(1);
});

// ---- Event: a flag, and a count of set() calls ------------------------------

export const EVENT = { FLAG: 0, SETS: 1, size: 8 } as const;

// args[0]: SETS as the waiter read it first. A set() since then counts even
// if a clear() followed before the waiter looked (as in Python).
defineKernel("event.wait", (cells, _holder, args) => {
  if (Atomics.load(cells, EVENT.FLAG) === 1) return done(1);
  const sets = Atomics.load(cells, EVENT.SETS);
  if (sets !== args[0]) return done(1);
  return sleep(EVENT.SETS, sets);
});

defineKernel("event.set", (cells) => {
  Atomics.store(cells, EVENT.FLAG, 1);
  Atomics.add(cells, EVENT.SETS, 1);
  notifyCell(cells, EVENT.SETS);
  return done(0);
});

// ---- Condition: a slot per waiter ------------------------------------------
//
// A waiter takes a free slot (marking it WAITING, with its token beside it)
// while it holds the lock, releases the lock, and sleeps on its slot.
// notify(n) marks up to n WAITING slots NOTIFIED and wakes each on its own
// cell; a waiter whose time runs out frees its slot unless it was marked
// just then. So a notify wakes exactly the parties waiting when it ran,
// never one that came later (counts of waiters and signals would let a
// newcomer take a wake-up meant for an older waiter, which then sleeps
// through it). The notify cursor goes round, so no waiter is passed over
// for ever; a waiter whose holder died is skipped and its slot freed.

export const CONDITION = { HIGH: 0, CURSOR: 1, SLOTS: 2, RING: 1024, size: 8200 } as const;
export const FULL = -5;
const FREE = 0;
const WAITING = 1;
const NOTIFIED = 2;
const CLAIMED = 3;
const slotCell = (i: number) => CONDITION.SLOTS + i;
const tokenCell = (i: number) => CONDITION.SLOTS + CONDITION.RING + i;

// Answers the slot taken, or FULL.
defineKernel("condition.enter", (cells, holder) => {
  for (let i = 0; i < CONDITION.RING; i++) {
    // Claimed first, marked WAITING once its token is there for notify to check.
    if (Atomics.compareExchange(cells, slotCell(i), FREE, CLAIMED) !== FREE) continue;
    Atomics.store(cells, tokenCell(i), holder);
    Atomics.store(cells, slotCell(i), WAITING);
    for (let high = Atomics.load(cells, CONDITION.HIGH); high <= i; high = Atomics.load(cells, CONDITION.HIGH)) {
      if (Atomics.compareExchange(cells, CONDITION.HIGH, high, i + 1) === high) break;
    }
    return done(i);
  }
  return done(FULL);
});

// args[0]: the slot. Answers 1 once notified.
defineKernel("condition.wait", (cells, _holder, args) => {
  const cell = slotCell(args[0]);
  if (Atomics.load(cells, cell) === WAITING) return sleep(cell, WAITING);
  Atomics.store(cells, cell, FREE);
  return done(1);
});

// A waiter whose time ran out: 0 if it left, 1 if it was notified meanwhile.
defineKernel("condition.leave", (cells, _holder, args) => {
  const cell = slotCell(args[0]);
  if (Atomics.compareExchange(cells, cell, WAITING, FREE) === WAITING) return done(0);
  Atomics.store(cells, cell, FREE);
  return done(1);
});

// args[0]: how many to wake at most. Answers how many were.
defineKernel("condition.notify", (cells, _holder, args, dead) => {
  const n = args[0];
  const high = Atomics.load(cells, CONDITION.HIGH);
  const from = Atomics.load(cells, CONDITION.CURSOR);
  let woken = 0;
  for (let k = 0; k < high && woken < n; k++) {
    const i = (from + k) % high;
    const cell = slotCell(i);
    if (Atomics.load(cells, cell) !== WAITING) continue;
    if (dead(Atomics.load(cells, tokenCell(i)))) {
      Atomics.compareExchange(cells, cell, WAITING, FREE);
      continue;
    }
    if (Atomics.compareExchange(cells, cell, WAITING, NOTIFIED) !== WAITING) continue;
    notifyCell(cells, cell);
    woken++;
    Atomics.store(cells, CONDITION.CURSOR, (i + 1) % high);
  }
  return done(woken);
});

// ---- Barrier: one word for the cycle, and the outcome of recent cycles ------
//
// STATE packs the cycle (generation, 16 bits, wrapping), a broken bit and
// the number arrived in this cycle (15 bits), so that every change is one
// compare-and-swap. A cycle ends released or broken; whoever decides first
// writes the outcome, tagged with the cycle, into OUTCOMES (a ring of 256),
// and only then moves STATE to the next cycle. A waiter of cycle g wakes
// when STATE leaves g and reads g's outcome there.

export const BARRIER = { STATE: 0, PARTIES: 1, OUTCOMES: 2, RING: 256, size: 1032 } as const;
export const MAX_PARTIES = 0x7fff;
const COUNT_MASK = 0x7fff;
const BROKEN_BIT = 0x8000;
/** How a cycle ended, as given to "barrier.end". */
export const RELEASED = 1;
export const BROKE = 2;

const cycleOf = (word: number) => word >>> 16;
const nextCycle = (cycle: number, broken: boolean) => (((cycle + 1) & 0xffff) << 16) | (broken ? BROKEN_BIT : 0);

/** What "barrier.arrive" answers: the cycle and the arrival index, in one number. */
export function arrival(value: number): { cycle: number; index: number } {
  return { cycle: Math.floor(value / (COUNT_MASK + 1)), index: value % (COUNT_MASK + 1) };
}

export function barrierBroken(word: number): boolean {
  return (word & BROKEN_BIT) !== 0;
}

export function barrierCount(word: number): number {
  return word & COUNT_MASK;
}

defineKernel("barrier.arrive", (cells) => {
  const parties = Atomics.load(cells, BARRIER.PARTIES);
  for (;;) {
    const w = Atomics.load(cells, BARRIER.STATE);
    if (w & BROKEN_BIT) return done(BROKEN);
    const count = w & COUNT_MASK;
    // Full: the last party's action runs; the next cycle starts after it.
    if (count >= parties) return sleep(BARRIER.STATE, w);
    if (Atomics.compareExchange(cells, BARRIER.STATE, w, w + 1) === w) {
      return done(cycleOf(w) * (COUNT_MASK + 1) + count);
    }
  }
});

function outcome(cells: Int32Array, cycle: number): number {
  const o = Atomics.load(cells, BARRIER.OUTCOMES + (cycle & (BARRIER.RING - 1)));
  // Overwritten (256 cycles later): this waiter slept too long to know.
  return o >>> 2 === cycle && (o & 3) === RELEASED ? 0 : BROKEN;
}

// args[0]: the cycle arrived in. Answers 0 once released, BROKEN if broken.
defineKernel("barrier.wait", (cells, _holder, args) => {
  const w = Atomics.load(cells, BARRIER.STATE);
  if (cycleOf(w) !== args[0]) return done(outcome(cells, args[0]));
  return sleep(BARRIER.STATE, w);
});

// Ends `cycle` with `how` unless it has ended already; the next cycle
// starts broken if `thenBroken`. Answers the cycle's outcome (0 or BROKEN).
function endCycle(cells: Int32Array, cycle: number, how: number, thenBroken: boolean): number {
  const slot = BARRIER.OUTCOMES + (cycle & (BARRIER.RING - 1));
  let decided = how;
  for (;;) {
    const o = Atomics.load(cells, slot);
    if (o >>> 2 === cycle && (o & 3) !== 0) {
      decided = o & 3;
      break;
    }
    if (cycleOf(Atomics.load(cells, BARRIER.STATE)) !== cycle) return outcome(cells, cycle);
    if (Atomics.compareExchange(cells, slot, o, (cycle << 2) | how) === o) break;
  }
  for (;;) {
    const w = Atomics.load(cells, BARRIER.STATE);
    if (cycleOf(w) !== cycle) break;
    const next = nextCycle(cycle, decided === BROKE && thenBroken);
    if (Atomics.compareExchange(cells, BARRIER.STATE, w, next) === w) {
      notifyCell(cells, BARRIER.STATE);
      break;
    }
  }
  return decided === RELEASED ? 0 : BROKEN;
}

// args: [cycle, RELEASED or BROKE, 1 if the barrier stays broken after].
defineKernel("barrier.end", (cells, _holder, args) => done(endCycle(cells, args[0], args[1], args[2] === 1)));

defineKernel("barrier.abort", (cells) => {
  for (;;) {
    const w = Atomics.load(cells, BARRIER.STATE);
    if (w & BROKEN_BIT) return done(0);
    endCycle(cells, cycleOf(w), BROKE, true);
  }
});

defineKernel("barrier.reset", (cells) => {
  const w = Atomics.load(cells, BARRIER.STATE);
  if (!(w & BROKEN_BIT) && (w & COUNT_MASK) > 0) endCycle(cells, cycleOf(w), BROKE, false);
  for (;;) {
    const now = Atomics.load(cells, BARRIER.STATE);
    if (!(now & BROKEN_BIT)) return done(0);
    if (Atomics.compareExchange(cells, BARRIER.STATE, now, now & ~(BROKEN_BIT | COUNT_MASK)) === now) {
      notifyCell(cells, BARRIER.STATE);
      return done(0);
    }
  }
});
