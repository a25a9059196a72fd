// Who is alive among the threads of this OS process, readable from any of
// them without help from any event loop. Shared-memory locks (queue rings
// now, the Lock family later) store their holder's token; a waiter that
// finds a lock taken asks here whether the holder still lives, so a thread
// killed inside a critical section does not hang everybody else.
//
// One SharedArrayBuffer per OS process, made by its main thread and handed
// to every thread it starts (and on down). Slot 0 is the main thread. A
// thread's slot is taken by whoever starts it, marked with the time it was
// seen to exit (with every thread started below it: a runtime ends a
// thread's threads with it), and freed a little later. A holder counts as
// dead only GRACE_MS after its exit was seen, for its last instructions to
// have run out.
//
// Deno is different: its `terminate()` does not stop a thread that is busy
// (measured: a terminated worker in a loop ran on for as long as we
// watched, although "exit" was reported at once). A thread that was told to
// end may still hold locks and release them, so on Deno no lock is ever
// taken over: isAlive() is always true there.
import { getHost } from "../runtime/host.ts";

const SLOTS = 2048;
const SERIAL = SLOTS; // cell: the last token serial handed out
const PARENT = SLOTS + 1; // cells PARENT + slot: the slot that started it
const EXITED = PARENT + SLOTS; // cells EXITED + slot: the token whose exit was seen
const TOP = EXITED + SLOTS; // cell: the highest slot ever taken
const PROCESS = TOP + 1; // cells PROCESS + slot: the token, if that slot is a child process
const CELLS = PROCESS + SLOTS;
const GRACE_MS = 50;

/** What a thread child needs to know of the liveness table. */
export interface LivesInit {
  buffer: SharedArrayBuffer;
  times: SharedArrayBuffer;
  slot: number;
  token: number;
}

interface Table {
  cells: Int32Array;
  times: Float64Array; // per slot: Date.now() when its exit was seen
  slot: number;
  token: number;
}

let table: Table | null = null;
let takeOver: boolean | null = null;

function makeToken(cells: Int32Array, slot: number): number {
  const serial = (Atomics.add(cells, SERIAL, 1) + 1) & 0xfffff || 1;
  return (serial << 11) | slot;
}

function here(): Table {
  if (!table) {
    const cells = new Int32Array(new SharedArrayBuffer(CELLS * 4));
    const times = new Float64Array(new SharedArrayBuffer(SLOTS * 8));
    const token = makeToken(cells, 0);
    cells[0] = token;
    cells[PARENT] = -1;
    table = { cells, times, slot: 0, token };
  }
  return table;
}

/** Called once in a thread child, with what its parent reserved for it. */
export function adoptLives(init: LivesInit): void {
  table = { cells: new Int32Array(init.buffer), times: new Float64Array(init.times), slot: init.slot, token: init.token };
}

/** This thread's token: non-zero, unique among live threads of this process. */
export function myToken(): number {
  return here().token;
}

let inParent = 0;

/** Called once in a child process, with the token its parent knows it by. */
export function adoptParentToken(token: number): void {
  inParent = token;
}

/**
 * The token this child process's parent knows it by (0 outside a child
 * process): what it writes as holder into its parent's OS shared memory.
 */
export function parentToken(): number {
  return inParent;
}

/** Where in the liveness table another thread sees this one end (see hasEnded). */
export function myEndCells(): { buffer: SharedArrayBuffer; slotCell: number; exitedCell: number; token: number } {
  const t = here();
  return { buffer: t.cells.buffer as SharedArrayBuffer, slotCell: t.slot, exitedCell: EXITED + t.slot, token: t.token };
}

/** This thread's table and token, for a helper thread that answers for its children (lib/child/state_thread.ts). */
export function livesForHelper(): LivesInit {
  const t = here();
  return { buffer: t.cells.buffer as SharedArrayBuffer, times: t.times.buffer as SharedArrayBuffer, slot: t.slot, token: t.token };
}

/** Whether this is the main thread of its process (slot 0). */
export function isMainThread(): boolean {
  return here().slot === 0;
}

/** Whether the thread holding `token` may still run (see above for Deno). */
export function isAlive(token: number): boolean {
  takeOver ??= getHost().runtime !== "deno";
  if (!takeOver) return true;
  const t = here();
  const slot = token & (SLOTS - 1);
  if (Atomics.load(t.cells, slot) !== token) return false;
  return Atomics.load(t.cells, EXITED + slot) !== token || Date.now() - t.times[slot] < GRACE_MS;
}

/**
 * Whether the holder of a shared lock is gone, so that the lock may be
 * taken over: a child process (its requests all ran here) as soon as its
 * exit was seen, on every runtime; a thread as isAlive() says.
 */
export function holderDead(token: number): boolean {
  const t = here();
  const slot = token & (SLOTS - 1);
  if (Atomics.load(t.cells, PROCESS + slot) === token) return hasEnded(token);
  return !isAlive(token);
}

/** A child's place in the table: what a thread child is told, and what to call once the child has ended. */
export interface ChildSlot {
  init: LivesInit;
  exited: () => void;
  /** Marks the slot as a child process's (which holds shared locks through this process). */
  isProcess: () => void;
}

/**
 * Whether the thread or child process holding `token` was seen to end (no
 * grace, and on every runtime): for holders of pipe ends, which close as
 * file descriptors do when their process ends.
 */
export function hasEnded(token: number): boolean {
  const t = here();
  const slot = token & (SLOTS - 1);
  return Atomics.load(t.cells, slot) !== token || Atomics.load(t.cells, EXITED + slot) === token;
}

/**
 * Reserves a slot for a child about to start (a thread, or a process whose
 * copies of pipe ends are listed under its token here); returns what goes
 * in a thread's init and a function to call once it has exited.
 */
export function reserveChildSlot(): ChildSlot {
  const t = here();
  for (let i = 1; i < SLOTS; i++) {
    if (Atomics.load(t.cells, i) !== 0) continue;
    const token = makeToken(t.cells, i);
    if (Atomics.compareExchange(t.cells, i, 0, token) !== 0) continue;
    Atomics.store(t.cells, PARENT + i, t.slot);
    for (let top = Atomics.load(t.cells, TOP); top < i; top = Atomics.load(t.cells, TOP)) {
      if (Atomics.compareExchange(t.cells, TOP, top, i) === top) break;
    }
    const buffers = { buffer: t.cells.buffer as SharedArrayBuffer, times: t.times.buffer as SharedArrayBuffer };
    return {
      init: { ...buffers, slot: i, token },
      exited: () => exited(t, i, token, Date.now()),
      isProcess: () => Atomics.store(t.cells, PROCESS + i, token),
    };
  }
  throw new Error(`Too many threads: this process already runs ${SLOTS - 1} worker threads`);
}

function exited(t: Table, slot: number, token: number, at: number): void {
  if (Atomics.load(t.cells, slot) !== token || Atomics.load(t.cells, EXITED + slot) === token) return;
  t.times[slot] = at;
  Atomics.store(t.cells, EXITED + slot, token);
  // Only up to the highest slot ever taken: besides being quicker, a loop
  // over all 2048 slots as the last child exits makes V8 compile it on a
  // background thread just as the program ends, and Deno 2.9 then crashes
  // now and then (SIGSEGV at exit; gone with --no-concurrent-recompilation).
  const top = Atomics.load(t.cells, TOP);
  for (let i = 1; i <= top; i++) {
    const child = Atomics.load(t.cells, i);
    if (child !== 0 && i !== slot && Atomics.load(t.cells, PARENT + i) === slot) exited(t, i, child, at);
  }
  // Free the slot for a new thread once nobody can mistake the two.
  const timer = setTimeout(() => Atomics.compareExchange(t.cells, slot, token, 0), GRACE_MS * 20);
  (timer as { unref?: () => void }).unref?.();
}

let holder = 0;

/** Runs `encode` with whatever it lists (copies of pipe ends) held by `token`. */
export function withHolder<T>(token: number, encode: () => T): T {
  const before = holder;
  holder = token;
  try {
    return encode();
  } finally {
    holder = before;
  }
}

/** Who holds what is being encoded now: the child being started, or else this thread. */
export function currentHolder(): number {
  return holder || myToken();
}
