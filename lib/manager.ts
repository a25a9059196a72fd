// Manager: Python's multiprocessing.Manager / BaseManager. A server process
// holds dicts, lists, namespaces and values; proxies call their methods over
// an authenticated TCP connection (lib/manager/: protocol.ts the wire and
// handshake, server.ts the server, objects.ts the objects, client.ts the
// connection). Proxies are plain handles: passed to a Process, a Pool task
// or through a Queue, they reach the same object.
import { ProcessError } from "./errors.ts";
import { getContext } from "./contexts.ts";
import { Pipe } from "./pipe.ts";
import type { Process } from "./process.ts";
import { type Crossing, crossing, decodeValue, type Destination, encodeValue, registerReviver } from "./transport/values.ts";
import { task } from "./transport/functions.ts";
import { type Link, linkTo } from "./manager/client.ts";
import { keyBytes, newAuthkey } from "./manager/protocol.ts";
import { type ManagerAddress, serveManager } from "./manager/server.ts";
import type { ObjectKind } from "./manager/objects.ts";

export type { ManagerAddress };

const serve = task(import.meta.url, serveManager);

/**
 * Options of Manager.start.
 *
 * @example
 * ```ts
 * import type { ManagerOptions } from "./manager.ts";
 * const options: ManagerOptions = { address: { host: "127.0.0.1", port: 0 }, authkey: "secret" };
 * ```
 */
export interface ManagerOptions {
  /** Where to listen: loopback and a free port by default. */
  address?: { host?: string; port?: number };
  /** The key clients must know (a string is taken as UTF-8); random by default. */
  authkey?: string | Uint8Array;
}

/** How a proxy travels: where its manager is, the key, and which object. */
interface ProxyRef {
  address: ManagerAddress;
  authkey: Uint8Array;
  id: string;
  kind: ObjectKind;
  /** A value's typecode (informative). */
  typecode?: string;
}

function newId(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function out(value: unknown): unknown {
  return encodeValue(value, "value", true, "item");
}

const back = (v: unknown) => decodeValue(v);

// The machinery every proxy shares: its reference and its link.
class Handle {
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

function handleOf(proxy: object): Handle {
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
 * Any proxy a manager makes.
 *
 * @example
 * ```ts ignore
 * const shared: ManagerProxy = await manager.get("results");
 * ```
 */
export type ManagerProxy = DictProxy | ListProxy | NamespaceProxy | ValueProxy;

const CLASSES: Record<ObjectKind, new (t: never) => ManagerProxy> = {
  dict: DictProxy,
  list: ListProxy,
  namespace: NamespaceProxy,
  value: ValueProxy,
};

for (const cls of Object.values(CLASSES)) Object.defineProperty(cls.prototype, crossing, { value: proxyCrossing });

function makeProxy(ref: ProxyRef): ManagerProxy {
  arriving = new Handle(ref);
  return new CLASSES[ref.kind](undefined as never);
}

registerReviver("manager-proxy", (state) => makeProxy(state as ProxyRef));

let started = 0;

/**
 * A manager (Python's `multiprocessing.Manager()` and `BaseManager`): a
 * server process holding shared dicts, lists, namespaces and values, which
 * proxies reach over an authenticated connection, from any process of the
 * program, or from another program with the address and the key.
 *
 * @example
 * ```ts ignore
 * import { Manager } from "multiproc";
 * await using manager = await Manager.start();
 * const d = manager.dict();
 * await d.set("answer", 42);
 * console.log(await d.get("answer")); // 42
 * ```
 */
export class Manager {
  /** Where the manager listens. */
  readonly address: ManagerAddress;
  /** The key clients prove they know. */
  readonly authkey: Uint8Array;
  readonly #server: Process | null;

  private constructor(address: ManagerAddress, authkey: Uint8Array, server: Process | null) {
    this.address = address;
    this.authkey = authkey;
    this.#server = server;
  }

  // This process's link to the manager (a new one after a close).
  get #link(): Link {
    return linkTo(this.address, this.authkey);
  }

  /**
   * Starts a manager server in a child process of its own.
   *
   * @throws {ProcessError} when it cannot start or listen.
   */
  static async start(options: ManagerOptions = {}): Promise<Manager> {
    const host = options.address?.host ?? "127.0.0.1";
    const port = options.address?.port ?? 0;
    if (typeof host !== "string" || host === "") throw new TypeError("Manager.start: address.host must be a host name or IP");
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new RangeError(`Manager.start: address.port must be 0-65535, got ${port}`);
    const authkey = options.authkey === undefined ? newAuthkey() : checkKey(options.authkey);
    const [here, there] = Pipe<{ address?: ManagerAddress; error?: string }>();
    const server = new (getContext("process").Process)({
      target: serve,
      args: [host, port, authkey, there],
      daemon: true,
      name: `SyncManager-${++started}`,
    });
    server.start();
    there.close();
    let said: { address?: ManagerAddress; error?: string };
    try {
      said = await here.recv();
    } catch (error) {
      await server.join();
      throw new ProcessError(`The manager's server ended before it listened (exit code ${server.exitCode})`, { cause: error });
    } finally {
      here.close();
    }
    if (!said.address) {
      await server.join();
      throw new ProcessError(`The manager could not start: ${said.error}`);
    }
    const manager = new Manager(said.address, authkey, server);
    await manager.#link.open();
    return manager;
  }

  /**
   * Connects to a manager another process started (Python's
   * `BaseManager(address, authkey).connect()`).
   *
   * @throws {AuthenticationError} when the key is wrong, before anything runs.
   */
  static async connect(address: { host: string; port: number }, authkey: string | Uint8Array): Promise<Manager> {
    const manager = new Manager({ host: address.host, port: address.port }, checkKey(authkey), null);
    await manager.#link.open();
    return manager;
  }

  #make<P extends ManagerProxy>(kind: ObjectKind, init: unknown, typecode?: string): P {
    const ref: ProxyRef = { address: this.address, authkey: this.authkey, id: newId(), kind, ...(typecode === undefined ? {} : { typecode }) };
    // Sent now, before any call of the proxy: they go in order.
    const made = this.#link.request("new", ref.id, kind, init);
    made.catch(() => {}); // (a failure shows in the proxy's first call)
    return makeProxy(ref) as P;
  }

  /** A new shared dict (Python's `manager.dict()`), optionally filled. */
  dict<K = unknown, V = unknown>(init?: Iterable<[K, V]> | Record<string, V>): DictProxy<K, V> {
    const list = init === undefined ? [] : Symbol.iterator in Object(init) ? [...(init as Iterable<[K, V]>)] : Object.entries(init);
    return this.#make("dict", list.map(([k, v]) => [k, out(v)]));
  }

  /** A new shared list (Python's `manager.list()`), optionally filled. */
  list<T = unknown>(init?: Iterable<T>): ListProxy<T> {
    return this.#make("list", [...(init ?? [])].map(out));
  }

  /** A new namespace (Python's `manager.Namespace()`), optionally with attributes. */
  namespace(init: Record<string, unknown> = {}): NamespaceProxy {
    return this.#make("namespace", Object.entries(init).map(([k, v]) => [k, out(v)]));
  }

  /** A new shared value (Python's `manager.Value(typecode, value)`). */
  Value<T = unknown>(typecode: string, value: T): ValueProxy<T> {
    if (typeof typecode !== "string") throw new TypeError(`Value(typecode, value): typecode must be a string, got ${typeof typecode}`);
    return this.#make("value", out(value), typecode);
  }

  /** Shares `proxy` under `name`, for `get(name)` from any client. */
  async register(name: string, proxy: ManagerProxy): Promise<void> {
    if (typeof name !== "string" || name === "") throw new TypeError("register: name must be a non-empty string");
    const h = handleOf(proxy);
    await this.#link.request("register", name, h.ref.id);
  }

  /** The proxy registered under `name`; rejects with an error named KeyError when none is. */
  async get(name: string): Promise<ManagerProxy> {
    const [id, kind, typecode] = (await this.#link.request("lookup", name)) as [string, ObjectKind, string?];
    return makeProxy({ address: this.address, authkey: this.authkey, id, kind, ...(typecode ? { typecode } : {}) });
  }

  /** Stops the manager (its objects are gone; their proxies reject from then on) and waits for its process. */
  async shutdown(): Promise<void> {
    const server = this.#server;
    if (server) {
      await this.#link.request("shutdown").catch(() => {});
      await server.join(5000);
      if (server.exitCode === null) {
        server.terminate();
        await server.join();
      }
    }
    this.#link.close();
  }

  /** `await using manager = await Manager.start()` shuts it down at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }
}

function checkKey(key: unknown): Uint8Array {
  if (typeof key === "string" || key instanceof Uint8Array) {
    const bytes = keyBytes(key);
    if (bytes.length === 0) throw new TypeError("authkey must not be empty");
    return bytes;
  }
  throw new TypeError(`authkey must be a string or a Uint8Array, got ${typeof key}`);
}
