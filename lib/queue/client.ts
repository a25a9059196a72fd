// A child process's client of its request line to its parent: requests
// (answered on the parent channel, or read back at once for blocking ones),
// posts that want no answer, and when what is pending gets written. One per
// process; queues, pipes and shared state that live in the parent all go
// through it (remote.ts, lib/shared/remote_memory.ts), in one order.
import type { Frame } from "./ring.ts";
import { state } from "../state.ts";
import { getHost } from "../runtime/host.ts";
import {
  canReadAnswersNow,
  napSync,
  onAnswerFrames,
  onSideMessage,
  readAnswersNow,
  type RequestLine,
  requestLine,
  runBeforeRequest,
  setBeforeSend,
  writeAck,
} from "../child/channel.ts";
import { getU32 } from "../transport/le.ts";
import { joinBytes } from "../transport/frames.ts";
import { decodeLineAnswer, encodeNumbers, encodeRequest, Op, Status } from "./wire.ts";

// A stream of puts is written at least this often, and this many bytes at a time at most.
const STREAM_MS = 1;
const STREAM_BYTES = 64 * 1024;

// What a request comes back with.
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
        if (id === 0) this.closed.add(message[i + 2] as number);
        else this.#answered(id, message[i + 1] as number, message[i + 2] as Uint8Array | null);
      }
    });
    this.#settles = onAnswerFrames((buf, start, end) => {
      const [id, status, payload] = decodeLineAnswer(buf, start, end);
      if (id === 0) this.closed.add(getU32(payload, 0));
      else this.#answered(id, status, payload);
    }) && canReadAnswersNow();
  }

  // (A request id 0: a request that wanted no answer failed, its ring is closed.)
  #answered(id: number, status: number, payload: Uint8Array | null): void {
    const resolve = this.#pending.get(id);
    this.#pending.delete(id);
    resolve?.([status, payload]);
  }

  // Acknowledgements written on the acknowledgement line since the owner
  // was last told their number.
  #acksOnLine = 0;

  /**
   * Tells the owner that this process took item `number` that ring `ring`
   * lent it, before the caller sees the item: on the acknowledgement line
   * where there is one (written now), or else on the request line (with
   * the next flush; `flushNow` for a caller who sees it at once). Also
   * there when requests wait for their flush (a stream of puts): an item
   * taken is then never known as taken before what was put before it
   * (a consumer that passes items on, killed, loses at most one).
   */
  ack(ring: number, number: number): void {
    if (this.#out.length === 0 && writeAck(ring, number)) this.#acksOnLine++;
    else this.post(Op.Ack, ring, encodeNumbers([number]));
  }

  /** How many acknowledgements went on the acknowledgement line since the last call (the owner reads that many). */
  takeAcksOnLine(): number {
    const n = this.#acksOnLine;
    this.#acksOnLine = 0;
    return n;
  }

  /** Writes what is pending now. */
  flushNow(): void {
    this.#flush();
  }

  #flush = (): void => {
    this.#flushing = "";
    if (this.#out.length === 0) return;
    this.#lastWrite = performance.now();
    runBeforeRequest();
    const all = joinBytes(this.#out, this.#outBytes);
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
  post(op: Op, ring: number, payload: Frame, stream = false): void {
    this.#unsettled = true;
    this.#enqueue(encodeRequest(op, false, 0, ring, undefined, payload), stream);
  }

  // When what is pending goes out. A request goes with a microtask (soon,
  // and in order with everything posted before it). So does a post, except
  // one of a stream (`stream`: a put, that nobody waits for, made less than
  // a millisecond after the last write): that one waits for the event loop
  // to turn, for 64 KiB to gather or for a millisecond to pass, so that a
  // producer putting items back to back writes them many at a time (a write
  // costs some microseconds; an item, a fraction of one).
  #flushing: "" | "soon" | "later" = "";
  #lastWrite = -Infinity;
  #laterSince = 0;

  #enqueue(frame: Uint8Array, stream = false): void {
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (this.#flushing === "soon") return;
    if (!stream) {
      this.#flushing = "soon";
      queueMicrotask(this.#flush);
      return;
    }
    const now = performance.now();
    if (this.#flushing === "later") {
      if (this.#outBytes >= STREAM_BYTES || now - this.#laterSince >= STREAM_MS) this.#flush();
    } else if (now - this.#lastWrite >= STREAM_MS) {
      this.#flushing = "soon";
      queueMicrotask(this.#flush);
    } else {
      this.#flushing = "later";
      this.#laterSince = now;
      getHost().afterTurn(this.#flushLater);
    }
  }

  #flushLater = (): void => {
    if (this.#flushing === "later") this.#flush();
  };

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

  /**
   * Whether this process can wait for the answer to an async request
   * without the event loop (`settle`): where answers come on an answer
   * line that it can read at once (Node).
   */
  get canSettle(): boolean {
    return this.#settles;
  }

  #settles = false;

  /**
   * Sends a request whose answer goes to `onAnswer` as soon as it is read
   * (not a microtask later, as a promise's would); returns its id, for
   * `settle`.
   */
  requestThen(op: Op, ring: number, ms: number | undefined, payload: Frame, onAnswer: (status: number, payload: Uint8Array | null) => void): number {
    const id = this.#nextId++;
    if (this.#nextId > 0x7fffffff) this.#nextId = 1;
    this.#enqueue(encodeRequest(op, false, id, ring, ms, payload));
    this.#pending.set(id, ([status, bytes]) => onAnswer(status, bytes));
    return id;
  }

  /**
   * Blocks until the answer to async request `id` has been read and
   * handed on (the owner answers a request that does not wait in some
   * microseconds). Where `canSettle` is false, returns at once.
   */
  settle(id: number): void {
    if (!this.#settles || !this.#pending.has(id)) return;
    this.#flush();
    for (let naps = 0; this.#pending.has(id);) {
      const r = readAnswersNow();
      if (r === "closed") throw new Error("The process that owns this queue has gone");
      // (a look, then short naps: the answer is some microseconds away)
      if (r === "none") napSync(++naps < 100 ? 0.02 : 1);
    }
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
