// A process's connection to a manager: one per address and key, opened on
// first use, authenticated (protocol.ts), with requests answered in order.
// When the manager goes away every pending and later call rejects at once.
// The socket does not keep the program alive while no call is pending.
import { connect, type Socket } from "../runtime/network.ts";
import { AuthenticationError, errorClasses, RemoteError } from "../errors.ts";
import { AuthRefused, clientHandshake, decodeMessage, encodeMessage, FrameReader, sendFrame } from "./protocol.ts";
import type { ManagerAddress } from "./server.ts";

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

/** A connection to one manager. */
export class Link {
  readonly address: ManagerAddress;
  readonly #key: Uint8Array;
  #socket: Socket | null = null;
  #ready: Promise<void> | null = null;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #gone: Error | null = null;
  #open_ = false;

  constructor(address: ManagerAddress, key: Uint8Array) {
    this.address = address;
    this.#key = key;
  }

  /** Connects and authenticates (once); rejects with AuthenticationError for a wrong key. */
  open(): Promise<void> {
    // A link that could not open is forgotten: the next call tries afresh.
    return this.#ready ??= this.#open().catch((error) => {
      if (links.get(keyOf(this.address, this.#key)) === this) links.delete(keyOf(this.address, this.#key));
      throw error;
    });
  }

  async #open(): Promise<void> {
    const { host, port } = this.address;
    const socket = connect({ host, port });
    socket.setNoDelay(true);
    this.#socket = socket;
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", (e) => reject(new Error(`Cannot reach the manager at ${host}:${port}: ${e.message}`, { cause: e })));
    });
    const reader = new FrameReader();
    let early: Uint8Array[];
    try {
      early = await clientHandshake(socket, this.#key, reader);
    } catch (error) {
      socket.destroy();
      if (error instanceof AuthRefused) throw new AuthenticationError(`${error.message} (manager at ${host}:${port})`);
      throw new Error(`Cannot reach the manager at ${host}:${port}: ${(error as Error).message}`, { cause: error });
    }
    socket.on("data", (chunk: Uint8Array) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        return this.#fail(error as Error);
      }
      for (const f of frames) this.#answer(f);
    });
    socket.on("close", () => this.#fail(new Error(`The manager at ${host}:${port} has gone (shut down, or its process ended)`)));
    socket.on("error", () => {});
    for (const f of early) this.#answer(f);
    socket.unref();
    this.#open_ = true;
  }

  #answer(frame: Uint8Array): void {
    let id: number, ok: number, value: unknown;
    try {
      [id, ok, value] = decodeMessage(frame) as [number, number, unknown];
    } catch (error) {
      return this.#fail(new Error(`The manager sent what is not a message: ${(error as Error).message}`));
    }
    const p = this.#pending.get(id);
    if (!p) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#socket?.unref();
    if (ok === 1) return p.resolve(value);
    // multiproc's own errors (QueueEmpty, QueueFull, EOFError, ...) come back
    // as their class; others (KeyError, IndexError, ...) as RemoteError with
    // that name.
    const { name, message } = value as { name: string; message: string };
    const cls = Object.hasOwn(errorClasses, name) ? errorClasses[name] : null;
    const e = cls ? new cls(message) : new RemoteError(message);
    if (!cls) e.name = name;
    p.reject(e);
  }

  #fail(error: Error): void {
    if (this.#gone) return;
    this.#gone = error;
    this.#socket?.destroy();
    for (const p of this.#pending.values()) p.reject(error);
    this.#pending.clear();
    if (links.get(keyOf(this.address, this.#key)) === this) links.delete(keyOf(this.address, this.#key));
  }

  /** Sends a request and resolves with its answer. */
  async request(op: string, ...operands: unknown[]): Promise<unknown> {
    if (!this.#open_) await this.open();
    if (this.#gone) throw this.#gone;
    const id = this.#nextId++;
    const bytes = encodeMessage([id, op, ...operands]);
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#socket!.ref();
      sendFrame(this.#socket!, bytes);
    });
  }

  /** Closes the connection (pending calls reject). */
  close(): void {
    this.#fail(new Error("The connection to the manager was closed"));
  }
}

const links = new Map<string, Link>();

function keyOf(address: ManagerAddress, key: Uint8Array): string {
  return `${address.host}:${address.port}:${[...key].join(",")}`;
}

/** This process's link to the manager at `address` with `key`. */
export function linkTo(address: ManagerAddress, key: Uint8Array): Link {
  const k = keyOf(address, key);
  let link = links.get(k);
  if (!link) links.set(k, link = new Link(address, key));
  return link;
}
