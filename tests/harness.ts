// The one test API for multiproc. It must run unchanged on Node 20 (tsx),
// Node 24 (native type stripping), Deno and Bun, so it sticks to erasable
// TypeScript and `node:*` modules that all four runtimes implement.
//
// Usage: call test() at module top level; the tests run sequentially once
// the module has finished evaluating, one TAP-like line is printed per test,
// and the process exits 1 if anything failed. After every test the harness
// checks that no child processes were leaked (and kills any that were).
//
// Environment:
//   MULTIPROC_START_METHOD  "process" | "thread" (default: node -> process, deno/bun -> thread)
//   MULTIPROC_TEST_TIMEOUT  default per-test timeout in ms (30000); opts.timeout still wins
//   MULTIPROC_TEST_FILTER   only run tests whose name contains this substring

import * as fs from "node:fs";
import process from "node:process";
import { inspect } from "node:util";
import { isMainThread } from "node:worker_threads";

// ---------------------------------------------------------------------------
// Runtime / configuration
// ---------------------------------------------------------------------------

export type RuntimeName = "node" | "deno" | "bun";
export type StartMethod = "process" | "thread";

function detectRuntime(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return "deno";
  if (g.Bun !== undefined) return "bun";
  return "node";
}

export const runtimeName: RuntimeName = detectRuntime();

function readStartMethod(): StartMethod {
  const v = process.env.MULTIPROC_START_METHOD;
  if (v === undefined || v === "") return runtimeName === "node" ? "process" : "thread";
  if (v === "process" || v === "thread") return v;
  // A typo here would silently test the wrong start method, so refuse it.
  throw new Error(`MULTIPROC_START_METHOD must be "process" or "thread", got ${JSON.stringify(v)}`);
}

export const startMethod: StartMethod = readStartMethod();

function readDefaultTimeout(): number {
  const raw = process.env.MULTIPROC_TEST_TIMEOUT;
  const n = raw === undefined || raw === "" ? NaN : Number(raw);
  return Number.isFinite(n) && n > 0 ? n : 30000;
}

const DEFAULT_TIMEOUT_MS = readDefaultTimeout();
const LEAK_WAIT_MS = 2000;
const LEAK_POLL_MS = 20;

// ---------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------

export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

export function assert(cond: unknown, msg?: string): asserts cond {
  if (!cond) throw new AssertionError(msg ?? `assertion failed: got ${show(cond)}`);
}

export function assertEquals(actual: unknown, expected: unknown, msg?: string): void {
  const where = diff(actual, expected, "", new Map());
  if (where === undefined) return;
  throw new AssertionError(
    `${msg ? msg + ": " : ""}values are not equal ${where}\n` +
      `  actual:   ${show(actual)}\n  expected: ${show(expected)}`,
  );
}

type ErrorClass = new (...a: any[]) => Error;

// Shared by assertThrows/assertRejects: validates what was thrown.
function checkThrown(err: unknown, cls: ErrorClass | undefined, msgIncludes: string | undefined): Error {
  if (cls !== undefined && !(err instanceof cls)) {
    throw new AssertionError(`expected error of class ${cls.name}, got ${show(err)}`);
  }
  if (msgIncludes !== undefined) {
    const message = err instanceof Error ? err.message : String(err);
    if (!message.includes(msgIncludes)) {
      throw new AssertionError(`expected error message to include ${show(msgIncludes)}, got ${show(message)}`);
    }
  }
  return err as Error;
}

export function assertThrows(fn: () => unknown, cls?: ErrorClass, msgIncludes?: string): Error {
  let result: unknown;
  try {
    result = fn();
  } catch (err) {
    return checkThrown(err, cls, msgIncludes);
  }
  const hint = result instanceof Promise ? " (it returned a Promise: use assertRejects)" : "";
  throw new AssertionError(`expected function to throw${hint}`);
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  cls?: ErrorClass,
  msgIncludes?: string,
): Promise<Error> {
  try {
    // A synchronous throw from a Promise-returning function counts as a rejection.
    await fn();
  } catch (err) {
    return checkThrown(err, cls, msgIncludes);
  }
  throw new AssertionError("expected promise to reject, but it resolved");
}

function show(v: unknown): string {
  return inspect(v, { depth: 4, breakLength: Infinity, maxArrayLength: 20, maxStringLength: 200 });
}

// ---------------------------------------------------------------------------
// Deep equality. diff() returns undefined when equal, otherwise a short
// description of the first difference ("at <path>: ...").
// ---------------------------------------------------------------------------

type Seen = Map<object, Set<object>>;
type Obj = Record<PropertyKey, unknown>;

// NaN equals NaN; +0 equals -0 (numerically equal values should compare equal).
function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (a !== a && b !== b);
}

function at(path: string): string {
  return `at ${path === "" ? "<root>" : path}`;
}

// Plain objects compare equal regardless of null vs Object prototype.
function sameKind(a: object, b: object): boolean {
  const pa = Object.getPrototypeOf(a);
  const pb = Object.getPrototypeOf(b);
  const plain = (p: unknown) => p === null || p === Object.prototype;
  return pa === pb || (plain(pa) && plain(pb));
}

function diff(a: unknown, e: unknown, path: string, seen: Seen): string | undefined {
  if (sameValue(a, e)) return undefined;
  if (typeof a !== "object" || typeof e !== "object" || a === null || e === null) {
    return `${at(path)}: ${show(a)} !== ${show(e)}`;
  }
  if (!sameKind(a, e)) {
    return `${at(path)}: different types (${a.constructor?.name} vs ${e.constructor?.name})`;
  }
  // Cycle guard: a pair already under comparison is assumed equal.
  let partners = seen.get(a);
  if (partners?.has(e)) return undefined;
  if (partners === undefined) seen.set(a, (partners = new Set()));
  partners.add(e);
  return diffObjects(a, e, path, seen);
}

function diffObjects(a: object, e: object, path: string, seen: Seen): string | undefined {
  if (a instanceof Date || a instanceof Number || a instanceof String || a instanceof Boolean || a instanceof BigInt) {
    const [va, ve] = [a.valueOf(), (e as typeof a).valueOf()];
    if (!sameValue(va, ve)) return `${at(path)}: ${show(a)} !== ${show(e)}`;
    return undefined;
  }
  if (a instanceof RegExp) return String(a) === String(e) ? undefined : `${at(path)}: ${a} !== ${e}`;
  if (a instanceof Map) return diffMap(a, e as Map<unknown, unknown>, path, seen);
  if (a instanceof Set) return diffSet(a, e as Set<unknown>, path, seen);
  if (ArrayBuffer.isView(a) || a instanceof ArrayBuffer || isSharedArrayBuffer(a)) {
    return diffBinary(a, e, path);
  }
  if (a instanceof Error) {
    const ee = e as Error;
    if (a.name !== ee.name) return `${at(path + ".name")}: ${show(a.name)} !== ${show(ee.name)}`;
    if (a.message !== ee.message) return `${at(path + ".message")}: ${show(a.message)} !== ${show(ee.message)}`;
  }
  if (Array.isArray(a) && a.length !== (e as unknown[]).length) {
    return `${at(path)}: array length ${a.length} !== ${(e as unknown[]).length}`;
  }
  return diffKeys(a as Obj, e as Obj, path, seen);
}

function isSharedArrayBuffer(v: unknown): boolean {
  return typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer;
}

function ownKeys(o: object): PropertyKey[] {
  return Reflect.ownKeys(o).filter((k) => Object.prototype.propertyIsEnumerable.call(o, k));
}

function keyPath(path: string, k: PropertyKey): string {
  if (typeof k === "string" && /^[A-Za-z_$][\w$]*$/.test(k)) return `${path}.${k}`;
  return `${path}[${typeof k === "string" && /^\d+$/.test(k) ? k : show(k)}]`;
}

function diffKeys(a: Obj, e: Obj, path: string, seen: Seen): string | undefined {
  const ka = ownKeys(a);
  const ke = new Set(ownKeys(e));
  for (const k of ka) {
    if (!ke.has(k)) return `${at(keyPath(path, k))}: unexpected key (value ${show(a[k])})`;
  }
  for (const k of ke) {
    if (!ka.includes(k)) return `${at(keyPath(path, k))}: missing key (expected ${show(e[k])})`;
  }
  for (const k of ka) {
    const d = diff(a[k], e[k], keyPath(path, k), seen);
    if (d !== undefined) return d;
  }
  return undefined;
}

// Primitive keys are looked up directly; object keys need a deep search.
function diffMap(a: Map<unknown, unknown>, e: Map<unknown, unknown>, path: string, seen: Seen): string | undefined {
  if (a.size !== e.size) return `${at(path)}: Map size ${a.size} !== ${e.size}`;
  const unmatched = new Map([...e].filter(([k]) => typeof k === "object" && k !== null && !a.has(k)));
  for (const [k, v] of a) {
    if (e.has(k)) {
      const d = diff(v, e.get(k), `${path}.get(${show(k)})`, seen);
      if (d !== undefined) return d;
      continue;
    }
    const match = [...unmatched].find(([ek, ev]) => isEqual(k, ek) && isEqual(v, ev));
    if (match === undefined) return `${at(path)}: Map entry for key ${show(k)} not expected`;
    unmatched.delete(match[0]);
  }
  return undefined;
}

function diffSet(a: Set<unknown>, e: Set<unknown>, path: string, seen: Seen): string | undefined {
  if (a.size !== e.size) return `${at(path)}: Set size ${a.size} !== ${e.size}`;
  const unmatched = [...e].filter((v) => typeof v === "object" && v !== null && !a.has(v));
  for (const v of a) {
    if (e.has(v)) continue;
    const i = unmatched.findIndex((ev) => isEqual(v, ev));
    if (i < 0) return `${at(path)}: Set member ${show(v)} not expected`;
    unmatched.splice(i, 1);
  }
  return undefined;
}

function isEqual(a: unknown, e: unknown): boolean {
  return diff(a, e, "", new Map()) === undefined;
}

// Typed arrays compare element-wise (so NaN == NaN in Float64Array);
// ArrayBuffer/SharedArrayBuffer/DataView compare as bytes.
function diffBinary(a: object, e: object, path: string): string | undefined {
  const elems = (v: object): ArrayLike<unknown> => {
    if (v instanceof DataView) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (ArrayBuffer.isView(v)) return v as unknown as ArrayLike<unknown>;
    return new Uint8Array(v as ArrayBuffer);
  };
  const [xa, xe] = [elems(a), elems(e)];
  if (xa.length !== xe.length) return `${at(path)}: length ${xa.length} !== ${xe.length}`;
  for (let i = 0; i < xa.length; i++) {
    if (!sameValue(xa[i], xe[i])) return `${at(`${path}[${i}]`)}: ${show(xa[i])} !== ${show(xe[i])}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Polling helper
// ---------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(
  pred: () => boolean | Promise<boolean>,
  opts: { timeout?: number; interval?: number; message?: string } = {},
): Promise<void> {
  const timeout = opts.timeout ?? 10000;
  const interval = opts.interval ?? 20;
  const deadline = Date.now() + timeout;
  for (;;) {
    if (await pred()) return;
    if (Date.now() >= deadline) break;
    await sleep(Math.min(interval, Math.max(0, deadline - Date.now())));
  }
  throw new Error(opts.message ?? `waitFor timed out after ${timeout} ms`);
}

// ---------------------------------------------------------------------------
// OS process inspection (Linux /proc)
// ---------------------------------------------------------------------------

interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
}

function readStat(pid: number): ProcStat | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // exited meanwhile
  }
  // The command name (field 2) is in parentheses and may itself contain
  // spaces or ")", so split after the LAST ")".
  const close = text.lastIndexOf(")");
  const rest = text.slice(close + 2).split(" ");
  const comm = text.slice(text.indexOf("(") + 1, close);
  return { pid, comm, state: rest[0], ppid: Number(rest[1]), pgrp: Number(rest[2]) };
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
  } catch {
    return "<exited>";
  }
}

// tsx (Node 20) keeps an esbuild service child for the life of each Node
// process; it belongs to the toolchain, not to the code under test.
function isToolchainProcess(st: ProcStat): boolean {
  if (st.comm !== "esbuild") return false; // cheap pre-filter before reading cmdline
  const argv = cmdline(st.pid).split(" ");
  return /(^|\/)esbuild$/.test(argv[0]) && argv.some((a) => a.startsWith("--service="));
}

// Live processes only: zombies are already dead (they merely await reaping,
// and PID 1 in containers may never reap reparented ones).
function liveProcesses(): ProcStat[] {
  let names: string[];
  try {
    names = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(Number(name));
    if (st !== undefined && st.state !== "Z" && !isToolchainProcess(st)) out.push(st);
  }
  return out;
}

export function pidAlive(pid: number): boolean {
  // kill(0, ...) / kill(-n, ...) would address process groups, never a pid.
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: exists but belongs to someone else.
    if ((err as { code?: string }).code !== "EPERM") return false;
  }
  if (!fs.existsSync("/proc/self/stat")) return true; // no /proc: trust kill()
  const st = readStat(pid);
  return st !== undefined && st.state !== "Z";
}

export function childPids(pid: number = process.pid): number[] {
  return liveProcesses().filter((p) => p.ppid === pid).map((p) => p.pid).sort((a, b) => a - b);
}

export function descendantPids(pid: number = process.pid): number[] {
  const byParent = new Map<number, number[]>();
  for (const p of liveProcesses()) {
    const list = byParent.get(p.ppid) ?? [];
    list.push(p.pid);
    byParent.set(p.ppid, list);
  }
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    for (const child of byParent.get(queue.shift()!) ?? []) {
      if (child === pid || found.includes(child)) continue; // defensive: pid reuse loops
      found.push(child);
      queue.push(child);
    }
  }
  return found.sort((a, b) => a - b);
}

// Descendants plus, when this process leads its own process group (as under
// scripts/test.mjs), every other member of that group: a grandchild whose
// parent died is reparented away from us but still counts as our leak.
function leakCandidates(): number[] {
  const pids = new Set(descendantPids());
  const me = readStat(process.pid);
  if (me !== undefined && me.pgrp === process.pid) {
    for (const p of liveProcesses()) if (p.pgrp === process.pid && p.pid !== process.pid) pids.add(p.pid);
  }
  return [...pids].sort((a, b) => a - b);
}

// Polls (rather than sleeping a fixed time) so the common no-leak case costs nothing.
async function checkLeaks(): Promise<Error | undefined> {
  const deadline = Date.now() + LEAK_WAIT_MS;
  let pids = leakCandidates();
  while (pids.length > 0 && Date.now() < deadline) {
    await sleep(LEAK_POLL_MS);
    pids = leakCandidates();
  }
  if (pids.length === 0) return undefined;
  const described = pids.map((p) => `${p} (${cmdline(p)})`).join(", ");
  for (const p of pids) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // already gone
    }
  }
  // Let the kills land so the next test starts from a clean slate.
  const killDeadline = Date.now() + 1000;
  while (leakCandidates().length > 0 && Date.now() < killDeadline) await sleep(LEAK_POLL_MS);
  return new Error(`leaked child processes: ${described}`);
}

// ---------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------

const stallBuffer = new Int32Array(new SharedArrayBuffer(4));

// Synchronous so that process.exit() cannot drop output. stdout may have been
// made non-blocking by the runtime, hence the EAGAIN retry.
function writeLine(line: string): void {
  let buf = new TextEncoder().encode(line + "\n");
  while (buf.length > 0) {
    try {
      const n = fs.writeSync(1, buf);
      buf = buf.subarray(n);
    } catch (err) {
      if ((err as { code?: string }).code !== "EAGAIN") throw err;
      Atomics.wait(stallBuffer, 0, 0, 1);
    }
  }
}

function formatError(err: unknown): string {
  let text: string;
  if (err instanceof Error) {
    const stack = err.stack ?? "";
    text = stack.includes(err.message) ? stack : `${err.name}: ${err.message}\n${stack}`;
  } else {
    text = `thrown non-Error: ${show(err)}`;
  }
  return text.replace(/\s+$/, "").split("\n").map((l) => "    " + l).join("\n");
}

// ---------------------------------------------------------------------------
// Test registry and runner
// ---------------------------------------------------------------------------

interface TestCase {
  name: string;
  fn: () => void | Promise<void>;
  timeout: number;
  skip: string | false;
}

// The test currently executing: stray errors (unhandled rejections,
// uncaught exceptions) are routed here. `abort` is set while the body runs
// so such an error ends the test at once instead of waiting for the timeout.
interface Running {
  errors: unknown[];
  abort?: (err: unknown) => void;
}

// A worker thread, or a process started with multiproc's child flag.
const inChild = !isMainThread || process.argv.includes("--multiproc-child");
const registry: TestCase[] = [];
let scheduled = false;
let finished = false;
let running: Running | undefined;
const strayErrors: unknown[] = [];

export function test(
  name: string,
  fn: () => void | Promise<void>,
  opts: { timeout?: number; skip?: string | false } = {},
): void {
  // A child started by multiproc may import a test file to find a target
  // exported from it: there the tests must not run again.
  if (inChild) return;
  // Newlines in a name would break the one-line-per-test output format.
  name = name.replace(/\s*\n\s*/g, " ");
  registry.push({ name, fn, timeout: opts.timeout ?? DEFAULT_TIMEOUT_MS, skip: opts.skip ?? false });
  if (scheduled) return;
  scheduled = true;
  // setTimeout (not a microtask) so every top-level test() call has run first.
  setTimeout(() => {
    runAll().catch((err) => {
      writeLine(`Bail out! harness error\n${formatError(err)}`);
      process.exit(1);
    });
  }, 0);
}

function onStrayError(err: unknown): void {
  if (running?.abort) running.abort(err);
  else if (running) running.errors.push(err);
  else strayErrors.push(err);
}

function installGlobalHandlers(): void {
  process.on("unhandledRejection", (reason) => onStrayError(reason));
  process.on("uncaughtException", (err) => onStrayError(err));
  // Code under test calling process.exit() must not look like a clean run.
  process.on("exit", (code) => {
    if (finished) return;
    writeLine(`Bail out! process exited with code ${code} before all tests finished`);
    if (code === 0) process.exitCode = 1;
  });
}

// Resolves when the body settles; rejects on body error, timeout or stray error.
async function runBody(t: TestCase, state: Running): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The timer is deliberately left ref'd: it keeps the event loop alive if
  // the body awaits something that can never settle.
  const guard = new Promise<never>((_, reject) => {
    state.abort = reject;
    timer = setTimeout(() => reject(new Error(`timed out after ${t.timeout} ms`)), t.timeout);
  });
  try {
    await Promise.race([Promise.resolve().then(t.fn), guard]);
  } finally {
    clearTimeout(timer);
    state.abort = undefined;
  }
}

async function runOne(t: TestCase): Promise<{ errors: unknown[]; ms: number }> {
  const state: Running = { errors: [] };
  running = state;
  const started = performance.now();
  try {
    await runBody(t, state);
  } catch (err) {
    state.errors.unshift(err);
  }
  const ms = Math.round(performance.now() - started);
  const leak = await checkLeaks();
  if (leak !== undefined) state.errors.push(leak);
  running = undefined;
  return { errors: state.errors, ms };
}

async function runAll(): Promise<void> {
  installGlobalHandlers();
  const filter = process.env.MULTIPROC_TEST_FILTER ?? "";
  const counts = { passed: 0, failed: 0, skipped: 0 };
  let n = 0;
  const reportStray = () => {
    if (strayErrors.length === 0) return;
    counts.failed++;
    writeLine(`not ok ${++n} - uncaught error outside of any test`);
    for (const err of strayErrors.splice(0)) writeLine(formatError(err));
  };
  // Index loop: tests registered while running (e.g. after a top-level await) still run.
  for (let i = 0; i < registry.length; i++) {
    const t = registry[i];
    if (filter !== "" && !t.name.includes(filter)) continue;
    reportStray();
    if (t.skip !== false && t.skip !== "") {
      counts.skipped++;
      writeLine(`ok ${++n} - ${t.name} # SKIP ${t.skip}`);
      continue;
    }
    const { errors, ms } = await runOne(t);
    if (errors.length === 0) {
      counts.passed++;
      writeLine(`ok ${++n} - ${t.name} (${ms} ms)`);
    } else {
      counts.failed++;
      writeLine(`not ok ${++n} - ${t.name}`);
      for (const err of errors) writeLine(formatError(err));
    }
  }
  reportStray();
  writeLine(`# file: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
  finished = true;
  // process.exit so stray handles (timers, sockets, workers) cannot hang the file.
  process.exit(counts.failed > 0 ? 1 : 0);
}
