// Pipe and Connection: Python's multiprocessing.Pipe. Each direction is a
// ring (queue/ring.ts) owned by the process that made the pipe; its threads
// use the rings directly, child processes through the owner, as queues do.
//
// End of file works as with file descriptors: every copy of an end (the
// original, and one per Process or thread it was passed to) is listed in a
// small table of holders in shared memory; a copy leaves the table when it
// is closed or when the thread or process holding it ends. `recv` on an
// end whose other end has no holder left, once drained, rejects with
// EOFError; `send` to it throws.
import { EOFError, SerializationError } from "./errors.ts";
import { checkTimeout } from "./checks.ts";
import { type Crossing, crossing, type Destination, registerReviver } from "./transport/values.ts";
import type { Frame } from "./queue/ring.ts";
import { BYTES, decodeItem, encodeBytes, encodeItem } from "./queue/codec.ts";
import { currentHolder, myToken } from "./shared/lives.ts";
import { listServed, type RemoteRef } from "./queue/server.ts";
import { remoteEnd } from "./queue/remote.ts";
import { type EndBackend, LocalEnd, pipeMemory, pipeMemoryFrom, type PipeMemoryState, pipeMemoryState } from "./pipe/end.ts";

interface EndState {
  end: 0 | 1;
  entry: number;
  memory?: PipeMemoryState;
  remote?: RemoteRef & { readable: boolean; writable: boolean };
}

let arriving: { backend: EndBackend; entry: number } | null = null;

/**
 * One end of a Pipe (Python's `multiprocessing.connection.Connection`).
 * `send` and `close` are synchronous; `recv`, `recvBytes` and `poll` wait.
 * Pass an end to a Process or Pool as an argument; each copy is closed on
 * its own, and the other end sees EOFError once every copy is closed (or
 * gone with the process or thread that held it) and the messages are read.
 *
 * @example
 * ```ts
 * import { Pipe } from "multiproc";
 * const [a, b] = Pipe();
 * a.send({ hello: "world" });
 * console.log(await b.recv()); // { hello: "world" }
 * ```
 */
export class Connection<T = unknown> {
  readonly #backend: EndBackend;
  readonly #entry: number;
  #closed = false;

  /** @internal Connections come from Pipe(). */
  constructor(_token: never) {
    if (!arriving) throw new TypeError("Connections come from Pipe(): const [a, b] = Pipe()");
    this.#backend = arriving.backend;
    this.#entry = arriving.entry;
    arriving = null;
  }

  /** Whether this copy was closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether this end can receive. */
  get readable(): boolean {
    return this.#backend.readable;
  }

  /** Whether this end can send. */
  get writable(): boolean {
    return this.#backend.writable;
  }

  #check(what: string): void {
    if (this.#closed) throw new Error(`Cannot ${what}: this end of the pipe is closed`);
  }

  #send(frame: Frame): void {
    if (this.#backend.send(frame) === "closed") {
      const e = new Error("Cannot send: the other end of the pipe is closed (Python's BrokenPipeError)");
      e.name = "BrokenPipeError";
      throw e;
    }
  }

  /**
   * Sends a value to the other end (structured clone; Errors keep class,
   * cause and properties). Does not wait.
   *
   * @throws {SerializationError} for a value that cannot be cloned; nothing is sent.
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * a.send([1, "two", new Map([[3, 4]])]);
   * console.log(await b.recv()); // [1, "two", Map { 3 => 4 }]
   * ```
   */
  send(value: T): void {
    this.#check("send");
    this.#send(encodeItem(value, "value"));
  }

  /**
   * Sends raw bytes, read on the other side with `recvBytes`.
   *
   * @param bytes The bytes; `offset` and `size` pick a part of them.
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * a.sendBytes(new Uint8Array([1, 2, 3]));
   * console.log(await b.recvBytes()); // Uint8Array [1, 2, 3]
   * ```
   */
  sendBytes(bytes: Uint8Array | ArrayBuffer, offset = 0, size?: number): void {
    this.#check("send bytes");
    const view = bytes instanceof ArrayBuffer ? new Uint8Array(bytes) : bytes;
    if (!(view instanceof Uint8Array)) throw new TypeError("sendBytes takes a Uint8Array or an ArrayBuffer");
    if (offset < 0 || offset > view.length || (size !== undefined && (size < 0 || offset + size > view.length))) {
      throw new RangeError(`sendBytes: offset ${offset} and size ${size} fall outside ${view.length} bytes`);
    }
    this.#send(encodeBytes(view.subarray(offset, size === undefined ? undefined : offset + size)));
  }

  async #recv(timeout: number | undefined, what: string): Promise<Uint8Array> {
    this.#check(what);
    const r = await this.#backend.recv(checkTimeout(timeout, what));
    if (r === "eof") throw new EOFError("The other end of the pipe is closed and everything it sent has been read");
    if (r === "empty") throw new EOFError(`Nothing came within ${timeout} ms`);
    return r;
  }

  /**
   * Receives the next value, waiting for one.
   *
   * @throws {EOFError} when the other end is closed and everything it sent was read.
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * b.send("pong");
   * console.log(await a.recv()); // "pong"
   * ```
   */
  async recv(): Promise<T> {
    return decodeItem(await this.#recv(undefined, "recv")) as T;
  }

  /**
   * Receives the next value, blocking this thread: for code in a child or
   * worker, where blocking is safe.
   *
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * a.send(1);
   * console.log(b.recvSync()); // 1
   * ```
   */
  recvSync(): T {
    this.#check("recv");
    const r = this.#backend.recvSync(undefined);
    if (r === "eof" || r === "empty") throw new EOFError("The other end of the pipe is closed and everything it sent has been read");
    return decodeItem(r) as T;
  }

  /**
   * Receives the next message sent with `sendBytes`.
   *
   * @throws {EOFError} as recv.
   * @throws {TypeError} when the message was sent with `send` (it is consumed).
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * b.sendBytes(new TextEncoder().encode("hi"));
   * console.log(new TextDecoder().decode(await a.recvBytes())); // "hi"
   * ```
   */
  async recvBytes(): Promise<Uint8Array> {
    const frame = await this.#recv(undefined, "recv bytes");
    if (frame[0] !== BYTES) throw new TypeError("recvBytes: the message was sent with send(), not sendBytes(): use recv()");
    return frame.subarray(1);
  }

  /**
   * Whether there is something to receive, waiting up to `timeout` ms.
   * Without a timeout it does not wait (as in Python); `null` waits forever.
   * True also at end of file (recv would not wait, it would throw).
   *
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * console.log(await b.poll()); // false
   * a.send(1);
   * console.log(await b.poll(100)); // true
   * ```
   */
  poll(timeout?: number | null): Promise<boolean> {
    this.#check("poll");
    const ms = timeout === undefined ? 0 : timeout === null ? undefined : checkTimeout(timeout, "poll");
    return this.#backend.poll(ms);
  }

  /**
   * Closes this copy of the end. The other end reads what was sent, then
   * sees EOFError once no copy of this end is open anywhere.
   *
   * @example
   * ```ts
   * import { Pipe } from "multiproc";
   * const [a, b] = Pipe();
   * a.send("last");
   * a.close();
   * console.log(await b.recv()); // "last"
   * await b.recv().catch((e) => console.log(e.name)); // "EOFError"
   * ```
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#backend.release(this.#entry);
  }

  /** Closes this copy (for `using`). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** @internal */
  get internals(): { backend: EndBackend; entry: number } {
    return { backend: this.#backend, entry: this.#entry };
  }
}

function makeConnection<T>(backend: EndBackend, entry: number): Connection<T> {
  arriving = { backend, entry };
  return new Connection<T>(undefined as never);
}

/**
 * Python's `multiprocessing.Pipe`: a pair of connected ends.
 *
 * @param duplex Both ends send and receive (true); or the first end only
 *   receives and the second only sends (false). @default true
 * @returns `[a, b]`.
 * @example
 * ```ts
 * import { Pipe } from "multiproc";
 * const [reader, writer] = Pipe(false);
 * writer.send("one way");
 * console.log(await reader.recv()); // "one way"
 * ```
 */
export function Pipe<T = unknown>(duplex: boolean = true): [Connection<T>, Connection<T>] {
  if (typeof duplex !== "boolean") throw new TypeError(`Pipe(duplex): duplex must be true or false, got ${String(duplex)}`);
  const memory = pipeMemory(duplex);
  const ends = [new LocalEnd(memory, 0), new LocalEnd(memory, 1)] as const;
  const me = myToken();
  return [makeConnection<T>(ends[0], ends[0].hold(me)), makeConnection<T>(ends[1], ends[1].hold(me))];
}

// An end crosses as its shared memory to a thread of this process, or as
// its name in the owner's list to a child process (or, in OS shared
// memory, as its windows to either); either way a new copy is listed in
// the holders' table first, for whoever receives it.
function endCrossing(this: Connection, to: Destination): Crossing {
  if (to === "item") {
    throw new SerializationError("A pipe end cannot be sent through a queue or a pipe: pass it to the Process or Pool that uses it");
  }
  if (this.closed) throw new SerializationError("Cannot pass a closed pipe end to a child");
  const { backend } = this.internals;
  if (!(backend instanceof LocalEnd) || !backend.memory.own) {
    throw new SerializationError("A pipe end reaches the process that made it, its threads and its direct child processes only");
  }
  const entry = backend.hold(currentHolder());
  const state: EndState = { end: backend.end, entry };
  const memory = pipeMemoryState(backend.memory, to);
  if (memory) state.memory = memory;
  else state.remote = { ...exportEnd(backend), readable: backend.readable, writable: backend.writable };
  return { type: "pipe-end", state };
}
Object.defineProperty(Connection.prototype, crossing, { value: endCrossing });

function exportEnd(end: LocalEnd): RemoteRef {
  return listServed(end);
}

registerReviver("pipe-end", (raw) => {
  const state = raw as EndState;
  const backend = state.memory ? new LocalEnd(pipeMemoryFrom(state.memory), state.end) : remoteEnd(state.remote!);
  return makeConnection(backend, state.entry);
});
