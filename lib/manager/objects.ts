// The objects a manager server holds, and the methods a proxy may call on
// them (those that wait are in objects_waiting.ts). Values are kept as
// they arrived (structured-clone data from lib/transport/values.ts's
// encodeValue), never revived here: a proxy stored in a dict stays a
// reference to be revived by whoever reads it.
// Every call runs to its end before the next one starts (one event loop),
// so each is atomic.
import { isDeepStrictEqual } from "../runtime/network.ts";
import { JoinableQueue, Queue } from "../queue.ts";
import { Barrier, BoundedSemaphore, Event, Lock, Semaphore } from "../sync.ts";
import { crossedAction } from "../sync/barrier.ts";
import type { FunctionRef } from "../transport/functions.ts";
import { state } from "../state.ts";
import {
  BARRIER,
  CallError,
  CONDITION,
  EVENT,
  type HeldCondition,
  type HeldLock,
  type HeldRLock,
  JOINABLE,
  LOCK,
  ms,
  QUEUE,
  RLOCK,
  SEMAPHORE,
} from "./objects_waiting.ts";

export { CallError, Taken } from "./objects_waiting.ts";

/** The kinds of shared object a manager makes. */
export type ObjectKind =
  | "dict"
  | "list"
  | "namespace"
  | "value"
  | "queue"
  | "joinable"
  | "lock"
  | "semaphore"
  | "bsemaphore"
  | "event"
  | "rlock"
  | "barrier"
  | "condition";

/** One object in the server. */
export type Held =
  | { kind: "dict"; data: Map<unknown, unknown> }
  | { kind: "list"; data: unknown[] }
  | { kind: "namespace"; data: Map<string, unknown> }
  | { kind: "value"; data: { value: unknown } }
  | { kind: "queue" | "joinable"; data: Queue<unknown> }
  | { kind: "lock"; data: HeldLock }
  | { kind: "semaphore" | "bsemaphore"; data: Semaphore }
  | { kind: "event"; data: Event }
  | { kind: "rlock"; data: HeldRLock }
  | { kind: "barrier"; data: Barrier }
  | { kind: "condition"; data: HeldCondition };

const keyError = (k: unknown) => new CallError("KeyError", `no key ${describe(k)}`);

function describe(x: unknown): string {
  try {
    return typeof x === "string" ? JSON.stringify(x) : String(x);
  } catch {
    return "(a key)";
  }
}

function checkKey(k: unknown): unknown {
  const t = typeof k;
  if (t === "string" || t === "number" || t === "bigint" || t === "boolean" || k === null || k === undefined) return k;
  throw new CallError("TypeError", `a dict key must be a string, number, bigint, boolean, null or undefined, got ${t}`);
}

function index(list: unknown[], i: unknown, forInsert = false): number {
  if (typeof i !== "number" || !Number.isInteger(i)) throw new CallError("TypeError", `list index must be an integer, got ${describe(i)}`);
  const at = i < 0 ? list.length + i : i;
  if (forInsert) return Math.max(0, Math.min(at, list.length));
  if (at < 0 || at >= list.length) throw new CallError("IndexError", `list index ${i} out of range (length ${list.length})`);
  return at;
}

// A barrier's action, as a client names it (lib/transport/functions.ts).
// The manager runs no code sent to it: the action must be a function of
// the manager's own program, an export of its main module or a task() of
// a module on its disk, which it imports as a child process would.
function checkAction(x: unknown): FunctionRef {
  const r = (typeof x === "object" && x !== null ? x : {}) as Record<string, unknown>;
  const named = typeof r.name === "string" && typeof r.url === "string" && typeof r.hash === "string";
  if (named && r.type === "main" && r.url === state().mainUrl) return x as FunctionRef;
  if (named && r.type === "task" && Number.isInteger(r.index) && (r.url as string).startsWith("file:")) return x as FunctionRef;
  throw new CallError(
    "TypeError",
    "a manager barrier's action must be exported from the manager's main module or registered with task() in a module on its disk",
  );
}

/** A new object of `kind`, from `init` (already checked by the client); `find` finds another object by id. */
export function makeHeld(kind: ObjectKind, init: unknown, find: (id: string) => Held | undefined): Held {
  switch (kind) {
    case "dict":
      return { kind, data: new Map((init as Array<[unknown, unknown]> | undefined ?? []).map(([k, v]) => [checkKey(k), v])) };
    case "list":
      return { kind, data: [...(init as unknown[] | undefined ?? [])] };
    case "namespace":
      return { kind, data: new Map(init as Array<[string, unknown]> | undefined ?? []) };
    case "value":
      return { kind, data: { value: init } };
    case "lock":
      return { kind, data: { lock: new Lock(), owner: null } };
    case "semaphore":
    case "bsemaphore": {
      const value = init ?? 1;
      if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new CallError("RangeError", "a semaphore's value must be an integer >= 0");
      return { kind, data: kind === "bsemaphore" ? new BoundedSemaphore(value) : new Semaphore(value) };
    }
    case "event":
      return { kind, data: new Event() };
    case "rlock":
      return { kind, data: { lock: new Lock(), owner: null, count: 0 } };
    case "condition": {
      if (init === undefined) return { kind, data: { lock: { lock: new Lock(), owner: null, count: 0 }, reentrant: true, waiters: [] } };
      // Over a lock of this manager's, by its id.
      const lock = typeof init === "string" ? find(init) : undefined;
      if (lock?.kind !== "lock" && lock?.kind !== "rlock") throw new CallError("TypeError", "a condition's lock must be a Lock or RLock of this manager");
      return { kind, data: { lock: lock.data, reentrant: lock.kind === "rlock", waiters: [] } };
    }
    case "barrier": {
      const [parties, timeout, action] = (init ?? []) as [unknown, unknown, FunctionRef | undefined];
      if (typeof parties !== "number" || !Number.isInteger(parties) || parties < 1) throw new CallError("TypeError", "parties must be an integer >= 1");
      return { kind, data: new Barrier(parties, action === undefined ? undefined : crossedAction(checkAction(action)), ms(timeout)) };
    }
    case "queue":
    case "joinable": {
      const maxsize = init ?? 0;
      if (typeof maxsize !== "number" || !Number.isInteger(maxsize)) throw new CallError("TypeError", "maxsize must be an integer");
      return { kind, data: kind === "joinable" ? new JoinableQueue(maxsize) : new Queue(maxsize) };
    }
  }
  throw new CallError("TypeError", `no kind of shared object named ${describe(kind)}`);
}

type Method = (data: never, args: unknown[], signal: AbortSignal) => unknown;

const DICT: Record<string, (d: Map<unknown, unknown>, a: unknown[]) => unknown> = {
  get: (d, [k, fallback]) => (d.has(checkKey(k)) ? d.get(k) : fallback),
  getItem: (d, [k]) => {
    if (!d.has(checkKey(k))) throw keyError(k);
    return d.get(k);
  },
  set: (d, [k, v]) => void d.set(checkKey(k), v),
  has: (d, [k]) => d.has(checkKey(k)),
  delete: (d, [k]) => d.delete(checkKey(k)),
  pop: (d, a) => {
    const k = checkKey(a[0]);
    if (d.has(k)) {
      const v = d.get(k);
      d.delete(k);
      return v;
    }
    if (a.length > 1) return a[1];
    throw keyError(k);
  },
  setdefault: (d, [k, v]) => {
    if (!d.has(checkKey(k))) d.set(k, v);
    return d.get(k);
  },
  update: (d, [entries]) => {
    for (const [k, v] of entries as Array<[unknown, unknown]>) d.set(checkKey(k), v);
  },
  keys: (d) => [...d.keys()],
  values: (d) => [...d.values()],
  items: (d) => [...d.entries()],
  length: (d) => d.size,
  clear: (d) => void d.clear(),
};

const LIST: Record<string, (l: unknown[], a: unknown[]) => unknown> = {
  append: (l, [x]) => void l.push(x),
  extend: (l, [xs]) => void l.push(...(xs as unknown[])),
  get: (l, [i]) => l[index(l, i)],
  set: (l, [i, x]) => void (l[index(l, i)] = x),
  length: (l) => l.length,
  toArray: (l) => [...l],
  slice: (l, [a, b]) => l.slice(a as number | undefined, b as number | undefined),
  pop: (l, a) => {
    if (l.length === 0) throw new CallError("IndexError", "pop from empty list");
    return l.splice(index(l, a.length ? a[0] : -1), 1)[0];
  },
  insert: (l, [i, x]) => void l.splice(index(l, i, true), 0, x),
  index: (l, [x]) => {
    const at = l.findIndex((y) => isDeepStrictEqual(y, x));
    if (at < 0) throw new CallError("ValueError", "the value is not in the list");
    return at;
  },
  count: (l, [x]) => l.filter((y) => isDeepStrictEqual(y, x)).length,
  remove: (l, [x]) => {
    const at = l.findIndex((y) => isDeepStrictEqual(y, x));
    if (at < 0) throw new CallError("ValueError", "list.remove(x): x not in list");
    l.splice(at, 1);
  },
  clear: (l) => void (l.length = 0),
};

function attribute(name: unknown): string {
  if (typeof name !== "string" || name === "") throw new CallError("TypeError", `an attribute name must be a non-empty string, got ${describe(name)}`);
  return name;
}

const NAMESPACE: Record<string, (n: Map<string, unknown>, a: unknown[]) => unknown> = {
  get: (n, [name]) => {
    if (!n.has(attribute(name))) throw new CallError("AttributeError", `the namespace has no attribute ${describe(name)}`);
    return n.get(name as string);
  },
  set: (n, [name, v]) => void n.set(attribute(name), v),
  has: (n, [name]) => n.has(attribute(name)),
  delete: (n, [name]) => n.delete(attribute(name)),
  toObject: (n) => [...n.entries()],
};

const VALUE: Record<string, (v: { value: unknown }, a: unknown[]) => unknown> = {
  get: (v) => v.value,
  set: (v, [x]) => void (v.value = x),
};

const METHODS: Record<ObjectKind, Record<string, Method>> = {
  dict: DICT as Record<string, Method>,
  list: LIST as Record<string, Method>,
  namespace: NAMESPACE as Record<string, Method>,
  value: VALUE as Record<string, Method>,
  queue: QUEUE as Record<string, Method>,
  joinable: JOINABLE as Record<string, Method>,
  lock: LOCK as Record<string, Method>,
  semaphore: SEMAPHORE as Record<string, Method>,
  bsemaphore: SEMAPHORE as Record<string, Method>,
  event: EVENT as Record<string, Method>,
  rlock: RLOCK as Record<string, Method>,
  barrier: BARRIER as Record<string, Method>,
  condition: CONDITION as Record<string, Method>,
};

/** Runs `method` on `held` (an unknown method is a TypeError for the caller); `signal`: the caller's connection closed. */
export function callHeld(held: Held, method: unknown, args: unknown, signal: AbortSignal): unknown {
  const m = typeof method === "string" && Object.hasOwn(METHODS[held.kind], method) ? METHODS[held.kind][method] : null;
  if (!m) throw new CallError("TypeError", `a ${held.kind} proxy has no method ${describe(method)}`);
  if (!Array.isArray(args)) throw new CallError("TypeError", "the arguments of a call must be an array");
  return m(held.data as never, args, signal);
}
