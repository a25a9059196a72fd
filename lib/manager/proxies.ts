// Manager proxies: plain handles (where the manager is, the key, which
// object) whose methods are requests to the manager (client.ts). They cross
// to other processes as their handle and are revived there, connected.
import { type Crossing, crossing, decodeValue, type Destination, encodeValue, registerReviver } from "../transport/values.ts";
import { linkTo } from "./client.ts";
import type { ObjectKind } from "./objects.ts";
import type { ManagerAddress } from "./server.ts";

/** How a proxy travels: where its manager is, the key, and which object. */
export interface ProxyRef {
  address: ManagerAddress;
  authkey: Uint8Array;
  id: string;
  kind: ObjectKind;
  /** A value's typecode (informative). */
  typecode?: string;
}

/** A new object id (client-made, so a proxy exists before the server has answered). */
export function newId(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A value as it is kept at the manager (encoded as a queue item is). */
export function out(value: unknown): unknown {
  return encodeValue(value, "value", true, "item");
}

const back = (v: unknown) => decodeValue(v);

// The machinery every proxy shares: its reference and its link.
/** What every proxy holds: its reference, and calls through this process's link. */
export class Handle {
  readonly ref: ProxyRef;

  constructor(ref: ProxyRef) {
    this.ref = ref;
  }

  // (this process's current link: a closed one is replaced by a new one)
  call(method: string, ...args: unknown[]): Promise<unknown> {
    return linkTo(this.ref.address, this.ref.authkey).request("call", this.ref.id, method, args);
  }
}

const handles = new WeakMap<object, Handle>();
let arriving: Handle | null = null;

/** A proxy's handle (throws for anything else). */
export function handleOf(proxy: object): Handle {
  const h = handles.get(proxy);
  if (!h) throw new TypeError("not a manager proxy (make proxies with manager.dict(), manager.list(), ...)");
  return h;
}

function proxyCrossing(this: object, _to: Destination): Crossing {
  const { ref } = handleOf(this);
  return { type: "manager-proxy", state: ref };
}

// Every proxy class is made through this: from an arriving handle, or a new object.
function adopt(proxy: object): Handle {
  if (!arriving) throw new TypeError("Proxies come from a Manager: manager.dict(), manager.list(), ...");
  const h = arriving;
  arriving = null;
  handles.set(proxy, h);
  return h;
}

/**
 * A proxy of a dict in a manager (Python's `DictProxy`). Every call is one
 * atomic operation at the manager. Keys are strings, numbers, bigints,
 * booleans, null or undefined; values are anything structured clone keeps
 * (other proxies included).
 *
 * @example
 * ```ts ignore
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
 * ```ts ignore
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
 * ```ts ignore
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
 * ```ts ignore
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

/**
 * A proxy of a queue in a manager (Python's `manager.Queue()`): its items
 * live in the manager's process, so processes of other programs that
 * connect to the manager share it too. `get` waits at the manager; an item
 * taken for a caller whose connection broke goes back in front.
 *
 * @example
 * ```ts ignore
 * await using manager = await Manager.start();
 * const q = manager.Queue<number>();
 * await q.put(1);
 * console.log(await q.get()); // 1
 * ```
 */
export class QueueProxy<T = unknown> {
  /** @internal */
  constructor(_token: never) {
    adopt(this);
  }

  /** `q.put(x, timeout=...)`: waits while full (QueueFull once `timeout` ms pass). */
  async put(item: T, options: { timeout?: number } = {}): Promise<void> {
    await handleOf(this).call("put", out(item), options.timeout);
  }

  /** `q.put_nowait(x)`: QueueFull when full. */
  async putNowait(item: T): Promise<void> {
    await handleOf(this).call("putNowait", out(item));
  }

  /** `q.get(timeout=...)`: waits for an item (QueueEmpty once `timeout` ms pass; EOFError once closed and drained). */
  async get(options: { timeout?: number } = {}): Promise<T> {
    return back(await handleOf(this).call("get", options.timeout)) as T;
  }

  /** `q.get_nowait()`: QueueEmpty when empty. */
  async getNowait(): Promise<T> {
    return back(await handleOf(this).call("getNowait")) as T;
  }

  /** `q.qsize()`. */
  async qsize(): Promise<number> {
    return await handleOf(this).call("qsize") as number;
  }

  /** `q.empty()`. */
  async empty(): Promise<boolean> {
    return await handleOf(this).call("empty") as boolean;
  }

  /** `q.full()`. */
  async full(): Promise<boolean> {
    return await handleOf(this).call("full") as boolean;
  }

  /** Closes the queue for everyone (puts throw; gets drain, then EOFError). */
  async close(): Promise<void> {
    await handleOf(this).call("close");
  }
}

/**
 * A proxy of a JoinableQueue in a manager (Python's
 * `manager.JoinableQueue()`): a QueueProxy with taskDone and join.
 *
 * @example
 * ```ts ignore
 * const q = manager.JoinableQueue<string>();
 * await q.put("job");
 * await q.get();
 * await q.taskDone();
 * console.log(await q.join(1000)); // true
 * ```
 */
export class JoinableQueueProxy<T = unknown> extends QueueProxy<T> {
  /** `q.task_done()`: one item taken earlier is done (ValueError if more than were put). */
  async taskDone(): Promise<void> {
    await handleOf(this).call("taskDone");
  }

  /** `q.join()`: true once every item put is done; false if `timeout` ms pass first. */
  async join(timeout?: number): Promise<boolean> {
    return await handleOf(this).call("join", timeout) as boolean;
  }
}

/**
 * Any proxy a manager makes.
 *
 * @example
 * ```ts ignore
 * const shared: ManagerProxy = await manager.get("results");
 * ```
 */
export type ManagerProxy = DictProxy | ListProxy | NamespaceProxy | ValueProxy | QueueProxy;

const CLASSES: Record<ObjectKind, new (t: never) => ManagerProxy> = {
  dict: DictProxy,
  list: ListProxy,
  namespace: NamespaceProxy,
  value: ValueProxy,
  queue: QueueProxy,
  joinable: JoinableQueueProxy,
};

for (const cls of Object.values(CLASSES)) Object.defineProperty(cls.prototype, crossing, { value: proxyCrossing });

/** The proxy of the object `ref` names. */
export function makeProxy(ref: ProxyRef): ManagerProxy {
  arriving = new Handle(ref);
  return new CLASSES[ref.kind](undefined as never);
}

registerReviver("manager-proxy", (state) => makeProxy(state as ProxyRef));
