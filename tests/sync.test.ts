// The Lock family (lib/sync.ts) on whatever runtime runs this file, under
// the start method the runner sets: the API in one process against
// sequential models (fast-check), the invariants under concurrency
// (a semaphore never admits more than its value, a barrier releases in
// cycles, waitFor wakes only when its predicate holds), mutual exclusion
// across children, a bounded buffer on a Condition (no lost wake-up), exact
// counts under a lock in threads, timeouts, a holder killed with the lock
// held, the `...Sync` twins in a child and their refusal here, and bad
// arguments.
import fc from "fast-check";
import { getContext, type Process, Queue, SerializationError, Value } from "../mod.ts";
import {
  Barrier,
  BoundedSemaphore,
  BrokenBarrierError,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
} from "../lib/sync.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test, waitFor } from "./harness.ts";

const ctx = getContext(startMethod);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
// A promise's value or error, handled at once (no unhandled-rejection noise).
const caught = <T>(p: Promise<T>): Promise<T | Error> => p.catch((e: Error) => e);

type Mutex = Lock | RLock | BoundedSemaphore | Condition;

// ---- targets run in children ----------------------------------------------

// Holds `mutex` `rounds` times; inside, `occupied` must be clear (else two
// holders overlap), and `entries` counts each stay.
export async function holdAndCheck(
  mutex: Mutex,
  occupied: Event,
  entries: Semaphore,
  overlaps: Queue<string>,
  who: string,
  rounds: number,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await mutex.withLock(async () => {
      if (occupied.isSet()) await overlaps.put(`${who} entered while another was inside (round ${i})`);
      occupied.set();
      await sleep(i % 3 === 0 ? 1 : 0);
      occupied.clear();
      entries.release();
    });
  }
}

// The same, blocking: withLockSync and a busy wait inside.
export function holdAndCheckSync(
  mutex: Mutex,
  occupied: Event,
  entries: Semaphore,
  overlaps: Queue<string>,
  who: string,
  rounds: number,
): void {
  for (let i = 0; i < rounds; i++) {
    mutex.withLockSync(() => {
      if (occupied.isSet()) overlaps.putSync(`${who} entered while another was inside (round ${i})`);
      occupied.set();
      const until = performance.now() + (i % 3 === 0 ? 0.5 : 0);
      while (performance.now() < until);
      occupied.clear();
      entries.release();
    });
  }
}

export async function holdForever(lock: Lock | RLock, holding: Event): Promise<void> {
  await lock.acquire();
  if (lock instanceof RLock) await lock.acquire();
  holding.set();
  for (;;) await sleep(1000);
}

/** Waits for `lock` (a holder is about to die), says whether it got it and whether ownerDied was set. */
export async function takeOverLater(lock: Lock | RLock, out: Queue<boolean[]>): Promise<void> {
  const got = await lock.acquire({ timeout: 20000 });
  await out.put([got, lock.ownerDied]);
  if (got) lock.release();
}

export function syncTwins(
  lock: Lock,
  rlock: RLock,
  sem: BoundedSemaphore,
  ev: Event,
  cond: Condition,
  barrier: Barrier,
  out: Queue<unknown>,
): void {
  const lockResults = [lock.acquireSync(), lock.acquireSync({ block: false }), lock.acquireSync({ timeout: 20 })];
  lock.release();
  const rlockResult = rlock.withLockSync(() => rlock.withLockSync(() => 7));
  const semResults = [sem.acquireSync(), sem.acquireSync({ block: false }), sem.getValue()];
  sem.release();
  const eventTimeout = ev.waitSync(20);
  const condTimeout = cond.withLockSync(() => cond.waitSync(20));
  const index = barrier.waitSync(20000);
  const event = ev.waitSync(20000);
  const notified = cond.withLockSync(() => cond.waitForSync(() => !ev.isSet(), 20000));
  out.putSync({ lockResults, rlockResult, semResults, eventTimeout, condTimeout, index, event, notified });
}

export async function notifyFromChild(cond: Condition, ev: Event): Promise<void> {
  await cond.withLock(() => {
    ev.set();
    cond.notify();
  });
}

export async function sameLockThere(cond: Condition, lock: Lock, out: Queue<boolean[]>): Promise<void> {
  await cond.acquire();
  const whileHeld = await lock.acquire({ block: false });
  cond.release();
  const afterwards = await lock.acquire({ block: false });
  lock.release();
  await out.put([whileHeld, afterwards]);
}

export async function barrierRounds(barrier: Barrier, out: Queue<number[]>, who: number, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) await out.put([who, r, await barrier.wait(20000)]);
}

// The Barrier action's counter in this process (set by the party before it waits).
let released: Value | null = null;

/** A Barrier action: counts the cycles released, in whichever process runs it. */
export function countRelease(): void {
  released!.value += 1;
}

// Waits `rounds` times; after each, reports its index and the count the
// action had reached by then (the action ran before anyone was released).
export async function barrierWithAction(barrier: Barrier, count: Value, out: Queue<number[]>, rounds: number): Promise<void> {
  released = count;
  for (let r = 0; r < rounds; r++) {
    const index = await barrier.wait(20000);
    await out.put([r, index, count.value]);
  }
}

export function barrierWithActionSync(barrier: Barrier, count: Value, out: Queue<number[]>, rounds: number): void {
  released = count;
  for (let r = 0; r < rounds; r++) {
    const index = barrier.waitSync(20000);
    out.putNowait([r, index, count.value]);
  }
}

export async function releaseLater(sem: Semaphore, ev: Event): Promise<void> {
  await ev.wait(20000);
  sem.release();
}

// A bounded buffer of 3 guarded by `cond`; `items` holds the buffer's count.
export function produceSync(cond: Condition, items: Semaphore, n: number): void {
  for (let i = 0; i < n; i++) {
    cond.withLockSync(() => {
      cond.waitForSync(() => items.getValue() < 3);
      items.release();
      cond.notify();
    });
  }
}

export async function consume(cond: Condition, items: Semaphore, taken: Semaphore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await cond.withLock(async () => {
      while (items.getValue() === 0) await cond.wait();
      await items.acquire({ block: false });
      taken.release();
      cond.notifyAll();
    });
  }
}

export function countSync(lock: Lock | RLock, counter: SharedArrayBuffer, n: number): void {
  const cells = new Int32Array(counter);
  for (let i = 0; i < n; i++) {
    lock.acquireSync();
    const v = cells[0]; // read, then write: only the lock keeps this whole
    cells[0] = v + 1;
    lock.release();
  }
}

function start(target: (...args: never[]) => unknown, args: unknown[]): Process {
  const p = new ctx.Process({ target: target as never, args });
  p.start();
  return p;
}

async function joinAll(ps: Process[]): Promise<void> {
  await Promise.all(ps.map((p) => p.join()));
  for (const p of ps) assertEquals(p.exitCode, 0, `${p.name} exit code`);
}

async function drain<T>(q: Queue<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await q.get({ timeout: 20000 }));
  return out;
}

// ---- models: random sequences against a sequential model -------------------

type LockOp = "acquire" | "release";

test("property: Lock and RLock follow their sequential models", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom<LockOp>("acquire", "release"), { maxLength: 40 }), async (ops) => {
      const lock = new Lock();
      const rlock = new RLock();
      let locked = false;
      let depth = 0;
      for (const op of ops) {
        if (op === "acquire") {
          assertEquals(await lock.acquire({ block: false }), !locked, "Lock acquire");
          locked = true;
          assertEquals(await rlock.acquire({ block: false }), true, "RLock acquire (re-entrant)");
          depth++;
        } else {
          if (locked) lock.release();
          else assertThrows(() => lock.release(), Error, "unlocked Lock");
          locked = false;
          if (depth > 0) rlock.release();
          else assertThrows(() => rlock.release(), Error, "cannot release un-acquired lock");
          depth = Math.max(0, depth - 1);
        }
      }
      assertEquals(await lock.acquire({ timeout: 0 }), !locked);
    }),
    { numRuns: 100 },
  );
});

test("property: Semaphore and BoundedSemaphore follow their sequential models", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 4 }),
      fc.array(fc.constantFrom<LockOp>("acquire", "release"), { maxLength: 40 }),
      async (initial, ops) => {
        const sem = new Semaphore(initial);
        const bounded = new BoundedSemaphore(initial);
        let count = initial;
        let boundedCount = initial;
        for (const op of ops) {
          if (op === "acquire") {
            assertEquals(await sem.acquire({ block: false }), count > 0, "Semaphore acquire");
            assertEquals(await bounded.acquire({ block: false }), boundedCount > 0, "BoundedSemaphore acquire");
            count = Math.max(0, count - 1);
            boundedCount = Math.max(0, boundedCount - 1);
          } else {
            sem.release();
            count++;
            if (boundedCount < initial) {
              bounded.release();
              boundedCount++;
            } else {
              assertThrows(() => bounded.release(), Error, "released too many times");
            }
          }
          assertEquals([sem.getValue(), bounded.getValue()], [count, boundedCount]);
        }
      },
    ),
    { numRuns: 100 },
  );
});

type EventOp = "set" | "clear" | "isSet" | "wait0";

test("property: Event follows its sequential model", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.constantFrom<EventOp>("set", "clear", "isSet", "wait0"), { maxLength: 40 }), async (ops) => {
      const ev = new Event();
      let flag = false;
      for (const op of ops) {
        if (op === "set") ev.set(), flag = true;
        else if (op === "clear") ev.clear(), flag = false;
        else if (op === "isSet") assertEquals(ev.isSet(), flag);
        else assertEquals(await ev.wait(0), flag);
      }
    }),
    { numRuns: 100 },
  );
});

// ---- invariants under concurrency, in one process ------------------------

test("property: a Semaphore never admits more than its value, and admits everyone in the end", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 4 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 16 }),
      fc.boolean(),
      async (value, delays, bounded) => {
        const sem = bounded ? new BoundedSemaphore(value) : new Semaphore(value);
        let inside = 0;
        let most = 0;
        await Promise.all(delays.map((ms) =>
          sem.withLock(async () => {
            most = Math.max(most, ++inside);
            await sleep(ms);
            inside--;
          })
        ));
        assert(most <= value, `${most} inside a Semaphore(${value})`);
        assertEquals(most, Math.min(value, delays.length), "as many as allowed got in together");
        assertEquals(sem.getValue(), value);
      },
    ),
    { numRuns: 30 },
  );
});

test("property: a Barrier releases in cycles of `parties`, indexes a permutation each cycle", async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 1, max: 4 }), async (parties, rounds) => {
      let actions = 0;
      const barrier = new Barrier(parties, () => void actions++);
      // All parties of all rounds wait at once: they fall into cycles.
      const indexes = await Promise.all(Array.from({ length: parties * rounds }, () => barrier.wait(10000)));
      const counts = new Array(parties).fill(0);
      for (const i of indexes) counts[i]++;
      assertEquals(counts, new Array(parties).fill(rounds), "each index once per cycle");
      assertEquals(actions, rounds, "the action ran once per cycle");
      // And one round at a time.
      for (let r = 0; r < rounds; r++) {
        const one = await Promise.all(Array.from({ length: parties }, () => barrier.wait(10000)));
        assertEquals([...one].sort((a, b) => a - b), Array.from({ length: parties }, (_, i) => i));
      }
      assertEquals([barrier.nWaiting, barrier.broken], [0, false]);
    }),
    { numRuns: 25 },
  );
});

test("property: Condition.waitFor wakes only when its predicate holds", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.integer({ min: 1, max: 30 }), { minLength: 1, maxLength: 6 }),
      fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 12 }),
      fc.boolean(),
      async (thresholds, steps, useLock) => {
        const cond = new Condition(useLock ? new Lock() : undefined);
        let x = 0;
        let finished = false;
        let checks = 0;
        const waiters = thresholds.map((t) =>
          cond.withLock(async () => {
            const why = await cond.waitFor(() => {
              checks++;
              return x >= t ? "reached" : finished ? "finished" : "";
            });
            return { t, why, seen: x };
          })
        );
        for (const step of steps) {
          await sleep(1);
          await cond.withLock(() => {
            x += step;
            cond.notifyAll();
          });
        }
        await cond.withLock(() => {
          finished = true;
          cond.notifyAll();
        });
        for (const w of await Promise.all(waiters)) {
          assertEquals(w.why, w.t <= x ? "reached" : "finished", `waiter for x >= ${w.t} (x reached ${x})`);
          if (w.why === "reached") assert(w.seen >= w.t, `waiter for x >= ${w.t} woke with x = ${w.seen}`);
        }
        assert(checks <= thresholds.length * (steps.length + 2), `${checks} checks: waiters woke without a notify`);
      },
    ),
    { numRuns: 30 },
  );
});

test("Condition: notify(n) wakes n waiters, notifyAll the rest", async () => {
  const cond = new Condition();
  let woken = 0;
  const waiters = Array.from({ length: 4 }, () =>
    cond.withLock(async () => {
      const notified = await cond.wait(5000);
      woken++;
      return notified;
    })
  );
  await sleep(20);
  await cond.withLock(() => cond.notify(2));
  await waitFor(() => woken === 2, { timeout: 5000, message: `notify(2) woke ${woken}` });
  await sleep(50);
  assertEquals(woken, 2, "notify(2) woke two, no more");
  await cond.withLock(() => cond.notifyAll());
  assertEquals(await Promise.all(waiters), [true, true, true, true]);
  assertEquals(await cond.acquire({ block: false }), true, "free again");
  cond.release();
});

// ---- timeouts ---------------------------------------------------------------

test("timeouts: acquire on a held lock, Event.wait, Condition.wait answer false in time", async () => {
  const within = async (ms: number, run: () => Promise<unknown>, expected: unknown) => {
    const t0 = performance.now();
    assertEquals(await run(), expected);
    const took = performance.now() - t0;
    assert(took >= ms - 5 && took <= 2 * ms + 200, `took ${Math.round(took)} ms for a ${ms} ms timeout`);
  };
  const lock = new Lock();
  await lock.acquire();
  await within(100, () => lock.acquire({ timeout: 100 }), false);
  const rlock = new RLock();
  const sem = new Semaphore(0);
  await within(50, () => sem.acquire({ timeout: 50 }), false);
  await within(50, () => new Event().wait(50), false);
  const cond = new Condition(rlock);
  await within(50, () => cond.withLock(() => cond.wait(50)), false);
  assertEquals(await rlock.acquire({ block: false }), true, "the condition's lock is free after");
  rlock.release();
  lock.release();
});

test("an aborted acquire rejects with the signal's reason and acquires nothing", async () => {
  const lock = new Lock();
  await lock.acquire();
  const ac = new AbortController();
  const waiting = caught(lock.acquire({ signal: ac.signal }));
  setTimeout(() => ac.abort(new Error("stop")), 10);
  assertEquals(((await waiting) as Error).message, "stop");
  lock.release();
  assertEquals(await lock.acquire({ block: false }), true);
});

test("Barrier: a wait that times out breaks it for everyone; abort and reset", async () => {
  const barrier = new Barrier(3);
  const other = caught(barrier.wait());
  await assertRejects(() => barrier.wait(50), BrokenBarrierError, "Timed out");
  assert((await other) instanceof BrokenBarrierError, "the other party's wait broke too");
  assert(barrier.broken);
  await assertRejects(() => barrier.wait(), BrokenBarrierError, "broken");
  barrier.reset();
  assertEquals([barrier.broken, barrier.nWaiting], [false, 0]);
  const waiting = caught(barrier.wait());
  assertEquals(barrier.nWaiting, 1);
  barrier.reset();
  assert((await waiting) instanceof BrokenBarrierError, "reset breaks a waiting party");
  assertEquals(barrier.broken, false, "reset leaves it usable");
  const three = await Promise.all([barrier.wait(), barrier.wait(), barrier.wait()]);
  assertEquals(three, [0, 1, 2]);
  const last = caught(barrier.wait());
  barrier.abort();
  assert((await last) instanceof BrokenBarrierError, "abort breaks a waiting party");
  assert(barrier.broken);
});

test("Barrier: an action that throws breaks the barrier; its party gets the action's error", async () => {
  const barrier = new Barrier(2, () => {
    throw new RangeError("action failed");
  });
  const first = caught(barrier.wait());
  await assertRejects(() => barrier.wait(), RangeError, "action failed");
  assert((await first) instanceof BrokenBarrierError, "the other party's wait broke");
  assert(barrier.broken);
});

// ---- across children --------------------------------------------------------

for (const kind of ["Lock", "RLock", "BoundedSemaphore", "Condition"] as const) {
  test(`mutual exclusion across children and the parent: ${kind}`, async () => {
    const mutex: Mutex = kind === "Lock"
      ? new Lock()
      : kind === "RLock"
      ? new RLock()
      : kind === "BoundedSemaphore"
      ? new BoundedSemaphore(1)
      : new Condition(new Lock());
    const occupied = new Event();
    const entries = new Semaphore(0);
    const overlaps = new Queue<string>();
    const rounds = 40;
    const ps = [
      start(holdAndCheck, [mutex, occupied, entries, overlaps, "child 1", rounds]),
      start(holdAndCheckSync, [mutex, occupied, entries, overlaps, "child 2", rounds]),
    ];
    // The parent takes part too (RLock: its ownership is per thread, so
    // one holder in this thread is enough).
    await holdAndCheck(mutex, occupied, entries, overlaps, "parent", rounds);
    await joinAll(ps);
    const seen: string[] = [];
    while (!overlaps.empty()) seen.push(overlaps.getNowait());
    assertEquals(seen, [], "no two holders inside at once");
    assertEquals(entries.getValue(), 3 * rounds, "every stay counted");
  }, { timeout: 60000 });
}

test("a Condition bounded buffer across children and the parent: no wake-up is lost", async () => {
  // Producers notify one, consumers notify all, and the parent's two
  // async parties come and go quickly: a notify must reach the parties
  // waiting when it ran, not newcomers (else a waiter sleeps through it).
  const cond = new Condition();
  const items = new Semaphore(0);
  const taken = new Semaphore(0);
  const n = startMethod === "process" ? 400 : 1500;
  const ps = [start(produceSync, [cond, items, n]), start(consume, [cond, items, taken, n])];
  await Promise.all([
    consume(cond, items, taken, n),
    (async () => {
      for (let i = 0; i < n; i++) {
        await cond.withLock(async () => {
          await cond.waitFor(() => items.getValue() < 3);
          items.release();
          cond.notify();
        });
      }
    })(),
  ]);
  await joinAll(ps);
  assertEquals([taken.getValue(), items.getValue()], [2 * n, 0]);
}, { timeout: 60000 });

test("exact count: threads adding 1 under a Lock or RLock (read, then write) end at N x M", async () => {
  for (const lock of [new Lock(), new RLock()]) {
    const counter = new SharedArrayBuffer(4);
    const m = 20000;
    const ps = [start(countSync, [lock, counter, m]), start(countSync, [lock, counter, m])];
    const cells = new Int32Array(counter);
    for (let i = 0; i < m / 10; i++) {
      await lock.withLock(async () => {
        const v = cells[0];
        if (i % 100 === 0) await sleep(0);
        cells[0] = v + 1;
      });
    }
    await joinAll(ps);
    assertEquals(cells[0], 2 * m + m / 10, lock.constructor.name);
  }
}, {
  timeout: 60000,
  skip: startMethod === "process" ? "a SharedArrayBuffer does not reach a child process (Value's tests count across processes)" : false,
});

test("a Barrier across children releases in cycles of its parties", async () => {
  const barrier = new Barrier(3);
  const out = new Queue<number[]>();
  const rounds = 5;
  const ps = [start(barrierRounds, [barrier, out, 1, rounds]), start(barrierRounds, [barrier, out, 2, rounds])];
  await barrierRounds(barrier, out, 0, rounds);
  await joinAll(ps);
  const got = await drain(out, 3 * rounds);
  for (let r = 0; r < rounds; r++) {
    const indexes = got.filter(([, round]) => round === r).map(([, , i]) => i).sort();
    assertEquals(indexes, [0, 1, 2], `cycle ${r}`);
  }
}, { timeout: 60000 });

test("a Barrier's action crosses with it and runs once per cycle, in the last party, before any is released", async () => {
  // countRelease uses a variable of this module: it reaches the children as
  // an export of the main module; async and sync waits, the parent joining in.
  for (const [target, label] of [[barrierWithAction, "wait"], [barrierWithActionSync, "waitSync"]] as const) {
    const count = new Value("i", 0);
    const barrier = new Barrier(3, countRelease);
    const out = new Queue<number[]>();
    const rounds = 4;
    const ps = [start(target, [barrier, count, out, rounds]), start(target, [barrier, count, out, rounds])];
    await barrierWithAction(barrier, count, out, rounds);
    await joinAll(ps);
    const got = await drain(out, 3 * rounds);
    for (let r = 0; r < rounds; r++) {
      const cycle = got.filter(([round]) => round === r);
      assertEquals(cycle.map(([, i]) => i).sort(), [0, 1, 2], `${label}: cycle ${r}`);
      for (const [, , seen] of cycle) assert(seen >= r + 1, `${label}: a party of cycle ${r} saw ${seen} actions`);
    }
    assertEquals(count.value, rounds, `${label}: the action ran once per cycle`);
  }
  // A self-contained action needs no module at all.
  const b = new Barrier(2, () => {
    (globalThis as { actionRuns?: number }).actionRuns = ((globalThis as { actionRuns?: number }).actionRuns ?? 0) + 1;
  });
  const q = new Queue<number[]>();
  const p = start(barrierRounds, [b, q, 1, 3]);
  await barrierRounds(b, q, 0, 3);
  await joinAll([p]);
  assertEquals((await drain(q, 6)).length, 6);
}, { timeout: 90000 });

test("a Condition and its Lock stay one lock in a child; a child's notify wakes the parent", async () => {
  const lock = new Lock();
  const cond = new Condition(lock);
  const out = new Queue<boolean[]>();
  const p = start(sameLockThere, [cond, lock, out]);
  assertEquals(await out.get({ timeout: 20000 }), [false, true], "held through the Condition, free after");
  await joinAll([p]);

  const ev = new Event();
  const notified = cond.withLock(() => cond.waitFor(() => ev.isSet(), 20000));
  const q = start(notifyFromChild, [cond, ev]);
  assertEquals(await notified, true);
  await joinAll([q]);
}, { timeout: 60000 });

test("a Condition on an RLock held twice releases both levels while it waits, and takes both back", async () => {
  const rlock = new RLock();
  const cond = new Condition(rlock);
  const ev = new Event();
  await rlock.acquire();
  await cond.acquire();
  const p = start(notifyFromChild, [cond, ev]);
  assertEquals(await cond.waitFor(() => ev.isSet(), 20000), true, "the child got the lock and notified");
  await joinAll([p]);
  rlock.release();
  rlock.release();
  assertThrows(() => rlock.release(), Error, "cannot release un-acquired lock");
}, { timeout: 60000 });

test("a Semaphore released in a child wakes an acquire here", async () => {
  const sem = new Semaphore(0);
  const go = new Event();
  const p = start(releaseLater, [sem, go]);
  const acquired = sem.acquire({ timeout: 20000 });
  go.set();
  assertEquals(await acquired, true);
  await joinAll([p]);
});

test("the ...Sync twins in a child: acquireSync, withLockSync, waitSync", async () => {
  const [lock, rlock, sem, ev] = [new Lock(), new RLock(), new BoundedSemaphore(1), new Event()];
  const cond = new Condition();
  const barrier = new Barrier(2);
  const out = new Queue<unknown>();
  const p = start(syncTwins, [lock, rlock, sem, ev, cond, barrier, out]);
  const parentIndex = await barrier.wait(20000);
  ev.set();
  // The child now waits on the condition until the event is clear again.
  await sleep(20);
  await cond.withLock(() => {
    ev.clear();
    cond.notifyAll();
  });
  const report = await out.get({ timeout: 20000 });
  await joinAll([p]);
  assertEquals((report as { index: number }).index + parentIndex, 1, "indexes 0 and 1 at the barrier");
  assertEquals({ ...(report as object), index: 1 }, {
    lockResults: [true, false, false],
    rlockResult: 7,
    semResults: [true, false, 0],
    eventTimeout: false,
    condTimeout: false,
    index: 1,
    event: true,
    notified: true,
  });
}, { timeout: 60000 });

test("fault: a Lock or RLock whose holder was killed is taken over, with ownerDied", async () => {
  for (const lock of [new Lock(), new RLock()]) {
    const holding = new Event();
    const p = start(holdForever, [lock, holding]);
    assertEquals(await holding.wait(20000), true, "the child holds the lock");
    assertEquals(await lock.acquire({ timeout: 50 }), false, "held while the child lives");
    p.kill();
    await p.join();
    assertEquals(await lock.acquire({ timeout: 10000 }), true, `${lock.constructor.name} taken over`);
    assertEquals(lock.ownerDied, true);
    lock.release();
    assertEquals(await lock.acquire({ block: false }), true);
    assertEquals(lock.ownerDied, false, "until the next acquire");
    lock.release();
  }
}, {
  timeout: 60000,
  skip: runtimeName === "deno" && startMethod === "thread"
    ? "Deno's terminate() does not stop a busy thread, so a thread's locks are never taken over there"
    : false,
});

test("fault: a child waiting for a Lock or RLock whose holder (another child) was killed takes it over", async () => {
  for (const lock of [new Lock(), new RLock()]) {
    const holding = new Event();
    const out = new Queue<boolean[]>();
    const holder = start(holdForever, [lock, holding]);
    assertEquals(await holding.wait(20000), true, "the first child holds the lock");
    const waiter = start(takeOverLater, [lock, out]);
    // The waiter waits while the holder lives (nothing arrives for a while)...
    await assertRejects(() => out.get({ timeout: 200 }), Error);
    holder.kill();
    await holder.join();
    // ...and takes the lock over once it is dead, seeing ownerDied.
    assertEquals(await out.get({ timeout: 20000 }), [true, true], `${lock.constructor.name} taken over by the other child`);
    await waiter.join();
    assertEquals(await lock.acquire({ block: false }), true, "free again afterwards");
    lock.release();
  }
}, {
  timeout: 60000,
  skip: runtimeName === "deno" && startMethod === "thread"
    ? "Deno's terminate() does not stop a busy thread, so a thread's locks are never taken over there"
    : false,
});

// ---- refusals and bad arguments -----------------------------------------------

test("the ...Sync twins are refused in the main thread of the top process, naming the async twin", () => {
  const cond = new Condition();
  const refusals: Array<[() => unknown, string]> = [
    [() => new Lock().acquireSync(), "await lock.acquire()"],
    [() => new RLock().withLockSync(() => 1), "await lock.withLock(fn)"],
    [() => new Semaphore().acquireSync(), "await semaphore.acquire()"],
    [() => new Event().waitSync(1), "await event.wait()"],
    [() => cond.waitSync(1), "await condition.wait()"],
    [() => cond.waitForSync(() => true), "await condition.waitFor()"],
    [() => new Barrier(1).waitSync(), "await barrier.wait()"],
  ];
  for (const [call, twin] of refusals) {
    const e = assertThrows(call, Error, "blocks its thread and is for code in a child process or worker");
    assert(e.message.includes(twin), e.message);
  }
});

test("bad arguments are refused clearly, and the primitive keeps working", async () => {
  assertThrows(() => new Semaphore(-1), RangeError, "value must be an integer >= 0, got -1");
  assertThrows(() => new BoundedSemaphore(1.5), RangeError, "1.5");
  assertThrows(() => new Semaphore("2" as never), TypeError, '"2"');
  assertThrows(() => new Barrier(0), TypeError, "parties must be an integer >= 1");
  assertThrows(() => new Barrier(2, "go" as never), TypeError, "action must be a function");
  assertThrows(() => new Condition(new Semaphore() as never), TypeError, "a Lock or an RLock");
  const lock = new Lock();
  await assertRejects(() => lock.acquire({ timeout: -1 }), TypeError, "timeout");
  await assertRejects(() => lock.acquire({ timeout: "x" as never }), TypeError, "timeout");
  await assertRejects(() => lock.acquire(5 as never), TypeError, "options must be an object");
  await assertRejects(() => new Event().wait("x" as never), TypeError, "timeout");
  assertEquals(await lock.acquire({ block: false }), true, "the lock still works");
  lock.release();
  const cond = new Condition();
  assertThrows(() => cond.notify(), Error, "cannot notify on un-acquired lock");
  await assertRejects(() => cond.wait(10), Error, "cannot wait on un-acquired lock");
  await assertRejects(() => cond.withLock(() => cond.notify(-1)), RangeError);
  await cond.withLock(() => cond.notify());
});

test("what cannot cross: a Barrier whose action uses local variables, a primitive put on a queue", () => {
  const q = new Queue<unknown>();
  assertThrows(() => q.putNowait(new Lock()), SerializationError, "pass it to the Process");
  assertThrows(() => q.putNowait(new Event()), SerializationError, "An Event cannot be put on a queue");
  let local = 0;
  const p = new ctx.Process({ target: barrierRounds as never, args: [new Barrier(2, () => local++), q, 0, 1] });
  assertThrows(() => p.start(), SerializationError, 'uses "local" from the code around it');
  assertEquals([q.qsize(), local], [0, 0]);
});
