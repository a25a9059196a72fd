// Queue, JoinableQueue and SimpleQueue on whatever runtime runs this file,
// under the start method the runner sets: the API in one process, values
// keeping their types through a child, properties (every item delivered
// exactly once and in order per producer, whatever the mix of producers,
// consumers and maxsize; join resolving exactly when every item is done),
// and faults (a producer or consumer killed mid-stream, an uncloneable
// item, close while consumers wait, bad arguments).
import process from "node:process";
import { writeSync } from "node:fs";
import fc from "fast-check";
import {
  EOFError,
  getContext,
  JoinableQueue,
  Process,
  Queue,
  QueueEmpty,
  QueueFull,
  SerializationError,
  SharedArray,
  SimpleQueue,
} from "../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test, waitFor } from "./harness.ts";
import { Ring } from "../lib/queue/ring.ts";
import { getHost } from "../lib/runtime/host.ts";

const ctx = getContext(startMethod);

// ---- targets run in children ----------------------------------------------

export async function produce(q: Queue<[number, number]>, who: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await q.put([who, i]);
}

export async function consume(q: Queue<unknown>, out: Queue<unknown>): Promise<void> {
  for await (const x of q) await out.put(x);
}

/** Takes items one at a time and marks each in `seen` (no queue of its own to say so), until killed. */
export async function takeAndMark(q: Queue<number>, seen: SharedArray, started: Queue<string>): Promise<void> {
  await started.put("go");
  for (;;) seen[await q.get()] = 1;
}

export async function echo(from: Queue<unknown>, to: Queue<unknown>): Promise<void> {
  await to.put(await from.get());
}

export async function syncOps(q: JoinableQueue<number>, out: Queue<unknown>): Promise<void> {
  q.putSync(1);
  q.putNowait(2);
  const size = q.qsize();
  const a = q.getSync({ timeout: 1000 });
  const b = q.getNowait();
  q.taskDone();
  q.taskDone();
  let empty = "none";
  try {
    q.getNowait();
  } catch (e) {
    empty = (e as Error).name;
  }
  const unfinishedJoin = await q.join(10);
  // A getSync with no timeout sleeps until an item comes (from the parent,
  // told that we are about to).
  await out.put("waiting");
  const c = q.getSync();
  await out.put({ size, a, b, c, empty, isEmpty: q.empty(), unfinishedJoin });
}

export async function badPut(q: Queue<unknown>, out: Queue<unknown>): Promise<void> {
  let error = "";
  try {
    await q.put({ f: () => 1 });
  } catch (e) {
    error = `${(e as Error).name}: ${(e as Error).message}`;
  }
  await q.put("after");
  await out.put(error);
}

export async function produceForever(q: Queue<number>, started: Queue<string>): Promise<void> {
  await started.put("go");
  for (let i = 0;; i++) await q.put(i);
}

export async function waitThenReport(q: Queue<unknown>, out: Queue<string>): Promise<void> {
  await out.put("waiting");
  try {
    await q.get();
    await out.put("got an item");
  } catch (e) {
    await out.put((e as Error).name);
  }
}

export async function acknowledge(q: JoinableQueue<number>, out: Queue<number>): Promise<void> {
  for await (const x of q) {
    await out.put(x);
    q.taskDone();
  }
}

async function joinAll(ps: Process[]): Promise<void> {
  await Promise.all(ps.map((p) => p.join()));
  for (const p of ps) assertEquals(p.exitCode, 0, `${p.name} exit code`);
}

function start(target: (...args: never[]) => unknown, args: unknown[]): Process {
  const p = new ctx.Process({ target: target as never, args });
  p.start();
  return p;
}

async function drain<T>(q: Queue<T>, n: number): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(await q.get({ timeout: 20000 }));
  return out;
}

// ---- in one process ---------------------------------------------------------

test("Queue: FIFO, nowait variants, QueueFull and QueueEmpty, sizes", async () => {
  const q = new Queue<number>(2);
  assertEquals([q.qsize(), q.empty(), q.full()], [0, true, false]);
  await q.put(1);
  q.putNowait(2);
  assertEquals([q.qsize(), q.empty(), q.full()], [2, false, true]);
  assertThrows(() => q.putNowait(3), QueueFull);
  await assertRejects(() => q.put(3, { block: false }), QueueFull);
  const t0 = performance.now();
  await assertRejects(() => q.put(3, { timeout: 50 }), QueueFull);
  assert(performance.now() - t0 >= 45, "put waited its timeout");
  assertEquals(await q.get(), 1);
  assertEquals(q.getNowait(), 2);
  assertThrows(() => q.getNowait(), QueueEmpty);
  await assertRejects(() => q.get({ timeout: 30 }), QueueEmpty);
  await assertRejects(() => q.get({ block: false }), QueueEmpty);
  // a put waiting for room goes through once a get makes some
  await q.put(10);
  await q.put(11);
  const waiting = q.put(12);
  assertEquals(await q.get(), 10);
  await waiting;
  assertEquals([await q.get(), await q.get()], [11, 12]);
});

// (Small items are encoded into, and taken out through, views of scratch
// memory made once per length: two items of the same length, one after the
// other, must not share bytes.)
test("property: values of every small shape come back as they were put, put and taken in any interleaving", async () => {
  const value = fc.oneof(
    fc.integer(),
    fc.double(),
    fc.string({ maxLength: 30 }),
    fc.string({ unit: "grapheme", maxLength: 12 }),
    fc.string({ minLength: 100, maxLength: 400 }), // (more than the scratch memory holds at first)
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.array(fc.integer(), { maxLength: 4 }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(fc.tuple(value, fc.boolean()), { maxLength: 80 }), async (steps) => {
      const q = new Queue<unknown>();
      const put: unknown[] = [];
      const got: unknown[] = [];
      for (const [v, takeOne] of steps) {
        await q.put(v);
        put.push(v);
        if (takeOne) got.push(q.qsize() % 2 ? await q.get() : q.getNowait());
      }
      while (!q.empty()) got.push(await q.get());
      assertEquals(got, put);
    }),
    { numRuns: 60 },
  );
});

test("Queue: close() ends puts, gets drain then EOFError, for await ends", async () => {
  const q = new Queue<string>();
  await q.put("a");
  await q.put("b");
  q.close();
  assert(q.closed);
  await assertRejects(() => q.put("c"), Error, "closed");
  assertThrows(() => q.putNowait("c"), Error, "closed");
  assertEquals(await q.get(), "a");
  const rest: string[] = [];
  for await (const x of q) rest.push(x);
  assertEquals(rest, ["b"]);
  await assertRejects(() => q.get(), EOFError);
  assertThrows(() => q.getNowait(), EOFError);
});

test("Queue: a waiting get wakes on put and on close; abort stops it without losing an item", async () => {
  const q = new Queue<number>();
  const got = q.get();
  setTimeout(() => q.putNowait(5), 10);
  assertEquals(await got, 5);
  const ac = new AbortController();
  const aborted = q.get({ signal: ac.signal });
  ac.abort(new Error("stop"));
  await assertRejects(() => aborted, Error, "stop");
  q.putNowait(6);
  assertEquals(q.getNowait(), 6, "the aborted get took nothing");
  const eof = q.get();
  q.close();
  await assertRejects(() => eof, EOFError);
});

test("a get that waits before the queue first goes to a child wakes on that child's put", async () => {
  // Until a queue crosses to another thread, this thread's waits on it are
  // woken directly (no Atomics.waitAsync); crossing must make the waits
  // already under way hear the other thread.
  const q = new Queue<[number, number]>();
  const stop = new AbortController();
  const got = q.get({ signal: stop.signal }).catch((e: Error) => e.message);
  const p = new ctx.Process({ target: produce, args: [q, 7, 1] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
  // The item is in the queue now: the get has it at once, or never (2 s is
  // only how long this test lets a lost wake-up go unseen).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise((resolve) => (timer = setTimeout(() => resolve("the get was never woken"), 2000)));
  const first = await Promise.race([got, late]);
  clearTimeout(timer);
  stop.abort(new Error("stopped"));
  assertEquals(first, [7, 0]);
});

test("Queue: bad arguments are refused clearly and the queue keeps working", async () => {
  assertThrows(() => new Queue("3" as never), TypeError, "maxsize");
  const q = new Queue<unknown>();
  await assertRejects(() => q.get({ timeout: -1 }), TypeError, "timeout");
  await assertRejects(() => q.put(1, { timeout: "x" as never }), TypeError, "timeout");
  const e = await assertRejects(() => q.put({ a: [1, () => 2] }), SerializationError, "item.a[1]");
  assert(e.message.includes("function"), e.message);
  assertThrows(() => q.putNowait(Symbol("s")), SerializationError);
  await assertRejects(() => q.put(new Queue()), SerializationError, "pass it to the Process");
  assertEquals(q.qsize(), 0, "nothing was put");
  await q.put("fine");
  assertEquals(await q.get(), "fine");
});

test("JoinableQueue: join resolves when every item is acknowledged; over-acknowledging throws", async () => {
  const q = new JoinableQueue<number>();
  assertEquals(await q.join(0), true);
  await q.put(1);
  await q.put(2);
  assertEquals(await q.join(20), false);
  let joined = false;
  const j = q.join().then(() => (joined = true));
  await q.get();
  q.taskDone();
  await new Promise((r) => setTimeout(r, 20));
  assertEquals(joined, false, "one item still unfinished");
  await q.get();
  q.taskDone();
  await j;
  assertThrows(() => q.taskDone(), Error, "more times");
});

test("SimpleQueue: put, get, empty, close", async () => {
  const q = new SimpleQueue<number[]>();
  assert(q.empty());
  await q.put([1, 2]);
  assert(!q.empty());
  assertEquals(await q.get(), [1, 2]);
  q.close();
  await assertRejects(() => q.get(), EOFError);
});

test("Queue: big items and many of them (the ring grows)", async () => {
  const q = new Queue<Uint8Array | number>();
  const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
  for (let i = 0; i < 20000; i++) q.putNowait(i);
  await q.put(big);
  for (let i = 0; i < 20000; i++) assertEquals(q.getNowait(), i);
  assertEquals(await q.get(), big);
});

// ---- across children --------------------------------------------------------

test("values keep their types through a child and back", async () => {
  class Oops extends RangeError {
    code = 7;
  }
  const value = {
    map: new Map<unknown, unknown>([[1, { deep: [1n, -0, NaN] }]]),
    set: new Set(["x"]),
    date: new Date(5),
    bytes: new Float32Array([1.5, 2.5]),
    error: new Oops("bad", { cause: new Error("root") }),
    nothing: undefined,
    text: "héllo ✓",
    lone: "a\uD800b",
    bare: "x\uDFFF",
  };
  const a = new Queue<unknown>();
  const b = new Queue<unknown>();
  const p = start(echo, [a, b]);
  await a.put(value);
  const back = (await b.get({ timeout: 20000 })) as typeof value;
  await joinAll([p]);
  assertEquals(back.map, value.map);
  assertEquals([...back.set], ["x"]);
  assertEquals(back.date.getTime(), 5);
  assertEquals(back.bytes, value.bytes);
  assertEquals(back.text, value.text);
  assertEquals([back.lone, back.bare], [value.lone, value.bare], "lone surrogates survive");
  assert("nothing" in back && back.nothing === undefined);
  assert(back.error instanceof Error);
  assertEquals([back.error.name, back.error.message, (back.error as Oops).code], ["RangeError", "bad", 7]);
  assertEquals((back.error.cause as Error).message, "root");
});

test("sync operations in a child: putSync, getSync, nowait, qsize, taskDone, join", async () => {
  const q = new JoinableQueue<number>();
  const out = new Queue<unknown>();
  const p = start(syncOps, [q, out]);
  assertEquals(await out.get({ timeout: 20000 }), "waiting");
  await q.put(3);
  const report = await out.get({ timeout: 20000 });
  await joinAll([p]);
  assertEquals(report, { size: 2, a: 1, b: 2, c: 3, empty: "QueueEmpty", isEmpty: true, unfinishedJoin: true });
});

test("an uncloneable item is refused in the child, and the queue keeps working there", async () => {
  const q = new Queue<unknown>();
  const out = new Queue<string>();
  const p = start(badPut, [q, out]);
  const error = await out.get({ timeout: 20000 });
  await joinAll([p]);
  assert(error.startsWith("SerializationError") && error.includes("item.f"), error);
  assertEquals(q.getNowait(), "after");
});

test("property: every item delivered exactly once, in order per producer", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 3 }),
      fc.integer({ min: 0, max: 2 }),
      fc.integer({ min: 0, max: 60 }),
      fc.constantFrom(0, 1, 3, 50),
      async (producers, childConsumers, perProducer, maxsize) => {
        const q = new Queue<[number, number]>(maxsize);
        const out = new Queue<[number, number]>();
        const ps = Array.from({ length: producers }, (_, who) => start(produce, [q, who, perProducer]));
        const cs = Array.from({ length: childConsumers }, () => start(consume, [q, out]));
        const total = producers * perProducer;
        // The parent consumes too, and stops once producers are done and
        // the queue is closed.
        const mine: Array<[number, number]> = [];
        const producing = joinAll(ps).then(() => q.close());
        for await (const x of q) mine.push(x);
        await producing;
        await joinAll(cs);
        const theirs = await drain(out, total - mine.length);
        assertEquals(out.qsize(), 0, "nothing delivered twice");
        const seen = new Map<string, number>();
        for (const [who, i] of [...mine, ...theirs]) {
          const key = `${who}:${i}`;
          assert(!seen.has(key), `item ${key} delivered twice`);
          seen.set(key, 1);
        }
        assertEquals(seen.size, total, "every item delivered");
        // per producer, the parent's share and each child's share are in order
        for (const share of [mine, theirs]) {
          const last = new Map<number, number>();
          for (const [who, i] of share) {
            if (childConsumers <= 1 || share === mine) assert((last.get(who) ?? -1) < i, `producer ${who} out of order`);
            last.set(who, i);
          }
        }
      },
    ),
    { numRuns: 6 },
  );
}, { timeout: 120000 });

test("property: JoinableQueue.join resolves exactly when every item is acknowledged", async () => {
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer(), { maxLength: 40 }), async (items) => {
      const q = new JoinableQueue<number>();
      const out = new Queue<number>();
      for (const x of items) await q.put(x);
      let joined = false;
      const j = q.join().then(() => (joined = true));
      const p = start(acknowledge, [q, out]);
      const got = await drain(out, items.length);
      await j;
      assert(joined);
      assertEquals(got, items);
      q.close();
      await joinAll([p]);
    }),
    { numRuns: 4 },
  );
}, { timeout: 120000 });

test("fault: a producer killed mid-stream leaves the queue whole", async () => {
  const q = new Queue<number>(8);
  const started = new Queue<string>();
  const p = start(produceForever, [q, started]);
  assertEquals(await started.get({ timeout: 20000 }), "go");
  // let it fill the queue and block a few times, then kill it mid-put
  for (let i = 0; i < 200; i++) assertEquals(await q.get({ timeout: 20000 }), i);
  p.kill();
  await p.join();
  const rest: number[] = [];
  while (!q.empty()) rest.push(q.getNowait());
  assertEquals(rest, rest.map((_, i) => 200 + i), "what is left follows on, uncorrupted");
  q.putNowait(-1);
  assertEquals(q.getNowait(), -1);
});

test("fault: a consumer killed mid-stream loses at most the item it was taking", async () => {
  const q = new Queue<number>();
  const out = new Queue<number>();
  const total = 3000;
  for (let i = 0; i < total; i++) q.putNowait(i);
  const p = start(consume, [q, out]);
  await out.get({ timeout: 20000 });
  while (out.qsize() < 200) await new Promise((r) => setTimeout(r, 5));
  p.kill();
  await p.join();
  // Take everything out of both queues: each take goes through the queue's
  // lock, which finishes whatever the killed child left half done (a thread
  // killed inside a get; its lock is taken over once its exit is seen).
  // Items a child process had borrowed come back to the queue as soon as
  // the owner has read its last words, which may be a moment after its exit.
  const takeAll = (from: Queue<number>) => {
    const got: number[] = [];
    for (;;) {
      try {
        got.push(from.getNowait());
      } catch (e) {
        if (e instanceof QueueEmpty) return got;
        throw e;
      }
    }
  };
  const consumed = [0, ...takeAll(out)];
  let rest = takeAll(q);
  await waitFor(() => (rest = [...rest, ...takeAll(q)]) && total - consumed.length - rest.length <= 1, {
    timeout: 5000,
    message: "items were lost",
  });
  rest.sort((x, y) => x - y);
  assertEquals(rest, rest.map((_, i) => total - rest.length + i), "what is left is the end of the stream, whole");
  assertEquals(consumed.slice(1), consumed.slice(1).map((_, i) => i + 1), "the consumer took items in order");
  // What it took (and said so) is not put back for someone else.
  assert(rest.length === 0 || rest[0] > consumed.at(-1)!, `items ${rest[0]}..${consumed.at(-1)} delivered twice`);
});

// Starts takeAndMark on `total` items (`before`: run once the child is
// started, before it takes any), kills it once it took 600 or more, and
// checks that what it took is marked, what is left is the rest, whole, and
// nothing comes back twice.
async function killMarkingConsumer(total: number, before?: () => void): Promise<void> {
  const q = new Queue<number>();
  const seen = new SharedArray("b", total);
  const started = new Queue<string>();
  for (let i = 0; i < total; i++) q.putNowait(i);
  const p = start(takeAndMark, [q, seen, started]);
  before?.();
  assertEquals(await started.get({ timeout: 20000 }), "go");
  await waitFor(() => seen[600] === 1, { timeout: 20000, interval: 1 });
  p.kill();
  await p.join();
  const rest: number[] = [];
  const takeAll = () => {
    for (;;) {
      try {
        rest.push(q.getNowait());
      } catch (e) {
        if (e instanceof QueueEmpty) return;
        throw e;
      }
    }
  };
  const marked = () => [...seen].reduce((n: number, x) => n + (x as number), 0);
  // (what it had borrowed comes back once the owner has read its last words)
  takeAll();
  await waitFor(() => (takeAll(), total - marked() - rest.length <= 1), { timeout: 5000, message: "items were lost" });
  const twice = rest.filter((x) => seen[x] === 1);
  assertEquals(twice, [], "items it took were put back for others");
  rest.sort((x, y) => x - y);
  assertEquals(rest, rest.map((_, i) => total - rest.length + i), "what is left is the end of the stream, whole");
}

test("fault: a consumer killed while it takes item after item gives back only what it had not taken", async () => {
  // Unlike the test above, nothing the consumer does between its gets goes
  // to the owner on the request line: it marks what it took in shared
  // memory (a Node child process: through the state line).
  await killMarkingConsumer(4000);
});

test("fault: with the acknowledgement line full, a killed consumer still gives back only what it had not taken", async () => {
  // A Node child says which items it took on a FIFO its parent reads
  // lazily (lib/runtime/ack_line.ts); when the FIFO is full it says so on
  // its request line. Fill it with records of no child (token 0) before
  // the child takes anything.
  const record = new Uint8Array(12);
  let fd = -1;
  await killMarkingConsumer(3000, () => {
    fd = getHost().ackLine()!.writeFd;
    for (;;) {
      try {
        writeSync(fd, record);
      } catch (e) {
        assertEquals((e as { code?: string }).code, "EAGAIN");
        return;
      }
    }
  });
  // and the owner read it to the end when the child ended
  assertEquals(writeSync(fd, record), record.length, "the acknowledgement line was read when the child ended");
}, { skip: runtimeName !== "node" || startMethod !== "process" ? "the acknowledgement line is a Node child process's" : false });

test("fault: close() while consumers wait wakes them with EOFError", async () => {
  const q = new Queue<unknown>();
  const out = new Queue<string>();
  const ps = [start(waitThenReport, [q, out]), start(waitThenReport, [q, out])];
  assertEquals(await drain(out, 2), ["waiting", "waiting"]);
  q.close();
  assertEquals(await drain(out, 2), ["EOFError", "EOFError"]);
  await joinAll(ps);
});

export function putFromTask(q: Queue<number>, x: number): number {
  q.putSync(x * 10);
  return x;
}

let initQueue: Queue<string> | undefined;
export function keepQueue(q: Queue<string>): void {
  initQueue = q;
}
export async function sayFromWorker(x: number): Promise<number> {
  await initQueue!.put(`hello ${x}`);
  return x;
}

test("a queue reaches pool workers as a task argument and through initargs", async () => {
  const q = new Queue<number>();
  const said = new Queue<string>();
  await using pool = new ctx.Pool(2, { initializer: keepQueue, initargs: [said] });
  assertEquals(await pool.starmap(putFromTask, [[q, 1], [q, 2], [q, 3]]), [1, 2, 3]);
  assertEquals((await drain(q, 3)).sort(), [10, 20, 30]);
  assertEquals(await pool.map(sayFromWorker, [1, 2]), [1, 2]);
  assertEquals((await drain(said, 2)).sort(), ["hello 1", "hello 2"]);
});

export async function takeSomeThenWait(q: Queue<number>, n: number, said: Queue<string>, stop: Queue<string>): Promise<void> {
  for (let i = 0; i < n; i++) await q.get();
  await said.put("paused");
  await stop.get();
}

test("items a child consumer borrowed and left unread go back to the queue", async () => {
  const q = new Queue<number>();
  for (let i = 0; i < 200; i++) q.putNowait(i);
  const said = new Queue<string>();
  const stop = new Queue<string>();
  const p = start(takeSomeThenWait, [q, 20, said, stop]);
  assertEquals(await said.get({ timeout: 20000 }), "paused");
  // Whatever the child borrowed beyond its 20 comes back within moments.
  await waitFor(() => q.qsize() === 180, { timeout: 5000, message: `stranded: qsize ${q.qsize()}` });
  assertEquals(q.getNowait(), 20, "given back in front, in order");
  await stop.put("stop");
  await joinAll([p]);
});

/**
 * Takes `n` of the `total` items on `q`: a third by get (checking qsize
 * now and then), a third by getSync, a third by get and getNowait in turn;
 * puts the list of what it took on `out`, then waits for `stop`.
 */
export async function mixedTake(q: Queue<number>, total: number, n: number, out: Queue<number[]>, stop: Queue<string>): Promise<void> {
  const got: number[] = [];
  for (let i = 0; i < n; i++) {
    if (i < n / 3) {
      if (i % 50 === 0 && q.qsize() !== total - i) throw new Error(`qsize ${q.qsize()} after ${i} of ${total} taken`);
      got.push(await q.get());
    } else if (i < (2 * n) / 3) got.push(q.getSync({ timeout: 5000 }));
    else if (i % 2 === 0) got.push(await q.get());
    else {
      try {
        got.push(q.getNowait());
      } catch (e) {
        if (!(e instanceof QueueEmpty)) throw e;
        got.push(await q.get());
      }
    }
  }
  await out.put(got);
  await stop.get();
}

test("a child taking a long stream by get, getSync, getNowait and qsize in turn takes each item once, in order; the rest goes back in order", async () => {
  // (a Node child asks for its next batch while it takes the last: the
  // blocking calls must read that batch first, and what it has not taken
  // when it pauses must go back in front, in order)
  const q = new Queue<number>();
  const total = 3000;
  for (let i = 0; i < total; i++) q.putNowait(i);
  const out = new Queue<number[]>();
  const stop = new Queue<string>();
  const p = start(mixedTake, [q, total, 1500, out, stop]);
  const got = await out.get({ timeout: 20000 });
  assertEquals(got, Array.from({ length: 1500 }, (_, i) => i), "taken once each, in order");
  await waitFor(() => q.qsize() === total - 1500, { timeout: 5000, message: `stranded: qsize ${q.qsize()}` });
  const rest: number[] = [];
  for (let i = 1500; i < total; i++) rest.push(q.getNowait());
  assertEquals(rest, Array.from({ length: 1500 }, (_, i) => 1500 + i), "the rest is back, in order");
  await stop.put("stop");
  await joinAll([p]);
});

test("puts that wait for room keep their order, even when not awaited one by one", async () => {
  const q = new Queue<number>(1);
  const puts = [q.put(1), q.put(2), q.put(3), q.put(4)];
  const got: number[] = [];
  for (let i = 0; i < 4; i++) got.push(await q.get());
  await Promise.all(puts);
  assertEquals(got, [1, 2, 3, 4]);
});

export function putThenExit(q: Queue<number>, n: number): void {
  for (let i = 0; i < n; i++) q.putNowait(i);
  process.exit(0);
}

test("once join() returns, everything the child put is in the queue, even if it exited at once", async () => {
  const q = new Queue<number>();
  const p = start(putThenExit, [q, 500]);
  await p.join();
  assertEquals(q.qsize(), 500);
  assertEquals(q.getNowait(), 0);
});

export async function grandchildWork(q: Queue<number>, out: Queue<number>): Promise<void> {
  for (let i = 0; i < 50; i++) await q.put(100 + i);
  for (let i = 0; i < 20; i++) await out.put(await q.get());
}

export async function startGrandchild(q: Queue<number>, out: Queue<number>, method: "process" | "thread"): Promise<void> {
  const p = new (getContext(method).Process)({ target: grandchildWork, args: [q, out] });
  p.start();
  await p.join();
  if (p.exitCode !== 0) throw new Error(`grandchild exited with ${p.exitCode}`);
}

test("a queue passed on by a child to its own child stays connected", async () => {
  const q = new Queue<number>();
  const out = new Queue<number>();
  for (let i = 0; i < 20; i++) q.putNowait(i);
  const p = start(startGrandchild, [q, out, startMethod]);
  await joinAll([p]);
  assertEquals(await drain(out, 20), Array.from({ length: 20 }, (_, i) => i), "the grandchild got the oldest items, in order");
  assertEquals(await drain(q, 50), Array.from({ length: 50 }, (_, i) => 100 + i), "and what it put is here, in order");
  assertEquals(q.qsize(), 0);
});

test("a typed array put on a full queue is taken as it was when put", async () => {
  const q = new Queue<Uint8Array | number>(1);
  q.putNowait(0);
  const bytes = new Uint8Array(1000).fill(1);
  const waiting = q.put(bytes);
  bytes.fill(9);
  assertEquals(q.getNowait(), 0);
  await waiting;
  assertEquals((q.getNowait() as Uint8Array).every((b) => b === 1), true);
});

export function hammer(q: Queue<number>, other: Queue<number>, started: Queue<string>): void {
  started.putSync("go");
  for (let i = 0;; i++) {
    q.putSync(i);
    if (i % 3 === 0) {
      try {
        other.getNowait();
      } catch {
        // empty: go on
      }
    }
  }
}

test("fault: a child killed while it hammers two queues (likely inside a put or get) leaves both whole", async () => {
  for (let round = 0; round < 6; round++) {
    const q = new Queue<number>();
    const other = new Queue<number>();
    const started = new Queue<string>();
    for (let i = 0; i < 50_000; i++) other.putNowait(i);
    const p = start(hammer, [q, other, started]);
    await started.get({ timeout: 20000 });
    await waitFor(() => q.qsize() >= 500 + round * 300, { timeout: 20000, interval: 1 });
    p.kill();
    await p.join();
    // Taking everything goes through each queue's lock: a lock the child
    // held when it died is taken over and its half-done commit finished.
    let n = 0;
    for (;; n++) {
      let v: number;
      try {
        v = q.getNowait();
      } catch (e) {
        assert(e instanceof QueueEmpty, String(e));
        break;
      }
      assertEquals(v, n, `item ${n} of round ${round}`);
    }
    let last = -1;
    for (;;) {
      let v: number;
      try {
        v = other.getNowait();
      } catch (e) {
        assert(e instanceof QueueEmpty, String(e));
        break;
      }
      if (last >= 0) assertEquals(v, last + 1, `the other queue, round ${round}`);
      last = v;
    }
    assertEquals(last, 49_999, "the other queue ends where it did");
    q.putNowait(-1);
    assertEquals(q.getNowait(), -1, "and both go on working");
  }
}, {
  timeout: 120000,
  skip: runtimeName === "deno" && startMethod === "thread"
    ? "Deno's terminate() does not stop a thread busy in a loop: it would spin on after the test"
    : false,
});

export async function waitMany(q: Queue<number>, out: Queue<number[]>, n: number): Promise<void> {
  // n gets waiting at once in this child, more than one waiting thread's
  // table holds (127) where the queue is mapped OS memory (Deno, Bun).
  const got = await Promise.all(Array.from({ length: n }, () => q.get({ timeout: 20_000 })));
  await out.put(got.sort((a, b) => a - b));
}

test("200 gets waiting at once, here and in a child: each gets one item, none is lost", async () => {
  const n = 200;
  const q = new Queue<number>();
  const gets = Array.from({ length: n }, () => q.get({ timeout: 20_000 }));
  for (let i = 0; i < n; i++) await q.put(i);
  assertEquals((await Promise.all(gets)).sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i));
  const out = new Queue<number[]>();
  const p = start(waitMany, [q, out, n]);
  for (let i = 0; i < n; i++) await q.put(n + i);
  assertEquals(await out.get({ timeout: 20_000 }), Array.from({ length: n }, (_, i) => n + i));
  await joinAll([p]);
}, { timeout: 60_000 });

export async function bigBoth(up: Queue<unknown>, down: Queue<Uint8Array>, n: number, size: number): Promise<void> {
  for (let i = 0; i < n; i++) await up.put(new Uint8Array(size).fill(i + 1));
  for (let i = 0; i < n; i++) {
    const got = await down.get();
    await up.put([got.length, got[0], got[size - 1]]);
  }
}

test("rings grow while a child and this process both use them: big items both ways arrive whole", async () => {
  const n = 24, size = 512 * 1024; // 12 MiB at once: a ring grows several times past its first 64 KiB
  const up = new Queue<unknown>();
  const down = new Queue<Uint8Array>();
  const p = start(bigBoth, [up, down, n, size]);
  await waitFor(() => up.qsize() === n, { timeout: 20_000 });
  for (let i = 0; i < n; i++) {
    const got = await up.get({ timeout: 20_000 }) as Uint8Array;
    assertEquals([got.length, got[0], got[size - 1]], [size, i + 1, i + 1]);
  }
  for (let i = 0; i < n; i++) await down.put(new Uint8Array(size).fill(100 + i));
  for (let i = 0; i < n; i++) assertEquals(await up.get({ timeout: 20_000 }), [size, 100 + i, 100 + i]);
  await joinAll([p]);
}, { timeout: 60_000 });

// The ring under every queue and pipe, against a plain array: random puts
// (of sizes that make it wrap and grow), gets, frames given back, and
// acknowledgements, with and without a maxsize. (One thread: the start
// method does not matter; it runs in every configuration anyway, cheaply.)
test("property: a queue's ring behaves as an array, through wraps, growth and frames given back", () => {
  type Op = { op: "put"; size: number } | { op: "get" } | { op: "unget"; n: number } | { op: "done" };
  const op = fc.oneof(
    { weight: 5, arbitrary: fc.record({ op: fc.constant("put" as const), size: fc.oneof(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 6000, max: 30000 })) }) },
    { weight: 4, arbitrary: fc.constant({ op: "get" as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant("unget" as const), n: fc.integer({ min: 1, max: 3 }) }) },
    { weight: 1, arbitrary: fc.constant({ op: "done" as const }) },
  );
  let serial = 0;
  const frame = (size: number) => {
    const f = new Uint8Array(size);
    const id = ++serial;
    for (let i = 0; i < size; i++) f[i] = (id * 31 + i) & 255;
    return f;
  };
  fc.assert(
    fc.property(fc.constantFrom(0, 2, 7), fc.array(op, { minLength: 20, maxLength: 200 }), fc.boolean(), (maxsize, ops: Op[], toScratch) => {
      const ring = new Ring({ maxsize });
      const model: Uint8Array[] = [];
      const taken: Uint8Array[] = [];
      let unfinished = 0;
      for (const o of ops) {
        if (o.op === "put") {
          const f = frame(o.size);
          // (half the frames go as a head and a body)
          const r = ring.put(o.size > 8 && o.size % 2 === 0 ? [f.subarray(0, 8), f.subarray(8)] : f, 0);
          if (maxsize > 0 && model.length >= maxsize) assertEquals(r, "full");
          else {
            assertEquals(r, "ok");
            model.push(f);
            unfinished++;
          }
        } else if (o.op === "get") {
          const r = ring.get(0, toScratch);
          if (model.length === 0) assertEquals(r, "empty");
          else {
            const want = model.shift()!;
            assert(r instanceof Uint8Array && r.length === want.length && r.every((b, i) => b === want[i]), "the oldest frame, whole");
            taken.push(want);
          }
        } else if (o.op === "unget") {
          const back = taken.splice(Math.max(0, taken.length - o.n));
          assertEquals(ring.unget(back, 0), "ok");
          model.unshift(...back);
        } else {
          assertEquals(ring.taskDone(), unfinished > 0);
          if (unfinished > 0) unfinished--;
        }
        assertEquals(ring.count(), model.length, "count");
        assertEquals(ring.unfinished(), unfinished, "unfinished");
      }
      ring.close();
      for (const want of model) {
        const r = ring.get(0);
        assert(r instanceof Uint8Array && r.every((b, i) => b === want[i]), "drained in order after close");
      }
      assertEquals(ring.get(0), "eof");
      assertEquals(ring.put(new Uint8Array(1), 0), "closed");
    }),
    { numRuns: 200 },
  );
});

test("a queue's ring: small frames and their lengths that straddle the ring's end arrive whole", () => {
  const CAP = 64 * 1024; // a new ring's capacity
  for (let s = CAP - 4 - 22; s < CAP - 4; s++) {
    for (const toScratch of [false, true]) {
      const ring = new Ring({ maxsize: 0 });
      assertEquals(ring.put(new Uint8Array(s), 0), "ok");
      assert(ring.get(0) instanceof Uint8Array);
      // the next frames start s + 4 bytes in: a few bytes before the end
      const small = Uint8Array.from({ length: 12 }, (_, i) => i + 1);
      assertEquals(ring.put(small, 0), "ok");
      assertEquals(ring.put([small.subarray(0, 5), small.subarray(5)], 0), "ok");
      for (let k = 0; k < 2; k++) {
        const r = ring.get(0, toScratch);
        assert(r instanceof Uint8Array && r.length === 12 && r.every((b, i) => b === i + 1), `a 12-byte frame at ${s + 4}, whole`);
      }
    }
  }
});
