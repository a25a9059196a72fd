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

function pathOf(base: string, key: string | number): string {
  if (typeof key === "number") return `${base}[${key}]`;
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function encodeAt(value: unknown, path: string, seen: Set<object>): unknown {
  if (value === null || (typeof value !== "object" && typeof value !== "function" && typeof value !== "symbol")) {
    return value;
  }
  const bad = describe(value);
  if (bad) throw new SerializationError(`Cannot send ${path}: it is ${bad}`, path);
  const obj = value as Record<PropertyKey, unknown>;
  if (typeof obj[crossing] === "function") {
    const c = (obj[crossing] as () => Crossing)();
    return { [TAG]: "object", t: c.type, s: encodeAt(c.state, path, seen) } satisfies Wrapped;
  }
  if (value instanceof Error) {
    return { [TAG]: "error", e: encodeError(value, (v) => encodeAt(v, `${path}.cause`, seen)) };
  }
  if (seen.has(value as object)) return value; // a cycle: structured clone keeps it
  seen.add(value as object);
  try {
    return encodeChildren(value as object, path, seen);
  } finally {
    seen.delete(value as object);
  }
}

// Walks containers; returns the same object when nothing inside changed, so
// the common case allocates nothing.
function encodeChildren(value: object, path: string, seen: Set<object>): unknown {
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const v = encodeAt(value[i], pathOf(path, i), seen);
      if (v !== value[i]) (out ??= value.slice())[i] = v;
    }
    return out ?? value;
  }
  if (value instanceof Map) {
    let changed = false;
    const entries = [...value].map(([k, v], i) => {
      const ek = encodeAt(k, `${path}.keys()[${i}]`, seen);
      const ev = encodeAt(v, pathOf(path, typeof k === "string" ? k : i), seen);
      changed ||= ek !== k || ev !== v;
      return [ek, ev] as const;
    });
    return changed ? new Map(entries) : value;
  }
  if (value instanceof Set) {
    const items = [...value].map((v, i) => encodeAt(v, `${path}.values()[${i}]`, seen));
    return items.some((v, i) => v !== [...value][i]) ? new Set(items) : value;
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) {
    return value;
  }
  let out: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    const ev = encodeAt(v, pathOf(path, key), seen);
    if (ev !== v) (out ??= { ...value })[key] = ev;
  }
  return out ?? value;
}

/**
 * Prepares a value for sending: errors and crossing objects wrapped, and
 * anything that cannot cross refused with a SerializationError naming
 * `path` (e.g. `args[1].fn`). Set `verify` to also run a real structured
 * clone, which catches host objects the walk does not know.
 */
export function encodeValue(value: unknown, path: string, verify = false): unknown {
  const encoded = encodeAt(value, path, new Set());
  if (verify) {
    try {
      structuredClone(encoded);
    } catch (e) {
      throw new SerializationError(`Cannot send ${path}: ${(e as Error).message}`, path, { cause: e });
    }
  }
  return encoded;
}

function isWrapped(value: unknown): value is Wrapped {
  return typeof value === "object" && value !== null && TAG in value;
}

/** Undoes encodeValue on the receiving side (in place: the value is a fresh copy). */
export function decodeValue(value: unknown): unknown {
  return decodeAt(value, new Set());
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
