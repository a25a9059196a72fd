// The manager server: a TCP listener (loopback unless told otherwise) that
// serves the objects of objects.ts to any process that proves it knows the
// authkey (protocol.ts). It runs in a child process of its own (Manager.start
// starts `serveManager` there), or in a process that serves its objects to
// others. One connection per client process; each request is answered in
// turn. A connection that sends garbage, an oversized frame or a wrong key,
// or stalls in the handshake, is closed; the others go on.
import { createServer, type Server, type Socket } from "../runtime/network.ts";
import type { Connection } from "../pipe.ts";
import {
  decodeMessage,
  encodeMessage,
  FrameReader,
  serverHandshake,
  sendFrame,
} from "./protocol.ts";
import { CallError, callHeld, type Held, makeHeld, type ObjectKind, Taken } from "./objects.ts";

/**
 * Where a manager listens.
 *
 * @example
 * ```ts
 * import type { ManagerAddress } from "multiproc";
 * const where: ManagerAddress = { host: "127.0.0.1", port: 50000 };
 * ```
 */
export interface ManagerAddress {
  /** Host name or IP address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** A request: [id, op, ...operands]. */
type Request = [number, string, ...unknown[]];

// How long a call on an object not made yet waits for it: a proxy made in
// one process and passed at once to another may be used before its maker's
// request to create it arrived (they come on different connections).
const UNKNOWN_WAIT_MS = 5000;

class ManagerServer {
  readonly #objects = new Map<string, Held>();
  readonly #names = new Map<string, { id: string; kind: ObjectKind }>();
  readonly #waiting = new Map<string, Array<() => void>>();
  readonly #key: Uint8Array;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #stopped: () => void = () => {};
  readonly stopped: Promise<void>;

  constructor(key: Uint8Array) {
    this.#key = key;
    this.stopped = new Promise((resolve) => (this.#stopped = resolve));
    this.#server = createServer((socket) => this.#accept(socket));
  }

  listen(host: string, port: number): Promise<ManagerAddress> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(port, host, () => {
        const a = this.#server.address();
        resolve({ host, port: typeof a === "object" && a ? a.port : port });
      });
    });
  }

  stop(): void {
    this.#server.close();
    for (const s of this.#sockets) s.destroy();
    this.#stopped();
  }

  async #accept(socket: Socket): Promise<void> {
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => socket.destroy());
    socket.on("close", () => this.#sockets.delete(socket));
    const reader = new FrameReader();
    let early: Uint8Array[];
    try {
      early = await serverHandshake(socket, this.#key, reader);
    } catch {
      socket.end();
      setTimeout(() => socket.destroy(), 100).unref?.();
      return;
    }
    // Calls still waiting (a queue's get) stop when their caller is gone.
    const gone = new AbortController();
    socket.on("close", () => gone.abort());
    const onFrame = (frame: Uint8Array) => void this.#handle(socket, frame, gone.signal);
    socket.on("data", (chunk: Uint8Array) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch {
        return socket.destroy(); // an oversized frame: this connection only
      }
      for (const f of frames) onFrame(f);
    });
    for (const f of early) onFrame(f);
  }

  async #handle(socket: Socket, frame: Uint8Array, gone: AbortSignal): Promise<void> {
    let request: Request;
    try {
      request = decodeMessage(frame) as Request;
      if (!Array.isArray(request) || typeof request[0] !== "number" || typeof request[1] !== "string") throw new Error();
    } catch {
      return void socket.destroy(); // garbage: this connection only
    }
    const [id, op, ...operands] = request;
    let reply: unknown[];
    try {
      // (most calls answer at once: no await then, the answer goes out in this turn)
      const r = this.#run(op, operands, gone);
      let value = r instanceof Promise ? await r : r;
      if (value instanceof Taken) {
        // An item taken for a caller that is gone goes back in front.
        if (socket.destroyed) return value.undo();
        value = value.value;
      }
      reply = [id, 1, value];
    } catch (error) {
      const e = error as Error;
      reply = [id, 0, { name: e?.name ?? "Error", message: e?.message ?? String(error) }];
    }
    if (socket.destroyed) return;
    try {
      sendFrame(socket, encodeMessage(reply));
    } catch (error) {
      sendFrame(socket, encodeMessage([id, 0, { name: "TypeError", message: `the result cannot be sent: ${(error as Error).message}` }]));
    }
    if (op === "shutdown") this.stop();
  }

  // The object `id`, at once; or a promise of it, for an object not made yet.
  #object(id: unknown): Held | Promise<Held> {
    if (typeof id !== "string") throw new CallError("TypeError", "an object id must be a string");
    return this.#objects.get(id) ?? this.#objectLater(id);
  }

  async #objectLater(id: string): Promise<Held> {
    let held = this.#objects.get(id);
    if (!held) {
      await new Promise<void>((resolve) => {
        const list = this.#waiting.get(id) ?? [];
        this.#waiting.set(id, list);
        const timer = setTimeout(resolve, UNKNOWN_WAIT_MS);
        list.push(() => (clearTimeout(timer), resolve()));
      });
      held = this.#objects.get(id);
    }
    if (!held) throw new CallError("ReferenceError", `the manager has no object ${id} (made by a manager that restarted?)`);
    return held;
  }

  #run(op: string, operands: unknown[], gone: AbortSignal): unknown {
    switch (op) {
      case "new": {
        const [id, kind, init] = operands as [string, ObjectKind, unknown];
        if (typeof id !== "string" || id.length > 64) throw new CallError("TypeError", "bad object id");
        if (!this.#objects.has(id)) this.#objects.set(id, makeHeld(kind, init, (other) => this.#objects.get(other)));
        for (const wake of this.#waiting.get(id) ?? []) wake();
        this.#waiting.delete(id);
        return null;
      }
      case "call": {
        const [id, method, args] = operands;
        const held = this.#object(id);
        return held instanceof Promise ? held.then((h) => callHeld(h, method, args, gone)) : callHeld(held, method, args, gone);
      }
      case "register": {
        const [name, id] = operands;
        if (typeof name !== "string" || name === "") throw new CallError("TypeError", "a registered name must be a non-empty string");
        return Promise.resolve(this.#object(id)).then((held) => {
          this.#names.set(name, { id: id as string, kind: held.kind });
          return null;
        });
      }
      case "lookup": {
        const [name] = operands;
        const entry = typeof name === "string" ? this.#names.get(name) : undefined;
        if (!entry) throw new CallError("KeyError", `nothing is registered as ${JSON.stringify(String(name))}`);
        return [entry.id, entry.kind];
      }
      case "ping":
      case "shutdown":
        return null;
    }
    throw new CallError("TypeError", `unknown request ${JSON.stringify(op)}`);
  }
}

/**
 * Serves until shut down: listens on `host:port` (0: a free port), says
 * where on `ready`, and serves objects to whoever knows `key`.
 */
export async function serveManager(host: string, port: number, key: Uint8Array, ready: Connection<unknown>): Promise<void> {
  const server = new ManagerServer(key);
  let address: ManagerAddress;
  try {
    address = await server.listen(host, port);
  } catch (error) {
    ready.send({ error: `cannot listen on ${host}:${port}: ${(error as Error).message}` });
    return;
  }
  ready.send({ address });
  ready.close();
  await server.stopped;
}
