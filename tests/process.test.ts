// Process, currentProcess, parentProcess, activeChildren and the context API,
// on whatever runtime runs this file, under the start method the runner sets.
// Children report back through their exit code (no Queue yet): each target
// checks what it received and exits with a code that names the first failure.
import process from "node:process";
import * as nodeModule from "node:module";
import {
  activeChildren,
  cpuCount,
  currentProcess,
  getAllStartMethods,
  getContext,
  getStartMethod,
  isMain,
  parentProcess,
  Process,
  ProcessError,
  runtime,
  SerializationError,
  setStartMethod,
  task,
} from "../mod.ts";
import { assert, assertEquals, assertRejects, assertThrows, runtimeName, startMethod, test } from "./harness.ts";
import { runCommand, runFixture } from "./fixtures/run.ts";
import { scaledByHelper } from "./fixtures/tasks.ts";

const OFFSET = 40;
function helper(n: number): number {
  return n + OFFSET;
}

/** Exported from the main module and using a helper: crosses by reference. */
export function exitWithHelper(n: number): void {
  process.exit(helper(n));
}

/** Checks the child's view of itself and its parent. */
export function checkIdentity(name: string, parentPid: number): void {
  const me = currentProcess();
  const parent = parentProcess();
  if (me.name !== name) process.exit(10);
  if (parent?.name !== "MainProcess") process.exit(11);
  if (parent.pid !== parentPid) process.exit(12);
  if (isMain(import.meta)) process.exit(13);
  if (me.pid !== process.pid) process.exit(14);
  process.exit(0);
}

/** Exits 0 if this (Node) child has V8's compile cache on, 60 if not. */
export function checkCompileCache(): void {
  const dir = (nodeModule as { getCompileCacheDir?: () => string | undefined }).getCompileCacheDir?.();
  process.exit(typeof dir === "string" && dir.length > 0 ? 0 : 60);
}

/** Checks that structured-clone types and errors arrive intact. */
export function checkArgs(m: unknown, d: unknown, big: unknown, bytes: unknown, err: unknown): void {
  if (!(m instanceof Map) || m.get("k") !== 1) process.exit(20);
  if (!(d instanceof Date) || d.getTime() !== 0) process.exit(21);
  if (big !== 2n ** 70n) process.exit(22);
  if (!(bytes instanceof Uint8Array) || bytes[2] !== 3) process.exit(23);
  if (!(err instanceof RangeError)) process.exit(24);
  if ((err as RangeError & { code: number }).code !== 7) process.exit(25);
  if (!((err as Error).cause instanceof TypeError)) process.exit(26);
  if (((err as Error).cause as Error).message !== "root") process.exit(27);
  process.exit(0);
}

const sleepForever = () => new Promise(() => setInterval(() => {}, 1000));

test("a child runs its target and exits 0", async () => {
  const p = new Process({ target: (a: number, b: number) => console.log(`sum ${a + b}`), args: [2, 3] });
  assertEquals(p.exitCode, null);
  assertEquals(p.pid, undefined);
  assert(!p.isAlive());
  p.start();
  assert(typeof p.pid === "number" && p.pid > 0);
  assert(p.isAlive());
  assert(activeChildren().includes(p));
  await p.join();
  assertEquals(p.exitCode, 0);
  assert(!p.isAlive());
  assertEquals(activeChildren().length, 0);
  assertEquals(p.pid === process.pid, startMethod === "thread");
});

test("default names are Process-N, unique and increasing", () => {
  const a = new Process();
  const b = new Process();
  assert(/^Process-\d+$/.test(a.name), a.name);
  const n = Number(a.name.split("-")[1]);
  assertEquals(b.name, `Process-${n + 1}`);
  assertEquals(new Process({ name: "worker-1" }).name, "worker-1");
});

test("an async target is awaited before the child exits", async () => {
  const p = new Process({ target: async () => {
    await new Promise((r) => setTimeout(r, 20));
    process.exit(await Promise.resolve(4));
  } });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 4);
});

test("a target without args, and a Process without target, exit 0", async () => {
  const p = new Process();
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
});

test("a target that throws gives exitCode 1", async () => {
  const p = new Process({ target: () => {
    throw new Error("expected by the test: ignore this traceback");
  } });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 1);
});

test("process.exit(n) in the target gives exitCode n", async () => {
  const p = new Process({ target: (n: number) => process.exit(n), args: [3] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 3);
});

test("terminate() gives -15 and kill() gives -9, even in a busy loop", async () => {
  const busy = new Process({ target: () => {
    for (;;);
  } });
  const idle = new Process({ target: sleepForever });
  busy.start();
  idle.start();
  busy.kill();
  idle.terminate();
  await busy.join();
  await idle.join();
  assertEquals(busy.exitCode, -9);
  assertEquals(idle.exitCode, -15);
  busy.terminate(); // ended already: no effect, no error
  assertEquals(busy.exitCode, -9);
});

test("join(timeout) returns while the child still runs", async () => {
  const p = new Process({ target: sleepForever });
  p.start();
  const t0 = performance.now();
  await p.join(50);
  assert(performance.now() - t0 >= 45, "join returned before its timeout");
  assert(p.isAlive());
  assertEquals(p.exitCode, null);
  p.terminate();
  await p.join();
  assertEquals(p.exitCode, -15);
});

test("a main-module export with free variables crosses by reference", async () => {
  const p = new Process({ target: exitWithHelper, args: [2] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 42);
});

test("task(import.meta.url, fn) makes a function of another module referable", async () => {
  const p = new Process({ target: scaledByHelper, args: [5] });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 15);
  assertEquals(scaledByHelper(2), 6, "task() returns the function itself");
});

test("currentProcess() and parentProcess() in the child", async () => {
  const p = new Process({ target: checkIdentity, args: ["checker", process.pid], name: "checker" });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
  assertEquals(currentProcess().name, "MainProcess");
  assertEquals(currentProcess().pid, process.pid);
  assertEquals(parentProcess(), null);
  assert(isMain(import.meta));
});

test("args keep their structured-clone types; errors keep class, cause and props", async () => {
  const err = Object.assign(new RangeError("bad", { cause: new TypeError("root") }), { code: 7 });
  const p = new Process({
    target: checkArgs,
    args: [new Map([["k", 1]]), new Date(0), 2n ** 70n, new Uint8Array([1, 2, 3]), err],
  });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0);
});

test("bad arguments get clear errors, and the next Process works", async () => {
  assertThrows(() => new Process({ target: 5 as never }), TypeError, "target must be a function");
  assertThrows(() => new Process({ target: () => {}, args: 1 as never }), TypeError, "args must be an array");
  assertThrows(() => new Process({ name: 1 as never }), TypeError, "name must be a string");
  assertThrows(() => new Process({ daemon: "yes" as never }), TypeError, "daemon must be a boolean");
  const secret = 7;
  const closure = new Process({ target: () => process.exit(secret) });
  const e = assertThrows(() => closure.start(), TypeError, `"secret"`);
  assert(e.message.includes("task(import.meta.url"), e.message);
  const unsendable = new Process({ target: (_o: unknown) => {}, args: [{ cb: () => 1 }] as never });
  const s = assertThrows(() => unsendable.start(), SerializationError, "args[0].cb");
  assertEquals((s as SerializationError).path, "args[0].cb");
  assertThrows(() => new Process({ target: class {} as never }).start(), TypeError, "class");
  const p = new Process({ target: () => process.exit(5) });
  await assertRejects(() => p.join(), ProcessError, "never started");
  assertThrows(() => p.terminate(), ProcessError, "never started");
  p.start();
  assertThrows(() => p.start(), ProcessError, "only be started once");
  assertThrows(() => (p.daemon = true), ProcessError, "already started");
  await assertRejects(() => p.join(-1), TypeError, "timeout");
  await p.join();
  assertEquals(p.exitCode, 5);
});

test("close() refuses a running child and closes a finished one", async () => {
  const p = new Process({ target: sleepForever });
  p.start();
  assertThrows(() => p.close(), ProcessError, "still running");
  p.kill();
  await p.join();
  p.close();
  p.close();
  assertThrows(() => p.start(), ProcessError, "closed");
  await assertRejects(() => p.join(), ProcessError, "closed");
  assertThrows(() => currentProcess().terminate(), ProcessError, "not a child");
});

test("await using joins and closes the child", async () => {
  let outer: Process | undefined;
  {
    await using p = new Process({ target: () => process.exit(2) });
    outer = p;
    p.start();
  }
  assertEquals(outer.exitCode, 2);
  assertThrows(() => outer.start(), ProcessError, "closed");
});

test("getContext binds a start method; the context API answers", async () => {
  assertEquals(runtime, runtimeName);
  assertEquals(getStartMethod(), startMethod);
  assertEquals(getAllStartMethods()[0], runtimeName === "node" ? "process" : "thread");
  assertEquals([...getAllStartMethods()].sort(), ["process", "thread"]);
  assert(Number.isInteger(cpuCount()) && cpuCount() >= 1);
  assertThrows(() => getContext("fork" as never), TypeError, `"fork"`);
  assert(getContext("thread") === getContext("thread"));
  for (const method of ["process", "thread"] as const) {
    const ctx = getContext(method);
    assertEquals(ctx.startMethod, method);
    const p = new ctx.Process({ target: () => process.exit(0) });
    p.start();
    await p.join();
    assertEquals(p.exitCode, 0);
    assertEquals(p.pid === process.pid, method === "thread", `pid under ${method}`);
  }
});

test("setStartMethod refuses a second, different method unless forced", () => {
  assertThrows(() => setStartMethod("spawn" as never), TypeError, "unknown start method");
  setStartMethod(startMethod);
  const other = startMethod === "process" ? "thread" : "process";
  assertThrows(() => setStartMethod(other), Error, "already");
  setStartMethod(other, { force: true });
  assertEquals(getStartMethod(), other);
  setStartMethod(startMethod, { force: true });
  assertEquals(getStartMethod(), startMethod);
});

test("a daemon flag is inherited and a daemon cannot have children", async () => {
  const p = new Process({ target: () => {}, daemon: true });
  assert(p.daemon);
  p.daemon = false;
  assert(!p.daemon);
  const r = await runFixture(new URL("./fixtures/daemon_child.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("grandchild refused: daemonic processes are not allowed to have children"), r.stdout + r.stderr);
});

test("a child waits for its own non-daemon children before it exits", async () => {
  const r = await runFixture(new URL("./fixtures/grandchildren.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trim().split("\n"), ["child returns", "grandchild done", "joined 0"], r.stderr);
});

test("output printed by a child is visible before join() resolves", async () => {
  const r = await runFixture(new URL("./fixtures/output_order.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assertEquals(lines.length, 201, r.stdout.slice(-500));
  assertEquals(lines[200], "joined");
});

test("a failing child prints a traceback with the cause chain to stderr", async () => {
  const r = await runFixture(new URL("./fixtures/child_error.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("exitCode 1"), r.stdout);
  assert(r.stderr.includes("Process Process-1:"), r.stderr);
  assert(r.stderr.includes("ValueError: bad value"), r.stderr);
  assert(r.stderr.includes("caused by") && r.stderr.includes("root cause"), r.stderr);
});

test("an error thrown later from a timer ends the child with 1 and is printed", async () => {
  const r = await runFixture(new URL("./fixtures/late_error.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("exitCode 1"), r.stdout + r.stderr);
  assert(r.stderr.includes("late throw from a timer"), r.stderr);
});

test("an unguarded main module fails with the bootstrapping error, not a fork bomb", async () => {
  const r = await runFixture(new URL("./fixtures/unguarded.ts", import.meta.url));
  assertEquals(r.code, 0, r.stderr);
  assert(r.stdout.includes("exitCode 1"), r.stdout + r.stderr);
  assert(r.stderr.includes("bootstrapping phase"), r.stderr);
  assert(r.stderr.includes("isMain(import.meta)"), r.stderr);
});

test("Deno children get the parent's permissions, not -A", async () => {
  const fixture = new URL("./fixtures/deno_permissions.ts", import.meta.url).pathname;
  const { code, stdout: out, stderr: err } = await runCommand(process.execPath, [
    "run", "--quiet", "--allow-read", "--allow-env", "--allow-run", fixture,
  ]);
  assertEquals(code, 0, err);
  assert(out.includes("child read=granted env=granted net=prompt write=prompt"), out + err);
  assert(out.includes("exitCode 0"), out);
  assert(out.includes("queue 42 exitCode 0"), out + err);
}, { skip: runtimeName === "deno" ? false : "Deno permissions exist only on Deno" });

test("Deno without --allow-run: a clear error at start(), and threads still work", async () => {
  const fixture = new URL("./fixtures/deno_permissions.ts", import.meta.url).pathname;
  const { code, stdout: out, stderr: err } = await runCommand(process.execPath, [
    "run", "--quiet", "--allow-read", "--allow-env", fixture, "--no-run",
  ]);
  assertEquals(code, 0, err);
  assert(out.includes("refused: Cannot start Process-1: Deno may not run"), out + err);
  assert(out.includes("--allow-run, or use the thread start method"), out);
  assert(out.includes("pool refused: Cannot start pool worker PoolWorker-"), out + err);
  assert(out.includes("pool thread 42"), out + err);
  assert(out.includes("child read=granted env=granted net=prompt write=prompt"), out + err);
  assert(out.includes("exitCode 0"), out);
}, { skip: runtimeName === "deno" ? false : "Deno permissions exist only on Deno" });

test("a Node child compiles with V8's compile cache on (children start ~35-45% sooner on Node 24)", async () => {
  const p = new (getContext(startMethod).Process)({ target: checkCompileCache });
  p.start();
  await p.join();
  assertEquals(p.exitCode, 0, "exit code (60: no compile cache in the child)");
}, {
  skip: runtimeName !== "node"
    ? "the compile cache is Node's (module.enableCompileCache)"
    : !("getCompileCacheDir" in nodeModule)
    ? "this Node has no compile cache (22.1 and later have)"
    : process.env.NODE_DISABLE_COMPILE_CACHE
    ? "NODE_DISABLE_COMPILE_CACHE is set"
    : false,
});
