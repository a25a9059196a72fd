// Manager on whatever runtime runs this file, with children of the start
// method the runner sets (the manager's own server is always a process):
// dict and list proxies against a local model (fast-check), appends from
// several children with nothing lost and each child's order kept, proxies
// through a Queue and to pool tasks, register/get from a second client,
// 50 clients at once, and the server's defences: a wrong key, garbage, a
// stalled client, a client gone mid-call, an oversized frame; and shutdown.
import fc from "fast-check";
import { connect, type Socket } from "node:net";
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import process from "node:process";
import {
  AuthenticationError,
  type BarrierProxy,
  BrokenBarrierError,
  type ConditionProxy,
  type DictProxy,
  EOFError,
  type EventProxy,
  getContext,
  type ListProxy,
  type LockProxy,
  Manager,
  type NamespaceProxy,
  type Process,
  Queue,
  QueueEmpty,
  QueueFull,
  type QueueProxy,
  type RLockProxy,
  type ValueProxy,
} from "../mod.ts";
import { Link } from "../lib/manager/client.ts";
import { handleOf } from "../lib/manager/proxies.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test } from "./harness.ts";

const ctx = getContext(startMethod);

function start(target: (...args: never[]) => unknown, args: unknown[]): Process {
  const p = new ctx.Process({ target: target as never, args });
  p.start();
  return p;
}

// ---- targets run in children ----------------------------------------------

export async function appendMany(l: ListProxy<[number, number]>, who: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await l.append([who, i]);
}

export async function useAll(d: DictProxy<string, unknown>, ns: NamespaceProxy, v: ValueProxy<number>): Promise<void> {
  await d.set("child", { nested: [1, 2n, new Date(0)] });
  await ns.set("seen", await v.get());
  await v.set((await v.get()) + 1);
}

export async function fromQueue(q: Queue<DictProxy<string, number>>): Promise<void> {
  const d = await q.get();
  await d.set("viaQueue", 1);
}

export async function addTask(d: DictProxy<string, number>, k: string): Promise<string> {
  await d.set(k, k.length);
  return k;
}

// ---- tests ------------------------------------------------------------------

test("property: a dict proxy behaves as a Map under random commands", async () => {
  await using manager = await Manager.start();
  const key = fc.constantFrom("a", "b", "c", 1, 2);
  const command = fc.oneof(
    fc.tuple(fc.constant("set"), key, fc.integer()),
    fc.tuple(fc.constant("delete"), key),
    fc.tuple(fc.constant("get"), key),
    fc.tuple(fc.constant("has"), key),
    fc.tuple(fc.constant("pop"), key),
    fc.tuple(fc.constant("setdefault"), key, fc.integer()),
    fc.tuple(fc.constant("length")),
    fc.tuple(fc.constant("clear")),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(command, { maxLength: 25 }), async (commands) => {
      const d = manager.dict<string | number, number>();
      const model = new Map<string | number, number>();
      for (const [op, k, v] of commands as Array<[string, string | number, number]>) {
        switch (op) {
          case "set":
            await d.set(k, v);
            model.set(k, v);
            break;
          case "delete":
            assertEquals(await d.delete(k), model.delete(k));
            break;
          case "get":
            assertEquals(await d.get(k), model.get(k));
            break;
          case "has":
            assertEquals(await d.has(k), model.has(k));
            break;
          case "pop": {
            const had = model.has(k);
            const want = model.get(k);
            model.delete(k);
            if (had) assertEquals(await d.pop(k), want);
            else await assertRejects(() => d.pop(k), Error, "no key");
            break;
          }
          case "setdefault":
            if (!model.has(k)) model.set(k, v);
            assertEquals(await d.setdefault(k, v), model.get(k));
            break;
          case "length":
            assertEquals(await d.length(), model.size);
            break;
          case "clear":
            await d.clear();
            model.clear();
            break;
        }
      }
      assertEquals(await d.items(), [...model.entries()]);
    }),
    { numRuns: 25 },
  );
}, { timeout: 60_000 });

test("property: a list proxy behaves as an Array under random commands (negative indexes as Python)", async () => {
  await using manager = await Manager.start();
  const command = fc.oneof(
    fc.tuple(fc.constant("append"), fc.integer({ min: 0, max: 5 })),
    fc.tuple(fc.constant("pop"), fc.integer({ min: -3, max: 3 })),
    fc.tuple(fc.constant("insert"), fc.integer({ min: -3, max: 6 }), fc.integer({ min: 0, max: 5 })),
    fc.tuple(fc.constant("get"), fc.integer({ min: -4, max: 4 })),
    fc.tuple(fc.constant("set"), fc.integer({ min: -4, max: 4 }), fc.integer({ min: 0, max: 5 })),
    fc.tuple(fc.constant("remove"), fc.integer({ min: 0, max: 5 })),
  );
  const at = (l: unknown[], i: number) => (i < 0 ? l.length + i : i);
  await fc.assert(
    fc.asyncProperty(fc.array(command, { maxLength: 25 }), async (commands) => {
      const l = manager.list<number>();
      const model: number[] = [];
      for (const [op, a, b] of commands as Array<[string, number, number]>) {
        const i = at(model, a);
        const inRange = i >= 0 && i < model.length;
        switch (op) {
          case "append":
            await l.append(a);
            model.push(a);
            break;
          case "pop":
            if (inRange) assertEquals(await l.pop(a), model.splice(i, 1)[0]);
            else await assertRejects(() => l.pop(a), Error);
            break;
          case "insert":
            await l.insert(a, b);
            model.splice(Math.max(0, Math.min(i, model.length)), 0, b);
            break;
          case "get":
            if (inRange) assertEquals(await l.get(a), model[i]);
            else await assertRejects(() => l.get(a), Error, "out of range");
            break;
          case "set":
            if (inRange) {
              await l.set(a, b);
              model[i] = b;
            } else await assertRejects(() => l.set(a, b), Error, "out of range");
            break;
          case "remove": {
            const j = model.indexOf(a);
            if (j >= 0) {
              await l.remove(a);
              model.splice(j, 1);
            } else await assertRejects(() => l.remove(a), Error, "not in list");
            break;
          }
        }
      }
      assertEquals(await l.toArray(), model);
      assertEquals(await l.length(), model.length);
    }),
    { numRuns: 25 },
  );
}, { timeout: 60_000 });

test("4 children x 50 appends through one list proxy: nothing lost, each child's order kept", async () => {
  await using manager = await Manager.start();
  const l = manager.list<[number, number]>();
  const ps = [0, 1, 2, 3].map((who) => start(appendMany, [l, who, 50]));
  for (const p of ps) await p.join();
  for (const p of ps) assertEquals(p.exitCode, 0);
  const all = await l.toArray();
  assertEquals(all.length, 200);
  for (let who = 0; who < 4; who++) {
    assertEquals(all.filter(([w]) => w === who).map(([, i]) => i), Array.from({ length: 50 }, (_, i) => i));
  }
}, { timeout: 60_000 });

test("dict, namespace and Value proxies in a child reach the same objects; values keep their types", async () => {
  await using manager = await Manager.start();
  const d = manager.dict<string, unknown>({ a: 1 });
  const ns = manager.namespace({ x: "y" });
  const v = manager.Value("i", 41);
  assertEquals(v.typecode, "i");
  const p = start(useAll, [d, ns, v]);
  await p.join();
  assertEquals(p.exitCode, 0);
  assertEquals(await d.toObject(), { a: 1, child: { nested: [1, 2n, new Date(0)] } });
  assertEquals(await ns.toObject(), { x: "y", seen: 41 });
  assertEquals(await v.get(), 42);
  await assertRejects(() => ns.get("missing"), Error, "no attribute");
});

test("a proxy goes through a Queue and to pool tasks, and stays connected", async () => {
  await using manager = await Manager.start();
  const d = manager.dict<string, number>();
  const q = new Queue<DictProxy<string, number>>();
  await q.put(d);
  const p = start(fromQueue, [q]);
  await p.join();
  assertEquals(p.exitCode, 0);
  await using pool = new ctx.Pool(2);
  assertEquals(await pool.starmap(addTask, [[d, "one"], [d, "three"]]), ["one", "three"]);
  assertEquals(await d.toObject(), { viaQueue: 1, one: 3, three: 5 });
});

test("register and get by name from a second client; a wrong key is refused before any operation", async () => {
  await using manager = await Manager.start({ authkey: "secret" });
  assertEquals(manager.address.host, "127.0.0.1");
  assert(manager.address.port > 0);
  const l = manager.list<number>([1, 2]);
  await manager.register("numbers", l);
  const other = await Manager.connect(manager.address, "secret");
  const same = await other.get("numbers") as ListProxy<number>;
  await same.append(3);
  assertEquals(await l.toArray(), [1, 2, 3]);
  await assertRejects(() => other.get("nothing"), Error, "nothing is registered");
  await assertRejects(() => Manager.connect(manager.address, "wrong"), AuthenticationError, "refused the authkey");
  await assertRejects(() => Manager.connect(manager.address, new Uint8Array([1, 2, 3])), AuthenticationError);
  assertEquals(await same.length(), 3, "the manager serves on");
});

function rawClient(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port }, () => resolve(s));
    s.on("error", reject);
    s.resume(); // (read what comes, to see the server's end)
  });
}

function closed(s: Socket): Promise<void> {
  return new Promise((resolve) => (s.destroyed ? resolve() : s.once("close", () => resolve())));
}

test("hostile clients (garbage, a huge frame, a stall, one gone mid-call) close alone; the others are served", async () => {
  await using manager = await Manager.start();
  const d = manager.dict<string, number>();
  await d.set("k", 1);
  const { port } = manager.address;
  // Garbage instead of the handshake answer: refused and closed.
  const garbage = await rawClient(port);
  garbage.write(new Uint8Array([4, 0, 0, 0, 1, 2, 3, 4]));
  await closed(garbage);
  // A frame header announcing 4 GiB: closed.
  const huge = await rawClient(port);
  huge.write(new Uint8Array([255, 255, 255, 255]));
  await closed(huge);
  // A client that connects and says nothing: others are not held up.
  const stall = await rawClient(port);
  assertEquals(await d.get("k"), 1);
  stall.destroy();
  // A client that authenticates, sends a call and disconnects at once.
  const other = await Manager.connect(manager.address, manager.authkey);
  const gone = await other.get("k").catch(() => null); // (a lookup that fails: nothing registered)
  assertEquals(gone, null);
  assertEquals(await d.get("k"), 1);
  await d.set("k", 2);
  assertEquals(await d.get("k"), 2);
}, { timeout: 30_000 });

test("after shutdown, proxies reject promptly instead of hanging", async () => {
  const manager = await Manager.start();
  const d = manager.dict<string, number>();
  await d.set("a", 1);
  await manager.shutdown();
  const t0 = performance.now();
  await assertRejects(() => d.get("a"), Error);
  assert(performance.now() - t0 < 5000, "rejected, not left waiting");
});

test("bad arguments are refused clearly", async () => {
  await assertRejects(() => Manager.start({ address: { port: 70000 } }), RangeError, "0-65535");
  await assertRejects(() => Manager.start({ authkey: 5 as never }), TypeError, "authkey");
  await assertRejects(() => Manager.start({ authkey: "" }), TypeError, "empty");
  await using manager = await Manager.start();
  const d = manager.dict();
  await assertRejects(() => d.set({} as never, 1), Error, "dict key");
  await assertRejects(() => d.set("f", (() => 1) as never), Error, "function");
  assertEquals(await d.length(), 0, "the dict is as it was");
});

test("50 clients at once, each on its own connection, doing mixed operations: every one is atomic, nothing is lost", async () => {
  await using manager = await Manager.start();
  const l = manager.list<string>();
  const d = manager.dict<string, number>();
  const { ref: lref } = handleOf(l);
  const { ref: dref } = handleOf(d);
  const clients = Array.from({ length: 50 }, () => new Link(manager.address, manager.authkey));
  await Promise.all(clients.map(async (c, who) => {
    for (let i = 0; i < 10; i++) {
      await c.request("call", lref.id, "append", [`${who}:${i}`]);
      await c.request("call", dref.id, "set", [`${who}`, i]);
      await c.request("call", lref.id, "length", []);
    }
  }));
  for (const c of clients) c.close();
  const all = await l.toArray();
  assertEquals(all.length, 500);
  for (let who = 0; who < 50; who++) {
    assertEquals(all.filter((x) => x.startsWith(`${who}:`)), Array.from({ length: 10 }, (_, i) => `${who}:${i}`));
  }
  assertEquals(await d.length(), 50);
  assertEquals(new Set(await d.values()), new Set([9]));
}, { timeout: 60_000 });

export async function consumeManaged(q: QueueProxy<number>, out: ListProxy<number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await out.append(await q.get());
}

test("manager.Queue: items from here reach children in order; QueueEmpty, QueueFull and EOFError as their classes", async () => {
  await using manager = await Manager.start();
  const q = manager.Queue<number>();
  const out = manager.list<number>();
  const p = start(consumeManaged, [q, out, 20]);
  for (let i = 0; i < 20; i++) await q.put(i);
  await p.join();
  assertEquals(p.exitCode, 0);
  assertEquals(await out.toArray(), Array.from({ length: 20 }, (_, i) => i));
  await assertRejects(() => q.get({ timeout: 20 }), QueueEmpty);
  await assertRejects(() => q.getNowait(), QueueEmpty);
  const small = manager.Queue<string>(1);
  await small.put("a");
  assertEquals([await small.full(), await small.qsize(), await small.empty()], [true, 1, false]);
  await assertRejects(() => small.putNowait("b"), QueueFull);
  await assertRejects(() => small.put("b", { timeout: 20 }), QueueFull);
  await small.close();
  assertEquals(await small.get(), "a");
  await assertRejects(() => small.get(), EOFError);
});

test("manager.JoinableQueue: join resolves once every item is done", async () => {
  await using manager = await Manager.start();
  const q = manager.JoinableQueue<string>();
  await q.put("a");
  await q.put("b");
  assertEquals(await q.join(20), false);
  await q.get();
  await q.taskDone();
  assertEquals(await q.join(20), false);
  await q.get();
  await q.taskDone();
  assertEquals(await q.join(1000), true);
  await assertRejects(() => q.taskDone(), Error);
});

export async function incrementUnder(lock: LockProxy, d: DictProxy<string, number>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await lock.withLock(async () => {
      const v = (await d.get("n")) ?? 0; // read, then write: only the lock keeps this whole
      await d.set("n", v + 1);
    });
  }
}

export async function holdAndDie(lock: LockProxy, ready: EventProxy): Promise<void> {
  await lock.acquire();
  await ready.set();
  setInterval(() => {}, 1000); // held until killed (an idle thread would end, closing its connection)
  await new Promise(() => {});
}

test("manager.Lock keeps read-then-write increments from 3 children exact; a killed holder's lock is let go", async () => {
  await using manager = await Manager.start();
  const lock = manager.Lock();
  const d = manager.dict<string, number>();
  const ps = [0, 1, 2].map(() => start(incrementUnder, [lock, d, 15]));
  for (const p of ps) await p.join();
  assertEquals(await d.get("n"), 45);
  const ready = manager.Event();
  const holder = start(holdAndDie, [lock, ready]);
  assertEquals(await ready.wait(20_000), true);
  assertEquals(await lock.acquire({ timeout: 50 }), false, "held while its holder lives");
  holder.kill();
  await holder.join();
  assertEquals(await lock.acquire({ timeout: 10_000 }), true, "let go once its holder's connection closed");
  await lock.release();
}, {
  timeout: 60_000,
  skip: startMethod === "thread" && runtimeName === "deno"
    ? "Deno's terminate() does not stop a busy thread, so its connection stays open"
    : false,
});

test("manager.Semaphore, BoundedSemaphore and Event", async () => {
  await using manager = await Manager.start();
  const s = manager.Semaphore(2);
  assertEquals([await s.acquire(), await s.acquire(), await s.acquire({ block: false })], [true, true, false]);
  assertEquals(await s.getValue(), 0);
  await s.release();
  assertEquals(await s.getValue(), 1);
  const b = manager.BoundedSemaphore(1);
  await assertRejects(() => b.release(), Error);
  const e = manager.Event();
  assertEquals([await e.isSet(), await e.wait(20)], [false, false]);
  await e.set();
  assertEquals([await e.isSet(), await e.wait()], [true, true]);
  await e.clear();
  assertEquals(await e.isSet(), false);
  assertThrows(() => manager.Semaphore(-1), RangeError);
});

export async function waitAt(b: BarrierProxy, out: ListProxy<number>): Promise<void> {
  await out.append(await b.wait(20_000));
}

export async function tryRelease(r: RLockProxy, out: ListProxy<string>): Promise<void> {
  await r.release().then(() => out.append("released"), (e: Error) => out.append(e.name));
}

test("manager.RLock belongs to the client that took it; manager.Barrier releases its parties together", async () => {
  await using manager = await Manager.start();
  const r = manager.RLock();
  assertEquals([await r.acquire(), await r.acquire()], [true, true]);
  const out = manager.list<string>();
  const p = start(tryRelease, [r, out]);
  await p.join();
  assertEquals(await out.toArray(), ["RuntimeError"], "another process may not release it");
  await r.release();
  await r.release();
  await assertRejects(() => r.release(), Error, "un-acquired");
  const b = manager.Barrier(3);
  const got = manager.list<number>();
  const ps = [0, 1].map(() => start(waitAt, [b, got]));
  const mine = await b.wait(20_000);
  for (const q of ps) await q.join();
  assertEquals([...(await got.toArray()), mine].sort(), [0, 1, 2]);
  assertEquals([await b.parties(), await b.nWaiting(), await b.broken()], [3, 0, false]);
  await assertRejects(() => manager.Barrier(2).wait(20), BrokenBarrierError);
});

/** A manager barrier's action: runs in the manager's process, notes each cycle in a file named by the environment. */
export function noteCycle(): void {
  appendFileSync(process.env.MULTIPROC_TEST_CYCLES!, "x");
}

export async function waitRounds(b: BarrierProxy, rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++) await b.wait(20_000);
}

test("manager.Barrier's action runs once per cycle in the manager before the parties go on; code as text is refused", async () => {
  const file = join(mkdtempSync(join(tmpdir(), "multiproc-")), "cycles");
  writeFileSync(file, "");
  process.env.MULTIPROC_TEST_CYCLES = file;
  try {
    await using manager = await Manager.start();
    const b = manager.Barrier(2, noteCycle, 20_000);
    const p = start(waitRounds, [b, 3]);
    for (let r = 0; r < 3; r++) {
      await b.wait();
      assertEquals(readFileSync(file, "utf8").length, r + 1, `cycle ${r}: the action ran before the release`);
    }
    await p.join();
    assertEquals(p.exitCode, 0);
    assertThrows(() => manager.Barrier(2, () => 1), TypeError, "runs no code sent to it");
    assertThrows(() => manager.Barrier(2, 500 as never), TypeError, "Barrier(2, undefined, 500)");
    // A client naming code the manager's program does not have is refused by the manager.
    const forged = { address: manager.address, authkey: manager.authkey, id: "forged-barrier", kind: "barrier" };
    const link = new Link(manager.address, manager.authkey);
    await link.request("new", forged.id, "barrier", [2, undefined, { type: "main", url: "file:///elsewhere.ts", name: "f", hash: "0" }])
      .then(() => assert(false, "made"), (e: Error) => assert(e.message.includes("exported from the manager's main module"), e.message));
    link.close();
  } finally {
    delete process.env.MULTIPROC_TEST_CYCLES;
    rmSync(dirname(file), { recursive: true, force: true });
  }
});

export async function tryLock(l: LockProxy, out: ListProxy<boolean>): Promise<void> {
  const got = await l.acquire({ block: false });
  await out.append(got);
  if (got) await l.release();
}

test("manager.Condition(lock) is over that lock: holding one holds the other, wait lets it go", async () => {
  await using manager = await Manager.start();
  const lock = manager.Lock();
  const c = manager.Condition(lock);
  const seen = manager.list<boolean>();
  await c.acquire();
  let p = start(tryLock, [lock, seen]);
  await p.join();
  assertEquals(await c.wait(300), false, "nobody notified (the lock was let go meanwhile)");
  // While it waits, another process takes the lock and notifies.
  const waiting = c.wait(20_000);
  p = start(tryLock, [lock, seen]);
  await p.join();
  const flags = manager.dict<string, boolean>();
  const q = start(flagAndNotify, [c, flags]);
  assertEquals(await waiting, true, "notified");
  assertEquals(await flags.get("go"), true);
  assertEquals(await seen.toArray(), [false, true], "held through the condition; free while it waits");
  await c.release();
  await q.join();
  assertEquals(await lock.acquire({ block: false }), true, "let go with the condition");
  await lock.release();
  // Over an RLock: re-entrant through either.
  const r = manager.RLock();
  const rc = manager.Condition(r);
  await rc.acquire();
  assertEquals(await r.acquire({ block: false }), true, "the same client holds it again");
  await r.release();
  await rc.release();
  assertThrows(() => manager.Condition(manager.dict() as never), TypeError, "Lock or RLock proxy");
  assertThrows(() => manager.Condition(rc as never), TypeError, "Lock or RLock proxy");
});

export async function flagAndNotify(c: ConditionProxy, flags: DictProxy<string, boolean>): Promise<void> {
  await c.withLock(async () => {
    await flags.set("go", true);
    await c.notifyAll();
  });
}

test("manager.Condition: waitFor wakes once a child's change makes the predicate true; wait without the lock is refused", async () => {
  await using manager = await Manager.start();
  const c = manager.Condition();
  const flags = manager.dict<string, boolean>();
  await assertRejects(() => c.wait(10), Error, "un-acquired");
  await c.acquire();
  assertEquals(await c.wait(20), false, "nobody notified");
  const p = start(flagAndNotify, [c, flags]);
  assertEquals(await c.waitFor(async () => (await flags.get("go")) === true, 20_000), true);
  await c.release();
  await p.join();
  assertEquals(p.exitCode, 0);
});
