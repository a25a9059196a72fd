// A queue's ring as a child process sees it: every operation is a request
// to the process that owns the ring (its parent), over the request line.
// Blocking calls (`getSync`, `qsize`, ...) write a request and read the
// answer; async ones write it and await the answer on the parent channel.
// All requests of a child go down one line in order, so a producer's items
// keep their order whichever calls it mixes.
import type { Frame } from "./ring.ts";
import type { EndBackend } from "../pipe/end.ts";
import { type Client, clientFor } from "./client.ts";
import type { Backend, QueueStat } from "./backend.ts";
import type { Ring } from "./ring.ts";
import { listRing, listServed, type RemoteRef } from "./server.ts";
import { copyOf, decodeLent, encodeLent, encodeNumbers, Op, Status } from "./wire.ts";

// Borrowed items left unread this long go back to the owner's queue.
const GIVE_BACK_MS = 50;
// A consumer that borrows this many at a time or more, and took half of
// its last batch within AHEAD_MS of its coming, asks for the next one then
// (see #ahead): a slow consumer does not hold more items than it needs.
const AHEAD_FROM = 16;
const AHEAD_MS = 10;
const MOST_AT_ONCE = 256;

export type { RemoteRef };

/** Lists `ring` for child processes and returns the name they will use. */
export function exportRing(ring: Ring): RemoteRef {
  return listRing(ring);
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
    client.post(Op.Put, this.ref.id, frame, true);
    return "ok";
  }

  tryPut(frame: Frame): "ok" | "full" | "closed" | "busy" {
    return this.#post(frame) ?? "busy";
  }

  tryGet(): Uint8Array | "empty" | "eof" | "busy" {
    // (not waiting for a batch asked for ahead: `get` awaits it, `getSync` reads it)
    return this.#borrowed.length ? this.#take(false) : "empty";
  }

  /**
   * Relaying for a grandchild: frames it had borrowed and not taken go back
   * in front, at the owner; what this process borrowed after them goes
   * back first (so that it ends up behind them, where it was).
   */
  unget(frames: Uint8Array[]): "ok" {
    this.#settleAhead();
    this.#giveBackNow();
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

  // A stream's next batch, asked for once half of the last is taken (a
  // Want that does not wait), so that the owner lends it while this
  // process takes the rest: the request's id until its answer is in
  // #borrowed (where the answer line can be read at once: Node). Batches
  // must come in the order they were lent: none is asked for ahead while
  // a get's own Want is under way (#asking), and a get waits for the one
  // ahead before it asks. After one that came back short, none until a
  // get had to ask.
  #ahead = 0;
  #landedAt = 0;
  #aheadLanded: Promise<void> | null = null;
  #asking = 0;
  #aheadOk = true;

  #take(sync: boolean): Uint8Array {
    const [n, frame] = this.#borrowed.shift()!;
    const client = this.#client;
    client.ack(this.ref.id, n);
    this.#askAhead(client);
    // Async callers see the item after the flush (a microtask queued
    // first); a sync caller sees it at once, so what is pending is written now.
    if (sync) client.flushNow();
    this.#lastTake = performance.now();
    if (this.#borrowed.length === 0) this.#drainedAt = this.#lastTake;
    else this.#scheduleGiveBack();
    return frame;
  }

  #askAhead(client: Client): void {
    if (this.#ahead !== 0 || this.#asking > 0 || !this.#aheadOk || this.#window < AHEAD_FROM) return;
    if (this.#borrowed.length > this.#window / 2 || performance.now() - this.#landedAt > AHEAD_MS || !client.canSettle) return;
    const want = this.#window = Math.min(this.#window * 2, MOST_AT_ONCE);
    let landed!: () => void;
    this.#aheadLanded = new Promise<void>((resolve) => landed = resolve);
    this.#ahead = client.requestThen(Op.Want, this.ref.id, 0, this.#wantOf(want), (status, payload) => {
      this.#ahead = 0;
      this.#aheadLanded = null;
      const got = status === Status.Ok && payload && payload.length ? decodeLent(payload) : [];
      this.#landed(got);
      if (got.length < want) this.#aheadOk = false;
      if (got.length) this.#scheduleGiveBack();
      landed();
    });
  }

  #want(): Uint8Array {
    // Back to back (the last batch just ran out): ask for twice as many.
    const quick = performance.now() - this.#drainedAt < 2;
    this.#window = quick ? Math.min(this.#window * 2, MOST_AT_ONCE) : 1;
    return this.#wantOf(this.#window);
  }

  // (and how many acknowledgements the owner has to read on the
  // acknowledgement line, which it reads before it lends more)
  #wantOf(n: number): Uint8Array {
    return encodeNumbers([n, this.#client.takeAcksOnLine()]);
  }

  #scheduleGiveBack(): void {
    if (this.#giveBackTimer) return;
    this.#giveBackTimer = setTimeout(() => {
      this.#giveBackTimer = null;
      if (this.#borrowed.length === 0) return;
      // (a batch still coming goes back with the rest, in order)
      if (performance.now() - this.#lastTake < GIVE_BACK_MS || this.#ahead !== 0) return this.#scheduleGiveBack();
      this.#giveBackNow();
    }, GIVE_BACK_MS);
    (this.#giveBackTimer as { unref?: () => void }).unref?.();
  }

  #giveBackNow(): void {
    if (this.#borrowed.length === 0) return;
    const numbers = this.#borrowed.map(([n]) => n);
    this.#borrowed = [];
    this.#client.post(Op.Return, this.ref.id, encodeNumbers(numbers));
  }

  // A blocking call that needs the batch asked for ahead reads its answer now.
  #settleAhead(): void {
    if (this.#ahead !== 0) this.#client.settle(this.#ahead);
  }

  async get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
    for (;;) {
      if (this.#borrowed.length) return this.#take(false);
      if (this.#aheadLanded) {
        await this.#aheadLanded;
        continue;
      }
      this.#asking++;
      let r: Awaited<ReturnType<Client["request"]>>;
      try {
        r = await this.#client.request(Op.Want, this.ref.id, ms, this.#want(), signal);
      } finally {
        this.#asking--;
      }
      if (!(r instanceof Uint8Array)) return r as "empty" | "eof";
      this.#landed(decodeLent(r));
      this.#aheadOk = true;
    }
  }

  #landed(items: Array<[number, Uint8Array]>): void {
    for (const item of items) this.#borrowed.push(item);
    this.#landedAt = performance.now();
  }

  getSync(ms: number | undefined): Uint8Array | "empty" | "eof" {
    for (;;) {
      if (this.#borrowed.length) return this.#take(true);
      if (this.#ahead !== 0) {
        this.#settleAhead();
        continue;
      }
      const r = this.#client.call(Op.Want, this.ref.id, ms, this.#want());
      if (!(r instanceof Uint8Array)) return r as "empty" | "eof";
      this.#landed(decodeLent(r));
      this.#aheadOk = true;
    }
  }

  stat(): QueueStat {
    this.#settleAhead();
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
