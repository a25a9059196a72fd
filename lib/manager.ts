// Manager: Python's multiprocessing.Manager / BaseManager. A server process
// holds dicts, lists, namespaces, values, queues, locks, semaphores, events,
// conditions and barriers; proxies call their methods over an authenticated TCP
// connection (lib/manager/: protocol.ts the wire and handshake, server.ts
// the server, objects.ts the objects, client.ts the connection, proxies.ts
// the proxies). Proxies are plain handles: passed to a Process, a Pool task
// or through a Queue, they reach the same object.
import { ProcessError } from "./errors.ts";
import { getContext } from "./contexts.ts";
import { Pipe } from "./pipe.ts";
import type { Process } from "./process.ts";
import { resolveFunction, task } from "./transport/functions.ts";
import { type Link, linkTo } from "./manager/client.ts";
import { keyBytes, newAuthkey } from "./manager/protocol.ts";
import { type ManagerAddress, serveManager } from "./manager/server.ts";
import type { ObjectKind } from "./manager/objects.ts";
import {
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  handleOf,
  JoinableQueueProxy,
  ListProxy,
  LockProxy,
  makeProxy,
  type ManagerProxy,
  NamespaceProxy,
  newId,
  out,
  type ProxyRef,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
} from "./manager/proxies.ts";

export {
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  JoinableQueueProxy,
  ListProxy,
  LockProxy,
  type ManagerAddress,
  type ManagerProxy,
  NamespaceProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
};

const serve = task(import.meta.url, serveManager);

/**
 * Options of Manager.start.
 *
 * @example
 * ```ts
 * import type { ManagerOptions } from "multiproc";
 * const options: ManagerOptions = { address: { host: "127.0.0.1", port: 0 }, authkey: "secret" };
 * ```
 */
export interface ManagerOptions {
  /** Where to listen: loopback and a free port by default. */
  address?: { host?: string; port?: number };
  /** The key clients must know (a string is taken as UTF-8); random by default. */
  authkey?: string | Uint8Array;
}

let started = 0;

/**
 * A manager (Python's `multiprocessing.Manager()` and `BaseManager`): a
 * server process holding shared dicts, lists, namespaces, values, queues,
 * locks, semaphores and events, which
 * proxies reach over an authenticated connection, from any process of the
 * program, or from another program with the address and the key.
 *
 * @example
 * ```ts
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

  /** A new queue at the manager (Python's `manager.Queue(maxsize)`); 0 or less: no limit. */
  Queue<T = unknown>(maxsize: number = 0): QueueProxy<T> {
    if (!Number.isInteger(maxsize)) throw new TypeError(`Queue(maxsize): maxsize must be an integer, got ${String(maxsize)}`);
    return this.#make("queue", maxsize);
  }

  /** A new joinable queue at the manager (Python's `manager.JoinableQueue(maxsize)`). */
  JoinableQueue<T = unknown>(maxsize: number = 0): JoinableQueueProxy<T> {
    if (!Number.isInteger(maxsize)) throw new TypeError(`JoinableQueue(maxsize): maxsize must be an integer, got ${String(maxsize)}`);
    return this.#make("joinable", maxsize);
  }

  /** A new lock at the manager (Python's `manager.Lock()`). */
  Lock(): LockProxy {
    return this.#make("lock", undefined);
  }

  /** A new re-entrant lock at the manager (Python's `manager.RLock()`), held per client process. */
  RLock(): RLockProxy {
    return this.#make("rlock", undefined);
  }

  /**
   * A new condition at the manager (Python's `manager.Condition(lock)`):
   * over `lock`, a Lock or RLock proxy of this manager, or a re-entrant
   * lock of its own.
   */
  Condition(lock?: LockProxy | RLockProxy): ConditionProxy {
    if (lock === undefined) return this.#make("condition", undefined);
    const ref = lock instanceof ConditionProxy ? null : refOf(lock);
    if (!ref || (ref.kind !== "lock" && ref.kind !== "rlock")) {
      throw new TypeError("Condition(lock): lock must be a Lock or RLock proxy made by a manager (manager.Lock(), manager.RLock())");
    }
    if (ref.address.host !== this.address.host || ref.address.port !== this.address.port) {
      throw new TypeError(
        `Condition(lock): the lock belongs to the manager at ${ref.address.host}:${ref.address.port}, ` +
          `not this one (${this.address.host}:${this.address.port}): make it with this manager's Lock()`,
      );
    }
    return this.#make("condition", ref.id);
  }

  /**
   * A new barrier at the manager (Python's `manager.Barrier(parties,
   * action, timeout)`; timeout in ms). The action runs in the manager's
   * process, once per cycle, before the parties are released (as in
   * Python); it must be exported from the main module or registered with
   * `task()` (the manager runs no code sent to it as text).
   */
  Barrier(parties: number, action?: () => unknown, timeout?: number): BarrierProxy {
    if (!Number.isInteger(parties) || parties < 1) throw new TypeError(`Barrier(parties): parties must be an integer >= 1, got ${String(parties)}`);
    if (action !== undefined && action !== null && typeof action !== "function") {
      throw new TypeError(
        `Barrier(parties, action, timeout): action must be a function, got ${String(action)}` +
          (typeof action === "number" ? ` (for a timeout alone: Barrier(${parties}, undefined, ${action}))` : ""),
      );
    }
    if (timeout !== undefined && !(typeof timeout === "number" && timeout >= 0)) {
      throw new TypeError(`Barrier(parties, action, timeout): timeout must be a number of ms >= 0, got ${String(timeout)}`);
    }
    const ref = action ? resolveFunction(action, "the manager Barrier's action") : undefined;
    if (ref?.type === "source") {
      throw new TypeError(
        `Barrier(parties, action): the action runs in the manager's process, which runs no code sent to it: ` +
          `export ${action!.name || "it"} from the main module, or register it with task(import.meta.url, fn)`,
      );
    }
    return this.#make("barrier", [parties, timeout, ref]);
  }

  /** A new semaphore at the manager (Python's `manager.Semaphore(value)`). */
  Semaphore(value: number = 1): SemaphoreProxy {
    return this.#make("semaphore", checkCount(value, "Semaphore"));
  }

  /** A new bounded semaphore at the manager (Python's `manager.BoundedSemaphore(value)`). */
  BoundedSemaphore(value: number = 1): SemaphoreProxy {
    return this.#make("bsemaphore", checkCount(value, "BoundedSemaphore"));
  }

  /** A new event at the manager (Python's `manager.Event()`). */
  Event(): EventProxy {
    return this.#make("event", undefined);
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

function checkCount(value: unknown, what: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) {
    throw new RangeError(`${what}(value): value must be an integer >= 0, got ${String(value)}`);
  }
  return value;
}

function refOf(proxy: unknown): ProxyRef | null {
  try {
    return typeof proxy === "object" && proxy !== null ? handleOf(proxy).ref : null;
  } catch {
    return null;
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
