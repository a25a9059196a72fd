// The loop inside a pool worker. It runs the initializer, says "ready",
// then runs the tasks it is sent one at a time, in order (as Python's
// worker does), and answers in batches. Tasks run back to back without
// yielding to the event loop unless a task is async: a batch of trivial
// tasks then costs one message in and one message out.
import process from "node:process";
import { type FunctionRef, loadFunction } from "../transport/functions.ts";
import { decodeValue, encodeValue } from "../transport/values.ts";
import {
  type FromWorker,
  type PoolWorkerInit,
  type TaskFailure,
  type TaskKind,
  type TaskList,
  type ToWorker,
} from "../pool/protocol.ts";
import type { ParentChannel } from "./channel.ts";

/** Results go back once this many are waiting, or once this long has passed. */
const FLUSH_COUNT = 512;
const FLUSH_MS = 2;
/** A task that ran this long (ms) has its result sent at once. */
const SOLO_MS = 0.1;

type Fn = (...args: unknown[]) => unknown;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === "object" || typeof v === "function") && typeof (v as PromiseLike<unknown>).then === "function";

type Outcome = [0 | 1, unknown];

// Results of a numeric chunk are written straight into a Float64Array while
// they are numbers (structured clone copies it as one block); the first
// non-number switches to a plain array.
class Results {
  #numbers: Float64Array | null;
  #values: unknown[] | null = null;
  #length = 0;
  constructor(n: number) {
    this.#numbers = n >= 16 ? new Float64Array(n) : null;
    if (!this.#numbers) this.#values = [];
  }
  push(v: unknown): void {
    if (this.#numbers && typeof v === "number") {
      this.#numbers[this.#length++] = v;
      return;
    }
    if (this.#numbers) {
      this.#values = Array.from(this.#numbers.subarray(0, this.#length));
      this.#numbers = null;
    }
    this.#values!.push(v);
    this.#length++;
  }
  partial(): unknown[] {
    return this.#numbers ? Array.from(this.#numbers.subarray(0, this.#length)) : this.#values!;
  }
  /** The results to send: packed numbers travel as their ArrayBuffer (see packNumbers). */
  done(): unknown {
    return this.#numbers ? this.#numbers.buffer : this.#values;
  }
}

/**
 * Runs one task. Synchronous functions run without a single await (a batch
 * of trivial tasks stays one tight loop); the first thenable a function
 * returns moves the rest of the chunk onto the async path.
 */
function runTask(fn: Fn, kind: TaskKind, payload: unknown): Outcome | Promise<Outcome> {
  if (kind === 0) {
    try {
      const r = fn(...decodeValue(payload) as unknown[]);
      if (!isThenable(r)) return [1, r];
      return Promise.resolve(r).then((v): Outcome => [1, v], (error): Outcome => [0, failure(0, [], error)]);
    } catch (error) {
      return [0, failure(0, [], error)];
    }
  }
  // Packed numbers are read through a view: no copy into an array.
  const items = (payload instanceof ArrayBuffer ? new Float64Array(payload) : decodeValue(payload)) as ArrayLike<unknown>;
  const out = new Results(items.length);
  for (let i = 0; i < items.length; i++) {
    let r: unknown;
    try {
      r = kind === 1 ? fn(items[i]) : fn(...items[i] as unknown[]);
    } catch (error) {
      return [0, failure(i, out.partial(), error)];
    }
    if (isThenable(r)) return finishAsync(fn, kind, items, i, r, out);
    out.push(r);
  }
  return [1, out.done()];
}

async function finishAsync(
  fn: Fn,
  kind: TaskKind,
  items: ArrayLike<unknown>,
  at: number,
  pending: PromiseLike<unknown>,
  out: Results,
): Promise<Outcome> {
  let i = at;
  try {
    out.push(await pending);
    for (i = at + 1; i < items.length; i++) {
      let r = kind === 1 ? fn(items[i]) : fn(...items[i] as unknown[]);
      if (isThenable(r)) r = await r;
      out.push(r);
    }
    return [1, out.done()];
  } catch (error) {
    return [0, failure(i, out.partial(), error)];
  }
}

function failure(index: number, partial: unknown[], error: unknown): TaskFailure {
  return { index, partial, error };
}

// Encodes one result, turning a value that cannot cross into the task's error.
function encodeOutcome(outcome: 0 | 1, value: unknown, verify: boolean): [0 | 1, unknown] {
  try {
    return [outcome, encodeValue(value, outcome === 1 ? "result" : "error", verify)];
  } catch (error) {
    const failure: TaskFailure = { index: 0, partial: [], error };
    return [0, encodeValue(failure, "error")];
  }
}

/**
 * Runs a pool worker until the parent says "exit", maxTasks tasks are done,
 * or the initializer fails. `exit` flushes output and ends the worker.
 * `verify` clones every result before sending (Deno's IPC breaks after a
 * failed send, so nothing unsendable may reach it).
 */
export async function runPoolWorker(
  init: PoolWorkerInit,
  channel: ParentChannel,
  exit: (code: number) => Promise<never>,
  verify: boolean,
): Promise<never> {
  const send = (message: FromWorker) => channel.send(message);
  const fns = new Map<number, Promise<Fn>>();
  const loaded = new Map<number, Fn>();
  const queue: TaskList = []; // flat: id, fnId, kind, payload, ...
  let head = 0;
  const cancelled = new Set<number>();
  let exiting = false;
  let running = false;
  let done = 0;

  const crash = (error: unknown, phase: "init" | "run") => {
    try {
      send(["crash", encodeValue(error, "error"), phase]);
    } catch {
      send(["crash", encodeValue(new Error(String(error)), "error"), phase]);
    }
  };
  process.on("uncaughtException", (e) => (crash(e, "run"), void exit(1)));
  process.on("unhandledRejection", (e) => (crash(e, "run"), void exit(1)));

  let out: unknown[] = [];
  let lastFlush = performance.now();
  const flush = () => {
    if (out.length === 0) return;
    const batch = out;
    out = [];
    lastFlush = performance.now();
    try {
      // Packed results move to a parent thread instead of being copied.
      let transfer: ArrayBuffer[] | undefined;
      for (let i = 2; i < batch.length; i += 4) {
        const v = batch[i];
        if (v instanceof ArrayBuffer) (transfer ??= []).push(v);
      }
      channel.send(["done", batch] satisfies FromWorker, transfer);
    } catch {
      // A result the walk let through but the channel refused (a host
      // object): find it by cloning each, and send it as that task's error.
      for (let i = 0; i < batch.length; i += 4) {
        [batch[i + 1], batch[i + 2]] = encodeOutcome(batch[i + 1] as 0 | 1, decodeValue(batch[i + 2]), true);
      }
      send(["done", batch]);
    }
  };

  const drain = async () => {
    running = true;
    while (head < queue.length) {
      const id = queue[head] as number;
      const fnId = queue[head + 1] as number;
      const kind = queue[head + 2] as TaskKind;
      const payload = queue[head + 3];
      queue[head + 3] = undefined; // let a big chunk go once it has run
      head += 4;
      done++; // skipped tasks count too: the parent counts what it sent
      if (cancelled.delete(id)) {
        out.push(id, 2, null, 0);
      } else {
        let result: Outcome | Promise<Outcome>;
        const started = performance.now();
        const fn = loaded.get(fnId);
        if (fn) {
          result = runTask(fn, kind, payload);
        } else {
          try {
            const f = await fns.get(fnId)!;
            loaded.set(fnId, f);
            result = runTask(f, kind, payload);
          } catch (error) {
            result = [0, failure(0, [], error)]; // the function failed to load
          }
        }
        if (result instanceof Promise) {
          flush(); // what is done goes back before waiting on this one
          result = await result;
        }
        const [outcome, value] = encodeOutcome(result[0], result[1], verify);
        const ms = performance.now() - started;
        out.push(id, outcome, value, ms);
        // A result waits for company only when its task was trivial: the
        // parent learns of anything longer before the next task starts, so
        // a later task that kills this worker cannot take finished ones
        // down with it (they would be run again elsewhere).
        if (ms >= SOLO_MS) flush();
      }
      if (out.length >= FLUSH_COUNT * 4 || performance.now() - lastFlush >= FLUSH_MS) flush();
    }
    queue.length = head = 0;
    flush();
    running = false;
    // The parent never sends more than maxTasks, so the queue is empty here.
    if (exiting || (init.maxTasks > 0 && done >= init.maxTasks)) await exit(0);
  };

  channel.onMessage((raw) => {
    const message = raw as ToWorker;
    if (message[0] === "run") {
      for (const [fnId, ref] of message[1] ?? []) {
        const loading = loadFunction(ref as FunctionRef) as Promise<Fn>;
        loading.catch(() => {}); // reported by each task that uses it
        fns.set(fnId, loading);
      }
      const tasks = message[2];
      for (let i = 0; i < tasks.length; i++) queue.push(tasks[i]);
      if (!running) void drain();
    } else if (message[0] === "cancel") {
      for (const id of message[1]) cancelled.add(id);
    } else if (message[0] === "exit") {
      exiting = true;
      if (!running) void exit(0);
    }
  });

  try {
    if (init.initializer) {
      const fn = await loadFunction(init.initializer);
      let r = fn(...decodeValue(init.initargs) as unknown[]);
      if (isThenable(r)) r = await r;
    }
  } catch (error) {
    crash(error, "init");
    return await exit(1);
  }
  send(["ready"]);
  return await new Promise<never>(() => {}); // the message handler runs the worker from here
}
