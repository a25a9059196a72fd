// A queue's ring as a child process sees it: every operation is a request
// to the process that owns the ring (its parent), over the request line.
// Blocking calls (`getSync`, `qsize`, ...) write a request and read the
// answer; async ones write it and await the answer on the parent channel.
// All requests of a child go down one line in order, so a producer's items
// keep their order whichever calls it mixes.
import type { Frame } from "./ring.ts";
import type { EndBackend } from "../pipe/end.ts";
import { state } from "../state.ts";
import { getHost } from "../runtime/host.ts";
import { onSideMessage, type RequestLine, requestLine, runBeforeRequest, setBeforeSend } from "../child/channel.ts";
import type { Backend, QueueStat } from "./backend.ts";
import type { Ring } from "./ring.ts";
import { listRing, listServed, type RemoteRef } from "./server.ts";
import { copyOf, decodeLent, encodeLent, encodeNumbers, encodeRequest, Op, Status } from "./wire.ts";

// Borrowed items left unread this long go back to the owner's queue.
const GIVE_BACK_MS = 50;

export type { RemoteRef };

/** Lists `ring` for child processes and returns the name they will use. */
export function exportRing(ring: Ring): RemoteRef {
  return listRing(ring);
}

type Result = Uint8Array | "ok" | "full" | "closed" | "empty" | "eof" | "false";

const RESULTS: Record<number, Result> = {
  [Status.Ok]: "ok",
  [Status.Full]: "full",
  [Status.Closed]: "closed",
  [Status.Empty]: "empty",
  [Status.Eof]: "eof",
  [Status.False]: "false",
};

function toResult(status: number, payload: Uint8Array | null | undefined): Result {
  if (status === Status.Ok && payload && payload.length) return payload;
  if (status in RESULTS) return RESULTS[status];
  if (status === Status.Unknown) {
    throw new Error("This queue no longer exists in the process that made it (that process was restarted?)");
  }
  throw new Error(`The queue's owner failed the request: ${new TextDecoder().decode(payload ?? new Uint8Array())}`);
}

// One client per process: the line, the pending async requests, and the
// requests written since the last flush.
/** A child process's side of its request line. */
export class Client {
  readonly #line: RequestLine;
  readonly #pending = new Map<number, (r: [number, Uint8Array | null]) => void>();
  #nextId = 1;
  #out: Uint8Array[] = [];
  /** Rings a request without answer (a put, a send) found closed. */
  readonly closed: Set<number> = new Set<number>();
  #outBytes = 0;

  // Requests were written that the owner does not answer, and no answer
  // has been read since: they may not have been done yet.
  #unsettled = false;

  constructor(line: RequestLine) {
    this.#line = line;
    // Before this child says anything on its IPC channel (a task's
    // result), the owner has done what it was asked without an answer.
    setBeforeSend(() => {
      if (this.#unsettled || this.#out.length) this.#call(Op.Sync, 0, undefined);
    });
    // Requests still waiting for their flush go out even if the child
    // exits right away (`q.putNowait(x); process.exit()`).
    getHost().onExit(() => this.#flush());
    onSideMessage((message) => {
      for (let i = 1; i < message.length; i += 3) {
        const id = message[i] as number;
        if (id === 0) {
          // A request that wanted no answer failed: its ring is closed.
          this.closed.add(message[i + 2] as number);
          continue;
        }
        const resolve = this.#pending.get(id);
        this.#pending.delete(id);
        resolve?.([message[i + 1] as number, message[i + 2] as Uint8Array | null]);
      }
    });
  }

  /** Writes what is pending now. */
  flushNow(): void {
    this.#flush();
  }

  #flush = (): void => {
    if (this.#out.length === 0) return;
    runBeforeRequest();
    const parts = this.#out;
    const all = parts.length === 1 ? parts[0] : new Uint8Array(this.#outBytes);
    if (parts.length > 1) {
      let at = 0;
      for (const p of parts) all.set(p, (at += p.length) - p.length);
    }
    this.#out = [];
    this.#outBytes = 0;
    this.#line.write(all);
  };

  /**
   * Sends a request without waiting for its answer (a put that cannot have
   * to wait, a send on a pipe): written with the next flush, in order with
   * every other request. Should it find the ring closed, the owner says so
   * and the ring lands in `closed`.
   */
  post(op: Op, ring: number, payload: Frame): void {
    this.#unsettled = true;
    this.#enqueue(encodeRequest(op, false, 0, ring, undefined, payload));
  }

  #enqueue(frame: Uint8Array): void {
    if (this.#out.length === 0) queueMicrotask(this.#flush);
    this.#out.push(frame);
    this.#outBytes += frame.length;
  }

  request(op: Op, ring: number, ms: number | undefined, payload?: Frame, signal?: AbortSignal): Promise<Result> {
    return this.requestRaw(op, ring, ms, payload, signal).then(([status, bytes]) => toResult(status, bytes));
  }

  /** Sends a request and resolves with the owner's answer as it is (status, payload). */
  requestRaw(
    op: Op,
    ring: number,
    ms: number | undefined,
    payload?: Frame,
    signal?: AbortSignal,
  ): Promise<[number, Uint8Array | null]> {
    const id = this.#nextId++;
    if (this.#nextId > 0x7fffffff) this.#nextId = 1;
    this.#enqueue(encodeRequest(op, false, id, ring, ms, payload));
    return new Promise((resolve) => {
      const onAbort = () => {
        // The owner stops waiting for us; what it answers is dropped,
        // unless it already took an item for us: then we keep it.
        this.#call(Op.Cancel, ring, undefined, new Uint8Array(Uint32Array.of(id).buffer));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, (answer) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(answer);
      });
    });
  }

  /** A blocking request: writes it (after whatever is pending) and reads the answer (status, payload). */
  callRaw(op: Op, ring: number, ms: number | undefined, payload?: Frame): [number, Uint8Array] {
    return this.#call(op, ring, ms, payload);
  }

  #call(op: Op, ring: number, ms: number | undefined, payload?: Frame): [number, Uint8Array] {
    this.#flush();
    runBeforeRequest();
    this.#line.write(encodeRequest(op, true, 0, ring, ms, payload));
    const body = this.#line.readFrame();
    if (!body) throw new Error("The process that owns this queue has gone");
    this.#unsettled = false; // answered in order: everything before it is done
    return [body[0], body.subarray(1)];
  }

  call(op: Op, ring: number, ms: number | undefined, payload?: Frame): Result {
    const [status, bytes] = this.#call(op, ring, ms, payload);
    return toResult(status, bytes);
  }
}

let client: Client | null = null;

/**
 * This process's client of its parent's request line, for something owned
 * by process `home` (`what`: "a queue", "a Lock", for the error).
 */
export function clientFor(ref: { home: number }, what = "a queue"): Client {
  const s = state();
  const line = requestLine();
  if (!line || s.parent?.pid !== ref.home) {
    throw new Error(
      `This ${what.replace(/^an? /, "")} belongs to process ${ref.home}, which this ${s.isChild ? "child" : "process"} cannot reach: ` +
        `${what} works in the process that made it, in its threads and in its direct child processes`,
    );
  }
  return (client ??= new Client(line));
}

class RemoteBackend implements Backend {
  readonly ref: RemoteRef;

  constructor(ref: RemoteRef) {
    this.ref = ref;
  }

  get maxsize(): number {
    return this.ref.maxsize;
  }

  get #client(): Client {
    return clientFor(this.ref);
  }

  // Without a maxsize a put never waits: it goes with the next flush and
  // resolves at once (as Python's returns once its feeder has the item).
  // One that found the queue closed makes the next put throw.
  #post(frame: Frame): "ok" | "closed" | null {
    if (this.ref.maxsize !== 0) return null;
    const client = this.#client;
    if (client.closed.has(this.ref.id)) return "closed";
    client.post(Op.Put, this.ref.id, frame);
    return "ok";
  }

  tryPut(frame: Frame): "ok" | "full" | "closed" | "busy" {
    return this.#post(frame) ?? "busy";
  }

  tryGet(): Uint8Array | "empty" | "eof" | "busy" {
    return this.#borrowed.length ? this.#take(false) : "empty";
  }

  /** Relaying for a grandchild: frames it had borrowed and not taken go back in front, at the owner. */
  unget(frames: Uint8Array[]): "ok" {
    this.#client.post(Op.PutFront, this.ref.id, encodeLent(0, frames));
    return "ok";
  }

  async put(frame: Frame, ms: number | undefined, signal?: AbortSignal): Promise<"ok" | "full" | "closed"> {
    return this.#post(frame) ?? await this.#client.request(Op.Put, this.ref.id, ms, frame, signal) as "ok" | "full" | "closed";
  }

  putSync(frame: Frame, ms: number | undefined): "ok" | "full" | "closed" {
    return this.#post(frame) ?? this.#client.call(Op.Put, this.ref.id, ms, frame) as "ok" | "full" | "closed";
  }

  // A consumer here borrows items in batches (Op.Want) when it takes them
  // back to back, so that a stream of items is not a round trip each. What
  // it borrowed stays listed with the owner until `get` hands it out (and
  // says so, before the caller sees it); should this process end first,
  // the owner puts the rest back in front of the queue, and what this
  // consumer leaves unread for a while goes back by itself. So nothing
  // is lost or delivered twice.
  #borrowed: Array<[number, Uint8Array]> = [];
  #window = 1;
  #drainedAt = -Infinity;
  #lastTake = 0;
  #giveBackTimer: ReturnType<typeof setTimeout> | null = null;

  #take(sync: boolean): Uint8Array {
    const [n, frame] = this.#borrowed.shift()!;
    const client = this.#client;
    client.post(Op.Ack, this.ref.id, encodeNumbers([n]));
    // Async callers see the item after the flush (a microtask queued
    // first); a sync caller sees it at once, so it is written now.
    if (sync) client.flushNow();
    this.#lastTake = performance.now();
    if (this.#borrowed.length === 0) this.#drainedAt = this.#lastTake;
    else this.#scheduleGiveBack();
    return frame;
  }

  #want(): Uint8Array {
    // Back to back (the last batch just ran out): ask for twice as many.
    const quick = performance.now() - this.#drainedAt < 2;
    this.#window = quick ? Math.min(this.#window * 2, 256) : 1;
    return encodeNumbers([this.#window]);
  }

  #scheduleGiveBack(): void {
    if (this.#giveBackTimer) return;
    this.#giveBackTimer = setTimeout(() => {
      this.#giveBackTimer = null;
      if (this.#borrowed.length === 0) return;
      if (performance.now() - this.#lastTake < GIVE_BACK_MS) return this.#scheduleGiveBack();
      const numbers = this.#borrowed.map(([n]) => n);
      this.#borrowed = [];
      this.#client.post(Op.Return, this.ref.id, encodeNumbers(numbers));
    }, GIVE_BACK_MS);
    (this.#giveBackTimer as { unref?: () => void }).unref?.();
  }

  async get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    for (;;) {
      if (this.#borrowed.length) return this.#take(false);
      const r = await this.#client.request(Op.Want, this.ref.id, ms, this.#want(), signal);
      if (!(r instanceof Uint8Array)) return r as "empty" | "eof";
      this.#borrowed.push(...decodeLent(r));
    }
  }

  getSync(ms: number | undefined): Uint8Array | "empty" | "eof" {
    for (;;) {
      if (this.#borrowed.length) return this.#take(true);
      const r = this.#client.call(Op.Want, this.ref.id, ms, this.#want());
      if (!(r instanceof Uint8Array)) return r as "empty" | "eof";
      this.#borrowed.push(...decodeLent(r));
    }
  }

  stat(): QueueStat {
    const r = this.#client.call(Op.Stat, this.ref.id, 0);
    const cells = r instanceof Uint8Array ? new Int32Array(copyOf(r, 0, 12).buffer) : Int32Array.of(0, 0, 0);
    // Items borrowed here are still in the queue, as far as anyone can tell.
    return { count: cells[0] + this.#borrowed.length, unfinished: cells[1], closed: cells[2] === 1 };
  }

  close(): void {
    this.#client.call(Op.Close, this.ref.id, 0);
  }

  taskDone(): boolean {
    return this.#client.call(Op.TaskDone, this.ref.id, 0) === "ok";
  }

  async join(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    return (await this.#client.request(Op.Join, this.ref.id, ms, undefined, signal)) === "ok";
  }

  joinSync(ms: number | undefined): boolean {
    return this.#client.call(Op.Join, this.ref.id, ms) === "ok";
  }
}

/** The backend of a queue that arrived in a child process. */
export function remoteBackend(ref: RemoteRef): Backend {
  return new RemoteBackend(ref);
}

/**
 * The name under which a child process passes a queue it got from its
 * parent on to a child of its own: this process serves it, relaying each
 * request to the owner.
 */
export function relayName(backend: Backend): RemoteRef | null {
  return backend instanceof RemoteBackend ? listServed(backend) : null;
}

// `send` does not wait for the owner: a send that finds the other end
// closed is reported by the next one, which throws.
class RemoteEnd implements EndBackend {
  readonly ref: RemoteRef & { readable: boolean; writable: boolean };

  constructor(ref: RemoteRef & { readable: boolean; writable: boolean }) {
    this.ref = ref;
  }

  get readable(): boolean {
    return this.ref.readable;
  }

  get writable(): boolean {
    return this.ref.writable;
  }

  send(frame: Frame): "ok" | "closed" {
    if (!this.ref.writable) throw new TypeError("This end of a one-way pipe only receives: send from the other end");
    const client = clientFor(this.ref);
    if (client.closed.has(this.ref.id)) return "closed";
    client.post(Op.Put, this.ref.id, frame);
    return "ok";
  }

  recv(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    if (!this.ref.readable) throw new TypeError("This end of a one-way pipe only sends: recv on the other end");
    return clientFor(this.ref).request(Op.Get, this.ref.id, ms, undefined, signal) as Promise<Uint8Array | "empty" | "eof">;
  }

  recvSync(ms: number | undefined): Uint8Array | "empty" | "eof" {
    if (!this.ref.readable) throw new TypeError("This end of a one-way pipe only sends: recv on the other end");
    return clientFor(this.ref).call(Op.Get, this.ref.id, ms) as Uint8Array | "empty" | "eof";
  }

  async poll(ms: number | undefined, signal?: AbortSignal): Promise<boolean> {
    if (!this.ref.readable) throw new TypeError("This end of a one-way pipe only sends: poll the other end");
    return (await clientFor(this.ref).request(Op.Join, this.ref.id, ms, undefined, signal)) === "ok";
  }

  release(entry: number): void {
    void clientFor(this.ref).request(Op.Close, this.ref.id, 0, new Uint8Array(Uint32Array.of(entry).buffer));
  }
}

/** The backend of a pipe end that arrived in a child process. */
export function remoteEnd(ref: RemoteRef & { readable: boolean; writable: boolean }): EndBackend {
  return new RemoteEnd(ref);
}
