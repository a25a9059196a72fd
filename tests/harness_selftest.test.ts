// Self-test for tests/harness.ts: exercises every exported helper on
// whichever runtime / start method scripts/test.mjs runs it under.

import { spawn } from "node:child_process";
import process from "node:process";
import {
  assert,
  assertEquals,
  AssertionError,
  assertRejects,
  assertThrows,
  childPids,
  descendantPids,
  pidAlive,
  runtimeName,
  startMethod,
  test,
  waitFor,
} from "./harness.ts";

test("sync test passes", () => {
  assert(1 + 1 === 2);
  assertEquals([1, "a", { b: null }], [1, "a", { b: null }]);
});

test("async test passes", async () => {
  const v = await new Promise<number>((resolve) => setTimeout(() => resolve(42), 10));
  assertEquals(v, 42);
});

test("runtimeName and startMethod reflect the environment", () => {
  const expectedRuntime = "Deno" in globalThis ? "deno" : "Bun" in globalThis ? "bun" : "node";
  assertEquals(runtimeName, expectedRuntime);
  const env = process.env.MULTIPROC_START_METHOD;
  assertEquals(startMethod, env || (runtimeName === "node" ? "process" : "thread"));
});

test("assertEquals: Map, Set, bigint, Date, NaN, typed arrays", () => {
  assertEquals(new Map<unknown, unknown>([["a", 1], [2, { x: [1n] }]]), new Map<unknown, unknown>([[2, { x: [1n] }], ["a", 1]]));
  assertEquals(new Set([1, "two", { three: 3 }]), new Set([{ three: 3 }, "two", 1]));
  assertEquals(12345678901234567890n, 12345678901234567890n);
  assertEquals(new Date(1_700_000_000_000), new Date(1_700_000_000_000));
  assertEquals({ n: NaN, f: new Float64Array([NaN, 1.5]) }, { n: NaN, f: new Float64Array([NaN, 1.5]) });
  assertEquals(new Map([[{ k: 1 }, "v"]]), new Map([[{ k: 1 }, "v"]]));
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  const cyclic2: { self?: unknown } = {};
  cyclic2.self = cyclic2;
  assertEquals(cyclic, cyclic2);
});

test("assertEquals: reports differences", () => {
  const cases: Array<[unknown, unknown]> = [
    [new Map([["a", 1]]), new Map([["a", 2]])],
    [new Set([1, 2]), new Set([1, 3])],
    [1n, 2n],
    [1n, 1],
    [new Date(0), new Date(1)],
    [new Uint8Array([1, 2]), new Int8Array([1, 2])],
    [new Uint8Array([1, 2]), new Uint8Array([1, 3])],
    [{ a: 1 }, { a: 1, b: undefined }],
    [[1, 2], [1, 2, 3]],
    [new Map(), {}],
  ];
  for (const [a, e] of cases) assertThrows(() => assertEquals(a, e), AssertionError, "not equal");
  const err = assertThrows(() => assertEquals({ x: { y: [1, 2] } }, { x: { y: [1, 3] } }, "ctx"));
  assert(err.message.includes("ctx: ") && err.message.includes(".x.y[1]"), err.message);
});

class CustomError extends Error {}

test("assertThrows: class and message", () => {
  const err = assertThrows(() => {
    throw new CustomError("boom here");
  }, CustomError, "boom");
  assert(err instanceof CustomError);
  assertThrows(() => assertThrows(() => 1), AssertionError, "expected function to throw");
  assertThrows(() => assertThrows(() => { throw new TypeError("x"); }, RangeError), AssertionError, "RangeError");
  assertThrows(() => assertThrows(() => { throw new Error("abc"); }, Error, "xyz"), AssertionError, "xyz");
});

test("assertRejects: class and message", async () => {
  const err = await assertRejects(async () => {
    await new Promise((r) => setTimeout(r, 5));
    throw new CustomError("async boom");
  }, CustomError, "async");
  assertEquals(err.message, "async boom");
  await assertRejects(() => assertRejects(async () => 1), AssertionError, "resolved");
  await assertRejects(() => assertRejects(() => Promise.reject(new TypeError("t")), RangeError), AssertionError);
  await assertRejects(() => assertRejects(() => Promise.reject(new Error("abc")), Error, "xyz"), AssertionError, "xyz");
});

test("waitFor: succeeds once the predicate holds", async () => {
  let calls = 0;
  await waitFor(() => ++calls >= 3, { interval: 5, timeout: 1000 });
  assertEquals(calls, 3);
  let flag = false;
  setTimeout(() => (flag = true), 30);
  await waitFor(async () => flag, { timeout: 1000 });
});

test("waitFor: rejects with the message on timeout", async () => {
  const started = Date.now();
  await assertRejects(() => waitFor(() => false, { timeout: 100, message: "never true" }), Error, "never true");
  const elapsed = Date.now() - started;
  assert(elapsed >= 90 && elapsed < 2000, `elapsed ${elapsed} ms`);
  await assertRejects(() => waitFor(() => false, { timeout: 50 }), Error, "timed out after 50 ms");
});

test("childPids / descendantPids / pidAlive track a short-lived child", async () => {
  assert(pidAlive(process.pid));
  assert(!pidAlive(0) && !pidAlive(-1));
  const child = spawn("sleep", ["0.3"], { stdio: "ignore" });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const pid = child.pid;
  assert(typeof pid === "number", "child has a pid");
  await waitFor(() => childPids().includes(pid), { timeout: 2000, message: "child never showed up" });
  assert(pidAlive(pid), "child alive");
  assert(descendantPids().includes(pid), "child is a descendant");
  await exited;
  // The runtime reaps the child asynchronously; until then it is a zombie,
  // which pidAlive/childPids must already treat as gone.
  await waitFor(() => !pidAlive(pid), { timeout: 2000, message: "child still alive" });
  assert(!childPids().includes(pid), "child gone from childPids");
});

test("skipped test is reported as skipped", () => {
  throw new Error("must not run");
}, { skip: "demonstrating skip" });
