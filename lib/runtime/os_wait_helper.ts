// The waiting thread behind async waits on OS shared memory (os_memory.ts).
// A thread that awaits a cell of mapped memory cannot block its event loop
// in a futex, and there is no Atomics.waitAsync on such memory; so it lists
// the cell (address, expected value) in a table shared with this helper
// thread, which sleeps in one futex_waitv(2) on every listed cell plus a
// doorbell, and, when a cell has moved or was woken, says so to the thread
// through the table with Atomics.notify (which its waitAsync hears).
//
// Started by the first async wait of a thread; ends when that thread exits
// (it rings the doorbell with DOORBELL_STOP) or was seen to end (in the
// liveness table, checked every CHECK_MS), since Deno and Bun do not end a
// thread's threads with it (and Bun waits for them before it reports the
// thread's exit).
import { workerData } from "node:worker_threads";
import process from "node:process";
import { DOORBELL_STOP, type HelperInit, libcFor, SLOTS, STATE_ACTIVE, STATE_FIRED, tableViews } from "./os_memory.ts";

const init = workerData as HelperInit;
const libc = libcFor(init.runtime);
const { addresses, state, expected } = tableViews(init.table);
const lives = new Int32Array(init.lives);

// futex_waitv entries: u64 val, u64 uaddr, u32 flags, u32 reserved.
const WAITV_BYTES = 24;
const FUTEX2_SIZE_U32 = 2;
const list = new Uint8Array(WAITV_BYTES * (SLOTS + 1));
const entries = new DataView(list.buffer);
const slotOf = new Int32Array(SLOTS + 1);
const now = new BigInt64Array(2);
const CHECK_MS = 100;

function put(i: number, address: bigint, value: number): void {
  entries.setBigUint64(i * WAITV_BYTES, BigInt(value >>> 0), true);
  entries.setBigUint64(i * WAITV_BYTES + 8, address, true);
  entries.setUint32(i * WAITV_BYTES + 16, FUTEX2_SIZE_U32, true);
  entries.setUint32(i * WAITV_BYTES + 20, 0, true);
}

function fire(slot: number): void {
  if (Atomics.compareExchange(state, slot, STATE_ACTIVE, STATE_FIRED) === STATE_ACTIVE) Atomics.notify(state, slot);
}

function ownerEnded(): boolean {
  return Atomics.load(lives, init.slotCell) !== init.token || Atomics.load(lives, init.exitedCell) === init.token;
}

const doorbell = libc.view(init.doorbell);
for (;;) {
  const ring = Atomics.load(doorbell, 0);
  if (ring === DOORBELL_STOP || ownerEnded()) process.exit(0);
  put(0, init.doorbell, ring);
  let n = 1;
  for (let slot = 0; slot < SLOTS; slot++) {
    if (Atomics.load(state, slot) !== STATE_ACTIVE) continue;
    const address = addresses[slot];
    if (Atomics.load(libc.view(address), 0) !== expected[slot]) {
      fire(slot);
      continue;
    }
    put(n, address, expected[slot]);
    slotOf[n++] = slot;
  }
  libc.clockMonotonic(now);
  now[1] += BigInt(CHECK_MS * 1e6);
  if (now[1] >= 1_000_000_000n) {
    now[0] += 1n;
    now[1] -= 1_000_000_000n;
  }
  const woken = libc.futexWaitv(list, n, now);
  if (woken > 0 && woken < n) fire(slotOf[woken]);
  // (otherwise the doorbell, a cell that had moved, or time: the loop looks again)
}
