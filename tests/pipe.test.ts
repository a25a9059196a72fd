// Pipe and Connection on whatever runtime runs this file, under the start
// method the runner sets: the API in one process, messages and bytes both
// ways through a child, end of file as with file descriptors (every copy
// closed or gone with its process or thread), and faults (an uncloneable
// value, a holder killed, bad arguments).
import fc from "fast-check";
import { type Connection, EOFError, getContext, Pipe, Process, SerializationError } from "../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, startMethod, test } from "./harness.ts";

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
