// Async waits on OS shared memory, without blocking an event loop: the
// cell is listed in this process's table of waits, and the process's
// waiting thread (lib/runtime/os_wait_helper.ts), asleep in one futex wait
// on all listed cells and a doorbell, says when it moved through the
// table, where the waiter's Atomics.waitAsync hears it.
//
// One table and one waiting thread per process, started by its main
// thread (the first time one of its threads waits, or starts a thread
// while OS shared memory is in use), and handed to every thread it starts,
// so that a thread that ends takes nothing with it. A thread that got no
// table (none was made before it started) makes its own, with a waiting
// thread that ends when it does. With more waits at once than the table
// holds (127), the others look every millisecond.
import { getHost } from "../runtime/host.ts";
import {
  DOORBELL_STOP,
  type OsMemory,
  type OsSegment,
  SLOTS,
  STATE_ACTIVE,
  STATE_CLAIMED,
  STATE_FREE,
  TABLE_BYTES,
  tableViews,
} from "../runtime/os_memory.ts";
import { isMainThread, myEndCells } from "./lives.ts";
import { waitCellAsync, type WaitResult } from "./memory.ts";

/** What a thread child is given of its process's waits. */
export interface WaitsInit {
  table: SharedArrayBuffer;
  doorbell: bigint;
}

interface Table extends WaitsInit {
  addresses: BigInt64Array;
  state: Int32Array;
  expected: Int32Array;
  bell: Int32Array;
}

let table: Table | null = null;

function open(init: WaitsInit, os: OsMemory): Table {
  return { ...init, ...tableViews(init.table), bell: os.cellAt(init.doorbell) };
}

// A new table, with its waiting thread (for this thread, and the threads it starts).
function setUp(os: OsMemory, doorbell: OsSegment): Table {
  const t = open({ table: new SharedArrayBuffer(TABLE_BYTES), doorbell: os.address(doorbell, 0) }, os);
  // As this thread exits, its waiting thread is told to end too.
  getHost().onExit(() => {
    Atomics.store(t.bell, 0, DOORBELL_STOP);
    os.wakeAt(t.doorbell, 1);
  });
  const end = myEndCells();
  os.startWaitHelper({
    table: t.table,
    doorbell: t.doorbell,
    lives: end.buffer,
    slotCell: end.slotCell,
    exitedCell: end.exitedCell,
    token: end.token,
  });
  return t;
}

/**
 * This process's waits, for a thread about to start (made now if this is
 * the main thread and there are none yet); undefined without OS memory.
 */
export function waitsForChild(doorbell: () => OsSegment): WaitsInit | undefined {
  const os = getHost().osMemory();
  if (!os) return undefined;
  if (!table && isMainThread()) table = setUp(os, doorbell());
  return table ? { table: table.table, doorbell: table.doorbell } : undefined;
}

/** In a thread child: uses the waits of the process it runs in. */
export function adoptWaits(init: WaitsInit | undefined): void {
  const os = getHost().osMemory();
  if (init && os) table = open(init, os);
}

const FIRST_WAIT_MS = 0.05;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function claim(state: Int32Array): number {
  for (let i = 0; i < SLOTS; i++) {
    if (Atomics.load(state, i) === STATE_FREE && Atomics.compareExchange(state, i, STATE_FREE, STATE_CLAIMED) === STATE_FREE) {
      return i;
    }
  }
  return -1;
}

/**
 * Resolves once the cell at `byteIndex` of `segment` no longer holds
 * `expected` (or was woken), `ms` pass or `signal` aborts. `doorbell` makes
 * a window for the table's doorbell, if one is made here.
 */
export async function waitMapped(
  os: OsMemory,
  doorbell: () => OsSegment,
  segment: OsSegment,
  cells: Int32Array,
  cell: number,
  expected: number,
  ms: number | undefined,
  signal?: AbortSignal,
): Promise<WaitResult> {
  // An answer often comes within microseconds (a lock let go, a reply on a
  // pipe): a short futex wait catches it without the waiting thread's two
  // hops, blocking this thread for FIRST_WAIT_MS at most.
  os.wait(segment, cells.byteOffset + 4 * cell, expected, Math.min(FIRST_WAIT_MS, ms ?? FIRST_WAIT_MS));
  if (Atomics.load(cells, cell) !== expected) return "ok";
  const t = table ??= setUp(os, doorbell());
  const slot = claim(t.state);
  if (slot < 0) {
    // The table is full: look every millisecond.
    const until = ms === undefined ? Infinity : performance.now() + ms;
    for (;;) {
      if (Atomics.load(cells, cell) !== expected) return "ok";
      if (signal?.aborted || performance.now() >= until) return "timed-out";
      await sleep(1);
    }
  }
  try {
    t.addresses[slot] = os.address(segment, cells.byteOffset + 4 * cell);
    t.expected[slot] = expected;
    Atomics.store(t.state, slot, STATE_ACTIVE);
    Atomics.add(t.bell, 0, 1);
    os.wakeAt(t.doorbell, 1);
    const r = await waitCellAsync(t.state, slot, STATE_ACTIVE, ms, signal);
    return r === "not-equal" ? "ok" : r;
  } finally {
    Atomics.store(t.state, slot, STATE_FREE);
  }
}
