// Pipe and Connection on whatever runtime runs this file, under the start
// method the runner sets: the API in one process, messages and bytes both
// ways through a child, end of file as with file descriptors (every copy
// closed or gone with its process or thread), and faults (an uncloneable
// value, a holder killed, bad arguments).
import fc from "fast-check";
import { type Connection, EOFError, getContext, Pipe, Process, SerializationError } from "../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test } from "./harness.ts";

const ctx = getContext(startMethod);

// ---- targets run in children ----------------------------------------------

export async function echo(conn: Connection<unknown>): Promise<void> {
  for (;;) {
    let x: unknown;
    try {
      x = await conn.recv();
    } catch (e) {
      if (e instanceof EOFError) return;
      throw e;
    }
    if (x instanceof Uint8Array) conn.sendBytes(x.map((b) => 255 - b));
    else conn.send(x);
  }
}

export function sendAndLeave(conn: Connection<unknown>, n: number): void {
  for (let i = 0; i < n; i++) conn.send(i);
  // no close(): this copy goes with the child
}

export function syncEcho(conn: Connection<unknown>): void {
  const x = conn.recvSync();
  conn.send({ got: x });
  conn.close();
}

export async function sendForever(conn: Connection<number>): Promise<void> {
  for (let i = 0;; i++) {
    conn.send(i);
    if (i % 64 === 0) await new Promise((r) => setTimeout(r, 1));
  }
}

export async function reportAfterOwnClose(conn: Connection<string>, done: Connection<string>): Promise<void> {
  // the parent closes its copy of `conn` meanwhile; ours stays open
  await done.recv();
  conn.send("still open");
  conn.close();
}

export async function countUntilEof(conn: Connection<number>, report: Connection<unknown>): Promise<void> {
  const got: number[] = [];
  for (;;) {
    try {
      got.push(await conn.recv());
    } catch (e) {
      if (e instanceof EOFError) break;
      throw e;
    }
    if (got.length === 100) report.send("flowing");
  }
  report.send({ n: got.length, ordered: got.every((x, i) => x === i) });
  report.close();
}

function start(target: (...args: never[]) => unknown, args: unknown[]): Process {
  const p = new ctx.Process({ target: target as never, args });
  p.start();
  return p;
}

async function joined(p: Process): Promise<void> {
  await p.join();
  assertEquals(p.exitCode, 0, `${p.name} exit code`);
}

// ---- in one process ---------------------------------------------------------

test("Pipe(): both ends send and receive, in order, keeping types", async () => {
  const [a, b] = Pipe<unknown>();
  class Oops extends TypeError {
    code = 3;
  }
  a.send(1);
  a.send(new Map([["k", [1n, null]]]));
  a.send(new Oops("bad", { cause: "why" }));
  b.send("back");
  assertEquals(await b.recv(), 1);
  assertEquals(await b.recv(), new Map([["k", [1n, null]]]));
  const e = (await b.recv()) as Oops;
  assertEquals([e instanceof Error, e.name, e.message, e.code, e.cause], [true, "TypeError", "bad", 3, "why"]);
  assertEquals(await a.recv(), "back");
  assert(a.readable && a.writable && b.readable && b.writable);
});

test("Pipe(false): the first end only receives, the second only sends", async () => {
  const [r, w] = Pipe<string>(false);
  assert(r.readable && !r.writable && !w.readable && w.writable);
  w.send("x");
  assertEquals(await r.recv(), "x");
  assertThrows(() => r.send("no"), TypeError, "only receives");
  await assertRejects(() => w.recv(), TypeError, "only sends");
  assertThrows(() => Pipe("yes" as never), TypeError, "duplex");
});

test("sendBytes/recvBytes, with offset and size; recvBytes refuses a value message", async () => {
  const [a, b] = Pipe();
  const bytes = new Uint8Array([0, 1, 2, 3, 4, 5]);
  a.sendBytes(bytes);
  a.sendBytes(bytes, 2, 3);
  a.sendBytes(bytes.buffer);
  assertEquals(await b.recvBytes(), bytes);
  assertEquals(await b.recvBytes(), new Uint8Array([2, 3, 4]));
  assertEquals(await b.recvBytes(), bytes);
  assertThrows(() => a.sendBytes(bytes, 4, 5), RangeError);
  a.send("text");
  await assertRejects(() => b.recvBytes(), TypeError, "use recv()");
});

test("poll: no timeout checks at once, a timeout waits, and it is true at end of file", async () => {
  const [a, b] = Pipe();
  assertEquals(await b.poll(), false);
  const t0 = performance.now();
  assertEquals(await b.poll(40), false);
  assert(performance.now() - t0 >= 35, "poll waited its timeout");
  setTimeout(() => a.send(1), 10);
  assertEquals(await b.poll(null), true);
  assertEquals(await b.recv(), 1);
  a.close();
  assertEquals(await b.poll(), true, "recv would not wait: it would throw EOFError");
  await assertRejects(() => b.recv(), EOFError);
});

test("close: the other end drains, then EOFError; sending to a closed end throws; closed copies refuse", async () => {
  const [a, b] = Pipe<number>();
  a.send(1);
  a.send(2);
  a.close();
  a.close(); // twice is fine
  assertEquals([await b.recv(), await b.recv()], [1, 2]);
  await assertRejects(() => b.recv(), EOFError);
  assertThrows(() => b.send(3), Error, "other end of the pipe is closed");
  assertThrows(() => a.send(3), Error, "this end of the pipe is closed");
  await assertRejects(() => a.recv(), Error, "closed");
  // a waiting recv wakes when the other end closes
  const [c, d] = Pipe();
  const waiting = d.recv();
  setTimeout(() => c.close(), 10);
  await assertRejects(() => waiting, EOFError);
});

test("an uncloneable value is refused with SerializationError and the pipe keeps working", async () => {
  const [a, b] = Pipe<unknown>();
  assertThrows(() => a.send({ cb: () => 1 }), SerializationError, "value.cb");
  assertThrows(() => a.send(Pipe()[0]), SerializationError, "pass it to the Process");
  assertEquals(await b.poll(), false, "nothing was sent");
  a.send("ok");
  assertEquals(await b.recv(), "ok");
});

// ---- across children --------------------------------------------------------

test("through a child: values and bytes both ways, in order", async () => {
  const [mine, theirs] = Pipe<unknown>();
  const p = start(echo, [theirs]);
  theirs.close(); // the child has its own copy
  const values = [0, "s", [1, { a: new Date(3) }], new Uint8Array([1, 2, 250])];
  for (const v of values) mine.send(v);
  assertEquals(await mine.recv(), 0);
  assertEquals(await mine.recv(), "s");
  assertEquals(await mine.recv(), [1, { a: new Date(3) }]);
  assertEquals(await mine.recvBytes(), new Uint8Array([254, 253, 5]));
  mine.close();
  await joined(p);
});

test("property: messages through a child arrive exactly once and in order", async () => {
  const [mine, theirs] = Pipe<unknown>();
  const p = start(echo, [theirs]);
  theirs.close();
  try {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.integer(), fc.string(), fc.boolean(), fc.constant(null), fc.array(fc.double())), {
          maxLength: 60,
        }),
        async (xs) => {
          for (const x of xs) mine.send(x);
          const back: unknown[] = [];
          for (let i = 0; i < xs.length; i++) back.push(await mine.recv());
          assertEquals(back, xs);
          assertEquals(await mine.poll(), false, "nothing extra");
        },
      ),
      { numRuns: 40 },
    );
  } finally {
    mine.close();
  }
  await joined(p);
});

test("a child's copy closes when the child ends without closing it: EOF after its messages", async () => {
  const [r, w] = Pipe<number>(false);
  const p = start(sendAndLeave, [w, 50]);
  w.close();
  await joined(p);
  const got: number[] = [];
  for (;;) {
    try {
      got.push(await r.recv());
    } catch (e) {
      assert(e instanceof EOFError, String(e));
      break;
    }
  }
  assertEquals(got, Array.from({ length: 50 }, (_, i) => i));
});

test("closing the parent's copy of an end does not close the child's copy", async () => {
  const [r, w] = Pipe<string>(false);
  const [doneR, doneW] = Pipe<string>(false);
  const p = start(reportAfterOwnClose, [w, doneR]);
  w.close();
  doneW.send("go");
  assertEquals(await r.recv(), "still open");
  await assertRejects(() => r.recv(), EOFError);
  await joined(p);
});

test("recvSync in a child", async () => {
  const [a, b] = Pipe<unknown>();
  const p = start(syncEcho, [b]);
  b.close();
  a.send(42);
  assertEquals(await a.recv(), { got: 42 });
  await assertRejects(() => a.recv(), EOFError);
  await joined(p);
});

test("fault: a sender killed mid-stream leaves the reader an ordered run of messages, then EOF", async () => {
  const [r, w] = Pipe<number>(false);
  const p = start(sendForever, [w]);
  w.close();
  for (let i = 0; i < 300; i++) assertEquals(await r.recv(), i);
  p.kill();
  await p.join();
  let next = 300;
  for (;;) {
    try {
      assertEquals(await r.recv(), next++);
    } catch (e) {
      assert(e instanceof EOFError, String(e));
      break;
    }
  }
});

// On Deno (with --allow-ffi) and Bun a pipe moves into OS shared memory when
// an end first crosses to a child process: what it held, and a recv waiting
// on it meanwhile, must come along.
test("messages sent before an end crosses to a child, and a recv already waiting, come through", async () => {
  const [a, b] = Pipe<unknown>();
  const pending = a.recv();
  a.send(1);
  a.send("two");
  const p = start(echo, [b]);
  b.close();
  assertEquals(await pending, 1);
  assertEquals(await a.recv(), "two");
  a.send(3);
  assertEquals(await a.recv(), 3);
  a.close();
  await joined(p);

  const [r, w] = Pipe<unknown>(false);
  w.send("early");
  const q = start(sendAndLeave, [w, 3]);
  w.close();
  const got: unknown[] = [];
  await assertRejects(async () => {
    for (;;) got.push(await r.recv());
  }, EOFError);
  assertEquals(got, ["early", 0, 1, 2]);
  await joined(q);
});

test("a reader in one child sees end of file once the sender in another child is killed", async () => {
  const [r, w] = Pipe<number>(false);
  const [reportR, reportW] = Pipe<unknown>(false);
  const sender = start(sendForever, [w]);
  const reader = start(countUntilEof, [r, reportW]);
  for (const mine of [w, r, reportW]) mine.close();
  assertEquals(await reportR.recv(), "flowing");
  sender.kill();
  await sender.join();
  const last = (await reportR.recv()) as { n: number; ordered: boolean };
  assert(last.n >= 100 && last.ordered, JSON.stringify(last));
  await joined(reader);
});

test("an end a thread has, passed to a child process as well, still works (then it goes through its owner)", async () => {
  const [a, b] = Pipe<unknown>();
  const thread = new (getContext("thread").Process)({ target: echo as never, args: [b] });
  thread.start();
  b.close();
  const child = new (getContext("process").Process)({ target: sendAndLeave as never, args: [a, 3] });
  child.start();
  await joined(child);
  const got = [await a.recv(), await a.recv(), await a.recv()];
  assertEquals(got, [0, 1, 2]);
  a.close();
  await joined(thread);
}, {
  skip: startMethod === "thread" ? "starts a thread and a process itself: run once, under the process start method" : false,
});
