// The contract of the runtime seam (lib/runtime), written once and run
// against both adapters, process and thread, of whatever runtime runs this
// file (the runner covers Node 20, Node 24, Deno and Bun). Everything above
// the seam relies on exactly these behaviours.
import process from "node:process";
import { getHost } from "../lib/runtime/host.ts";
import type { ChildHandle, StartMethod } from "../lib/runtime/types.ts";
import type { ProcessInit } from "../lib/child/run.ts";
import { parentChannel } from "../lib/child/channel.ts";
import { resolveFunction } from "../lib/transport/functions.ts";
import { encodeValue } from "../lib/transport/values.ts";
import { assert, assertEquals, test } from "./harness.ts";

/** In the child: echoes every message back until it receives "bye". */
export function echoUntilBye(): Promise<void> {
  const channel = parentChannel();
  if (!channel) throw new Error("no parent channel in the child");
  return new Promise((resolve) => {
    channel.onMessage((message) => {
      if (message === "bye") return resolve();
      const bytes = (message as { bytes?: ArrayBuffer }).bytes;
      channel.send(message, bytes ? [bytes] : []);
    });
    channel.send("ready");
  });
}

function start(method: StartMethod, target: Function | null, args: unknown[] = []): ChildHandle {
  const init: ProcessInit = {
    kind: "process",
    name: `seam-${method}`,
    identity: [1],
    daemon: false,
    method,
    parent: { name: "MainProcess", pid: process.pid },
    mainUrl: undefined,
    fn: target ? resolveFunction(target, "the target") : null,
    args: encodeValue(args, "args", true),
  };
  return getHost().spawn({ method, init, name: init.name });
}

function messages(child: ChildHandle): () => Promise<unknown> {
  const inbox: unknown[] = [];
  const waiting: Array<(m: unknown) => void> = [];
  child.onMessage((m) => (waiting.length ? waiting.shift()!(m) : inbox.push(m)));
  return () => inbox.length ? Promise.resolve(inbox.shift()) : new Promise((r) => waiting.push(r));
}

for (const method of ["process", "thread"] as const) {
  test(`${method}: a child with nothing to run exits 0; pid is the child's or ours`, async () => {
    const child = start(method, null);
    assertEquals(child.pid === process.pid, method === "thread");
    assert(child.pid > 0);
    assertEquals(await child.exited, { code: 0, signal: null });
  });

  test(`${method}: messages keep their values and their order`, async () => {
    const child = start(method, echoUntilBye);
    const next = messages(child);
    assertEquals(await next(), "ready");
    const value = { n: 1, big: 2n ** 64n, map: new Map([[1, new Set(["a"])]]), date: new Date(5), nested: [null, -0] };
    child.send(value);
    assertEquals(await next(), value);
    for (let i = 0; i < 500; i++) child.send(i);
    for (let i = 0; i < 500; i++) assertEquals(await next(), i);
    child.send("bye");
    assertEquals(await child.exited, { code: 0, signal: null });
  });

  test(`${method}: a transfer list moves buffers to a thread, copies to a process`, async () => {
    const child = start(method, echoUntilBye);
    const next = messages(child);
    await next();
    const bytes = new Uint8Array([1, 2, 3]).buffer;
    child.send({ bytes }, [bytes]);
    assertEquals(bytes.byteLength, method === "thread" ? 0 : 3, "detached after a transfer to a thread");
    const back = await next() as { bytes: ArrayBuffer };
    assertEquals([...new Uint8Array(back.bytes)], [1, 2, 3]);
    child.send("bye");
    await child.exited;
  });

  test(`${method}: exit codes, terminate (SIGTERM) and kill (SIGKILL)`, async () => {
    assertEquals(await start(method, (n: number) => process.exit(n), [7]).exited, { code: 7, signal: null });
    const a = start(method, echoUntilBye);
    await messages(a)();
    a.terminate();
    assertEquals(await a.exited, { code: null, signal: "SIGTERM" });
    const b = start(method, () => {
      for (;;);
    });
    b.kill();
    assertEquals(await b.exited, { code: null, signal: "SIGKILL" });
  });

  test(`${method}: unref() and ref() toggle without disturbing the child`, async () => {
    const child = start(method, echoUntilBye);
    const next = messages(child);
    child.unref();
    child.ref();
    assertEquals(await next(), "ready");
    child.send("bye");
    assertEquals(await child.exited, { code: 0, signal: null });
  });
}
