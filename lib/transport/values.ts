// What crosses a process or thread boundary, and how. Values travel by
// structured clone, with two additions walked in here first:
//  - Errors travel as envelopes (errors.ts), keeping class, cause and props;
//  - objects that know how to cross (queues, shared values, locks; see
//    `crossing`) travel as their handle and are revived connected.
// The walk also finds what cannot cross *before* anything is sent, and says
// where it sits: Deno's IPC channel breaks after a failed send, and "could
// not be cloned" without a path helps nobody.
import { SerializationError } from "../errors.ts";
import { decodeError, encodeError, type ErrorEnvelope } from "./errors.ts";

/** Objects with this method cross as `[type, state]` and are revived by type. */
export const crossing: unique symbol = Symbol.for("multiproc.crossing") as never;

/**
 * Where a value is going: to a worker thread of this process (shared
 * memory can go along), to another OS process, or into a queue or pipe
 * (stored as bytes, for any holder).
 */
export type Destination = "thread" | "process" | "item";

/** What an object that can cross returns from its `[crossing]()` method. */
export interface Crossing {
  type: string;
  state: unknown;
}

const revivers = new Map<string, (state: unknown) => unknown>();

/** Registers how to revive objects of `type` on arrival. */
export function registerReviver(type: string, revive: (state: unknown) => unknown): void {
  revivers.set(type, revive);
}

// Tag key of our wrappers; a NUL-prefixed key cannot collide with real data
// by accident.
const TAG = "\u0000multiproc";
type Wrapped = { [TAG]: "error"; e: ErrorEnvelope } | { [TAG]: "object"; t: string; s: unknown };

const UNCLONEABLE: Array<[Function, string]> = [
  [Promise, "a Promise (await it first and send its value)"],
  [WeakMap, "a WeakMap"],
  [WeakSet, "a WeakSet"],
  [WeakRef, "a WeakRef"],
];

function describe(value: unknown): string | undefined {
  if (typeof value === "function") {
    return `a function (${value.name || "anonymous"}): functions cannot be cloned; pass data instead`;
  }
  if (typeof value === "symbol") return `a symbol (${String(value)}): symbols cannot be cloned`;
  for (const [cls, what] of UNCLONEABLE) if (value instanceof cls) return what;
  return undefined;
}

function segment(key: string | number): string {
  if (typeof key === "number") return `[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

function isLeaf(value: unknown): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date ||
    value instanceof RegExp || (typeof SharedArrayBuffer === "function" && value instanceof SharedArrayBuffer);
}

function needsWrap(value: object): boolean {
  return value instanceof Error || typeof (value as Record<PropertyKey, unknown>)[crossing] === "function";
}

// Pass 1: refuses what cannot cross (with its path) and tells whether
// anything inside needs wrapping. Most values need none, and then they are
// sent as they are, without a copy.
function check(value: unknown, path: string, seen: Set<object>): boolean {
  if (value === null || (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol")) {
    return false;
  }
  const bad = describe(value);
  if (bad) throw new SerializationError(`Cannot send ${path}: it is ${bad}`, path);
  const obj = value as object;
  if (seen.has(obj) || isLeaf(obj)) return false;
  seen.add(obj);
  let wrap = needsWrap(obj);
  if (obj instanceof Error) {
    for (const key of Object.keys(obj)) wrap = check((obj as never)[key], path + segment(key), seen) || wrap;
    if ("cause" in obj) wrap = check(obj.cause, `${path}.cause`, seen) || wrap;
  } else if (!wrap) {
    for (const [where, child] of entries(obj)) wrap = check(child, path + where, seen) || wrap;
  }
  return wrap;
}

// Each child of a container with its path segment (`.a`, `[0]`, `.keys()[0]`).
function entries(obj: object): Array<[string, unknown]> {
  if (Array.isArray(obj)) return obj.map((v, i) => [segment(i), v]);
  if (obj instanceof Map) {
    return [...obj].flatMap(([k, v], i): Array<[string, unknown]> => [
      [`.keys()[${i}]`, k],
      [segment(typeof k === "string" ? k : i), v],
    ]);
  }
  if (obj instanceof Set) return [...obj].map((v, i) => [`.values()[${i}]`, v]);
  return Object.keys(obj).map((k) => [segment(k), (obj as Record<string, unknown>)[k]]);
}

// Pass 2, only when pass 1 found something: a copy with errors and crossing
// objects wrapped. Each container is copied before its children, through
// `memo`, so cycles and shared references point at the copies.
function wrap(value: unknown, memo: Map<object, unknown>, to: Destination): unknown {
  if (value === null || typeof value !== "object") return value;
  if (memo.has(value)) return memo.get(value);
  const obj = value as Record<PropertyKey, unknown>;
  if (typeof obj[crossing] === "function") {
    const c = (obj[crossing] as (to: Destination) => Crossing)(to);
    const out = { [TAG]: "object", t: c.type, s: undefined as unknown };
    memo.set(value, out);
    out.s = wrap(c.state, memo, to);
    return out;
  }
  if (value instanceof Error) {
    const out = { [TAG]: "error", e: undefined as unknown };
    memo.set(value, out);
    out.e = encodeError(value, (v) => wrap(v, memo, to));
    return out;
  }
  if (isLeaf(value)) return value;
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    memo.set(value, out);
    for (const v of value) out.push(wrap(v, memo, to));
    return out;
  }
  if (value instanceof Map) {
    const out = new Map();
    memo.set(value, out);
    for (const [k, v] of value) out.set(wrap(k, memo, to), wrap(v, memo, to));
    return out;
  }
  if (value instanceof Set) {
    const out = new Set();
    memo.set(value, out);
    for (const v of value) out.add(wrap(v, memo, to));
    return out;
  }
  const out: Record<string, unknown> = {};
  memo.set(value, out);
  for (const key of Object.keys(value)) out[key] = wrap((value as Record<string, unknown>)[key], memo, to);
  return out;
}

/**
 * Prepares a value for sending: errors and crossing objects wrapped, and
 * anything that cannot cross refused with a SerializationError naming
 * `path` (e.g. `args[1].fn`). Set `verify` to also run a real structured
 * clone, which catches host objects the walk does not know. `to` tells
 * objects that cross (queues, locks) where they are going.
 */
export function encodeValue(value: unknown, path: string, verify = false, to: Destination = "process"): unknown {
  const encoded = plain(value, 0) ? value : check(value, path, new Set()) ? wrap(value, new Map(), to) : value;
  if (verify) {
    try {
      structuredClone(encoded);
    } catch (e) {
      throw new SerializationError(`Cannot send ${path}: ${(e as Error).message}`, path, { cause: e });
    }
  }
  return encoded;
}

// The hot path for small task arguments and results: true when `value` is
// made only of primitives, typed arrays and plain arrays and objects, a few
// levels deep. Such a value crosses as it is; anything else (and anything
// deeper, which might be a cycle) takes the full walk with its paths.
function plain(value: unknown, depth: number): boolean {
  if (value === null) return true;
  const type = typeof value;
  if (type !== "object") return type !== "function" && type !== "symbol";
  if (depth > 3 || ArrayBuffer.isView(value)) return depth <= 3;
  if (Array.isArray(value)) {
    if (value.length > 64) return false;
    for (let i = 0; i < value.length; i++) if (!plain(value[i], depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype || crossing in (value as object)) return false;
  let n = 0;
  for (const key in value) {
    if (++n > 64 || !plain((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

// On the receiving side: true when nothing inside can be one of our wrappers.
function bare(value: unknown, depth: number): boolean {
  if (value === null || typeof value !== "object") return true;
  if (depth > 3 || ArrayBuffer.isView(value)) return depth <= 3;
  if (Array.isArray(value)) {
    if (value.length > 64) return false;
    for (let i = 0; i < value.length; i++) if (!bare(value[i], depth + 1)) return false;
    return true;
  }
  if (Object.getPrototypeOf(value) !== Object.prototype || TAG in value) return false;
  let n = 0;
  for (const key in value) {
    if (++n > 64 || !bare((value as Record<string, unknown>)[key], depth + 1)) return false;
  }
  return true;
}

function isWrapped(value: unknown): value is Wrapped {
  return typeof value === "object" && value !== null && TAG in value;
}

/** Undoes encodeValue on the receiving side (in place: the value is a fresh copy). */
export function decodeValue(value: unknown): unknown {
  return bare(value, 0) ? value : decodeAt(value, new Set());
}

function decodeAt(value: unknown, seen: Set<object>): unknown {
  if (value === null || typeof value !== "object") return value;
  if (isWrapped(value)) {
    if (value[TAG] === "error") return decodeError(value.e, (v) => decodeAt(v, seen));
    const revive = revivers.get(value.t);
    if (!revive) throw new TypeError(`Cannot receive an object of type "${value.t}": nothing here revives it`);
    return revive(decodeAt(value.s, seen));
  }
  if (seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = decodeAt(value[i], seen);
  } else if (value instanceof Map) {
    for (const [k, v] of value) value.set(k, decodeAt(v, seen));
  } else if (value instanceof Set) {
    const items = [...value].map((v) => decodeAt(v, seen));
    value.clear();
    for (const v of items) value.add(v);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    const rec = value as Record<string, unknown>;
    for (const key of Object.keys(rec)) rec[key] = decodeAt(rec[key], seen);
  }
  return value;
}
