// Proxies of a manager's data: dict, list, namespace, value. Every method
// is one request to the manager, atomic there.
import { adopt, back, handleOf, out } from "./handle.ts";

/**
 * A proxy of a dict in a manager (Python's `DictProxy`). Every call is one
 * atomic operation at the manager. Keys are strings, numbers, bigints,
 * booleans, null or undefined; values are anything structured clone keeps
 * (other proxies included).
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const d = manager.dict<string, number>();
 * await d.set("a", 1);
 * console.log(await d.get("a"), await d.length()); // 1 1
 * ```
 */
export class DictProxy<K = unknown, V = unknown> {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `d.get(k, fallback)` (Python's `d.get`): the value, or `fallback` when absent. */
  async get(key: K, fallback?: V): Promise<V | undefined> {
    return back(await handleOf(this).call("get", key, out(fallback))) as V | undefined;
  }

  /** `d[k]`: the value; rejects with an error named KeyError when absent. */
  async getItem(key: K): Promise<V> {
    return back(await handleOf(this).call("getItem", key)) as V;
  }

  /** `d[k] = v`. */
  async set(key: K, value: V): Promise<void> {
    await handleOf(this).call("set", key, out(value));
  }

  /** `k in d`. */
  async has(key: K): Promise<boolean> {
    return await handleOf(this).call("has", key) as boolean;
  }

  /** `del d[k]`; whether it was there. */
  async delete(key: K): Promise<boolean> {
    return await handleOf(this).call("delete", key) as boolean;
  }

  /** `d.pop(k[, fallback])`: removes and returns the value; KeyError without a fallback. */
  async pop(key: K, ...fallback: [V?]): Promise<V> {
    return back(await handleOf(this).call("pop", key, ...fallback.map(out))) as V;
  }

  /** `d.setdefault(k, v)`: the value, setting it to `v` first if absent. */
  async setdefault(key: K, value: V): Promise<V> {
    return back(await handleOf(this).call("setdefault", key, out(value))) as V;
  }

  /** `d.update(...)`, from an object or entries. */
  async update(entries: Iterable<[K, V]> | Record<string, V>): Promise<void> {
    const list = Symbol.iterator in Object(entries) ? [...(entries as Iterable<[K, V]>)] : Object.entries(entries);
    await handleOf(this).call("update", list.map(([k, v]) => [k, out(v)]));
  }

  /** `list(d.keys())`. */
  async keys(): Promise<K[]> {
    return await handleOf(this).call("keys") as K[];
  }

  /** `list(d.values())`. */
  async values(): Promise<V[]> {
    return ((await handleOf(this).call("values")) as unknown[]).map(back) as V[];
  }

  /** `list(d.items())`. */
  async items(): Promise<Array<[K, V]>> {
    return ((await handleOf(this).call("items")) as Array<[K, unknown]>).map(([k, v]) => [k, back(v) as V]);
  }

  /** `len(d)`. */
  async length(): Promise<number> {
    return await handleOf(this).call("length") as number;
  }

  /** `d.clear()`. */
  async clear(): Promise<void> {
    await handleOf(this).call("clear");
  }

  /** A copy as a plain object (Python's `dict(d)`; keys become strings). */
  async toObject(): Promise<Record<string, V>> {
    return Object.fromEntries(await this.items()) as Record<string, V>;
  }

  /** A copy as a Map. */
  async toMap(): Promise<Map<K, V>> {
    return new Map(await this.items());
  }
}

/**
 * A proxy of a list in a manager (Python's `ListProxy`). Every call is one
 * atomic operation at the manager; indexes may be negative, as in Python.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const l = manager.list<number>();
 * await l.append(1);
 * console.log(await l.toArray()); // [ 1 ]
 * ```
 */
export class ListProxy<T = unknown> {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `l.append(x)`. */
  async append(item: T): Promise<void> {
    await handleOf(this).call("append", out(item));
  }

  /** `l.extend(xs)`. */
  async extend(items: Iterable<T>): Promise<void> {
    await handleOf(this).call("extend", [...items].map(out));
  }

  /** `l[i]`; IndexError when out of range. */
  async get(index: number): Promise<T> {
    return back(await handleOf(this).call("get", index)) as T;
  }

  /** `l[i] = x`. */
  async set(index: number, item: T): Promise<void> {
    await handleOf(this).call("set", index, out(item));
  }

  /** `len(l)`. */
  async length(): Promise<number> {
    return await handleOf(this).call("length") as number;
  }

  /** A copy of the items (Python's `list(l)`). */
  async toArray(): Promise<T[]> {
    return ((await handleOf(this).call("toArray")) as unknown[]).map(back) as T[];
  }

  /** `l[start:end]`. */
  async slice(start?: number, end?: number): Promise<T[]> {
    return ((await handleOf(this).call("slice", start, end)) as unknown[]).map(back) as T[];
  }

  /** `l.pop([i])`: removes and returns the item at `i` (the last by default). */
  async pop(index?: number): Promise<T> {
    return back(await handleOf(this).call("pop", ...(index === undefined ? [] : [index]))) as T;
  }

  /** `l.insert(i, x)`. */
  async insert(index: number, item: T): Promise<void> {
    await handleOf(this).call("insert", index, out(item));
  }

  /** `l.remove(x)`: the first equal item; ValueError if none. */
  async remove(item: T): Promise<void> {
    await handleOf(this).call("remove", out(item));
  }

  /** `l.index(x)`; ValueError if absent. */
  async index(item: T): Promise<number> {
    return await handleOf(this).call("index", out(item)) as number;
  }

  /** `l.count(x)`. */
  async count(item: T): Promise<number> {
    return await handleOf(this).call("count", out(item)) as number;
  }

  /** `l.clear()` (Python's `del l[:]`). */
  async clear(): Promise<void> {
    await handleOf(this).call("clear");
  }
}

/**
 * A proxy of a namespace in a manager (Python's `Namespace`): named
 * attributes, read and written with get/set.
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const ns = manager.namespace();
 * await ns.set("x", 1);
 * console.log(await ns.get("x")); // 1
 * ```
 */
export class NamespaceProxy {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `ns.x`; an error named AttributeError when it has none. */
  async get<T = unknown>(name: string): Promise<T> {
    return back(await handleOf(this).call("get", name)) as T;
  }

  /** `ns.x = v`. */
  async set(name: string, value: unknown): Promise<void> {
    await handleOf(this).call("set", name, out(value));
  }

  /** `hasattr(ns, name)`. */
  async has(name: string): Promise<boolean> {
    return await handleOf(this).call("has", name) as boolean;
  }

  /** `del ns.x`; whether it was there. */
  async delete(name: string): Promise<boolean> {
    return await handleOf(this).call("delete", name) as boolean;
  }

  /** Every attribute, as a plain object. */
  async toObject(): Promise<Record<string, unknown>> {
    const entries = (await handleOf(this).call("toObject")) as Array<[string, unknown]>;
    return Object.fromEntries(entries.map(([k, v]) => [k, back(v)]));
  }
}

/**
 * A proxy of one value in a manager (Python's `manager.Value(typecode,
 * value)`, a `ValueProxy`): get() and set(v).
 *
 * @example
 * ```ts
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const v = manager.Value("i", 0);
 * await v.set(5);
 * console.log(await v.get()); // 5
 * ```
 */
export class ValueProxy<T = unknown> {
  /** The typecode it was made with (informative, as in Python's manager). */
  readonly typecode: string;

  /** @internal */
  constructor(_token: never) {
    this.typecode = adopt(this).ref.typecode ?? "";
  }

  /** `v.value`. */
  async get(): Promise<T> {
    return back(await handleOf(this).call("get")) as T;
  }

  /** `v.value = x`. */
  async set(value: T): Promise<void> {
    await handleOf(this).call("set", out(value));
  }
}
