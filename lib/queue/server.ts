// The owner's side of remote queues: rings that crossed to a child process
// are listed here by id, and each child process's request line is served
// by running the request on the ring (the same LocalBackend its threads
// use). Blocking requests wait here, not in the child; a child that exits
// stops its waits, so no item is taken for a consumer that is gone.
import type { Frame } from "./ring.ts";
import { getU32 } from "../transport/le.ts";
import type { ChildHandle } from "../runtime/types.ts";
import { getHost } from "../runtime/host.ts";
import { ACK_RECORD } from "../runtime/ack_line.ts";
import { SIDE_TAG } from "../child/channel.ts";
import { LocalBackend } from "./backend.ts";
import type { Ring } from "./ring.ts";
import { joinBytes } from "../transport/frames.ts";
import {
  decodeLent,
  decodeNumbers,
  encodeAnswer,
  encodeLent,
  encodeLineAnswer,
  encodeNumbers,
  Op,
  type Request,
  RequestReader,
  Status,
} from "./wire.ts";

/** What the owner runs for child processes: a queue's ring, or a pipe end. */
export interface Served {
  readonly maxsize?: number;
  put(frame: Frame, ms: number | undefined, signal?: AbortSignal): Promise<"ok" | "full" | "closed">;
  /** A put that does not wait: "full" (or "busy", a lock held elsewhere) when it would. */
  tryPut(frame: Frame): "ok" | "full" | "closed" | "busy";
  /** Queues only: a get that does not wait. */
  tryGet?(): Uint8Array | "empty" | "eof" | "busy";
  /** Queues only: puts frames back in front, in order. */
  unget?(frames: Uint8Array[]): "ok" | "busy";
  get(ms: number | undefined, signal?: AbortSignal): Promise<Uint8Array | "empty" | "eof">;
  stat(): { count: number; unfinished: number; closed: boolean };
  /** Queues: close for everyone. Pipe ends: close the copy whose entry is in `payload`. */
  close(payload?: Uint8Array): void;
  taskDone(): boolean;
  /** Queues: wait until every item is done. Pipe ends: poll. */
  join(ms: number | undefined, signal?: AbortSignal): Promise<boolean>;
}

// Listed objects stay listed for the life of this process: a child may
// hold a name at any time, and names are small.
const served = new Map<number, Served>();
const ids = new WeakMap<object, number>();
let nextId = 1;

/** How a child process names something its parent serves: the owner's pid and an id. */
export interface RemoteRef {
  home: number;
  id: number;
  maxsize: number;
}

/** Lists `what` (keyed by `key`) for child processes; the same name every time. */
export function listServed(what: Served, key: object = what): RemoteRef {
  let id = ids.get(key);
  if (id === undefined) {
    id = nextId++;
    ids.set(key, id);
    served.set(id, what);
  }
  return { home: getHost().pid, id, maxsize: what.maxsize ?? 0 };
}

/** Lists a queue's ring for child processes. */
export function listRing(ring: Ring): RemoteRef {
  const known = ids.get(ring);
  return known !== undefined ? listServed(served.get(known)!, ring) : listServed(new LocalBackend(ring), ring);
}

/** What the owner answers: a status and its payload. */
export type Answer = [Status, Uint8Array | null];

/** Runs requests of one kind for a child whose liveness token is `token`. */
export type OpHandler = (req: Request, token: number, signal: AbortSignal) => Answer | Promise<Answer>;

const handlers = new Map<number, { handle: OpHandler; mayWait: (req: Request) => boolean }>();

/** Serves requests with `op` (other than the queue's own) with `handle`; `mayWait` tells which can be cancelled. */
export function handleOp(op: Op, handle: OpHandler, mayWait: (req: Request) => boolean): void {
  handlers.set(op, { handle, mayWait });
}

function statBytes(b: Served): Uint8Array {
  const s = b.stat();
  return new Uint8Array(Int32Array.of(s.count, s.unfinished, s.closed ? 1 : 0).buffer);
}

function fromResult(r: Uint8Array | "ok" | "full" | "closed" | "empty" | "eof"): Answer {
  if (r instanceof Uint8Array) return [Status.Ok, r];
  const status = { ok: Status.Ok, full: Status.Full, closed: Status.Closed, empty: Status.Empty, eof: Status.Eof }[r];
  return [status, null];
}

// A child's get that finds nothing is most often answered by this
// process's next move (it puts or sends once it has what the child sent
// before): so it looks again after this turn of the event loop before it
// sets up a wait, which costs more than the turn (Node 20, a pipe's round
// trip to a child process: ~115 -> ~100 us).
async function getSoon(b: Served, ms: number | undefined, signal: AbortSignal): Promise<Uint8Array | "empty" | "eof"> {
  const now = await b.get(0, signal);
  if (now !== "empty" || ms === 0 || signal.aborted) return now;
  const t0 = performance.now();
  await new Promise<void>((resolve) => getHost().afterTurn(resolve));
  return b.get(ms === undefined ? undefined : Math.max(0, ms - (performance.now() - t0)), signal);
}

async function perform(req: Request, signal: AbortSignal): Promise<Answer> {
  const b = served.get(req.ring);
  if (!b) return [Status.Unknown, null];
  switch (req.op) {
    case Op.Put:
      return fromResult(await b.put(req.payload, req.ms, signal));
    case Op.Get:
      return fromResult(await getSoon(b, req.ms, signal));
    case Op.Stat:
      return [Status.Ok, statBytes(b)];
    case Op.Close:
      b.close(req.payload);
      return [Status.Ok, null];
    case Op.TaskDone:
      return [b.taskDone() ? Status.Ok : Status.False, null];
    case Op.Join:
      return [(await b.join(req.ms, signal)) ? Status.Ok : Status.False, null];
    case Op.PutFront:
      putBack(b, decodeLent(req.payload).map(([, f]) => f));
      return [Status.Ok, null];
  }
  return [Status.Failed, new TextEncoder().encode(`unknown operation ${req.op}`)];
}

// Puts frames back in front of a queue; its ring's lock may be held a
// moment by a thread (or by one that died, until its exit is seen): then
// again a little later.
function putBack(b: Served, frames: Uint8Array[]): void {
  const retry = () => b.unget?.(frames) === "busy" && setTimeout(retry, 20);
  retry();
}

// Frames lent to child processes are numbered across all of them, so that
// an acknowledgement read late (from a child whose token a newer child
// now has) matches nothing it should not.
let nextLent = 1;

// Acknowledgements on the acknowledgement line (lib/runtime/ack_line.ts),
// by the token of the child that wrote them.
const ackRoutes = new Map<number, (ring: number, number: number) => void>();

function readAcks(all: boolean): void {
  getHost().ackLine()?.read(all, (records) => {
    for (let at = 0; at + ACK_RECORD <= records.length; at += ACK_RECORD) {
      ackRoutes.get(getU32(records, at))?.(getU32(records, at + 4), getU32(records, at + 8));
    }
  });
}

/** Serves the request line of a child process for as long as it lives. */
export function serveRequests(child: ChildHandle, token: number): void {
  const line = child.requests;
  if (!line) return;
  const reader = new RequestReader();
  const gone = new AbortController();
  let batch: unknown[] | null = null;
  const toLine = line.answer;
  let lineBatch: Uint8Array[] = [];
  const flushLine = () => {
    const out = joinBytes(lineBatch);
    lineBatch = [];
    if (!gone.signal.aborted) toLine!(out);
  };
  // Requests run in order of arrival; a blocking one waits on its own, so
  // later requests of the same child are not held up behind it. Blocking
  // sync requests cannot overlap: the child waits for each answer.
  const answer = (req: Request, [status, payload]: Answer) => {
    if (gone.signal.aborted) return;
    if (req.sync) return line.write(encodeAnswer(status, payload ?? undefined));
    if (req.id === 0) {
      // No answer wanted, unless it failed (then: the ring is closed).
      if (status === Status.Ok) return;
      [status, payload] = [Status.Closed, req.ring as unknown as Uint8Array];
    }
    if (toLine) {
      // On the child's answer line, together with the others of this turn.
      if (lineBatch.length === 0) queueMicrotask(flushLine);
      if (req.id === 0) payload = encodeNumbers([req.ring]);
      lineBatch.push(encodeLineAnswer(req.id, status, payload));
      return;
    }
    if (batch === null) {
      batch = [SIDE_TAG];
      queueMicrotask(() => {
        const out = batch!;
        batch = null;
        child.send(out);
      });
    }
    batch.push(req.id, status, payload);
  };
  // Frames lent to this child (Op.Want), per ring, by number, until it
  // says it took them; when it ends, what it did not take goes back.
  const lent = new Map<number, Map<number, Uint8Array>>();
  const took = (ring: number, number: number) => void lent.get(ring)?.delete(number);
  ackRoutes.set(token, took);
  const giveBack = (ring: number, numbers?: number[]) => {
    const mine = lent.get(ring);
    const b = served.get(ring);
    if (!mine || !b?.unget) return;
    const back = (numbers ?? [...mine.keys()]).sort((x, y) => x - y).flatMap((n) => {
      const f = mine.get(n);
      mine.delete(n);
      return f ? [f] : [];
    });
    putBack(b, back);
  };
  const want = async (req: Request, signal: AbortSignal): Promise<Answer> => {
    const b = served.get(req.ring);
    if (!b?.tryGet) return [Status.Unknown, null];
    const n = Math.max(1, getU32(req.payload, 0));
    // What it took since it last asked, said on the acknowledgement line.
    if (req.payload.length >= 8 && getU32(req.payload, 4) > 0) readAcks(false);
    const first = await getSoon(b, req.ms, signal);
    if (!(first instanceof Uint8Array)) return fromResult(first);
    const frames = [first];
    while (frames.length < n) {
      const r = b.tryGet();
      if (!(r instanceof Uint8Array)) break;
      frames.push(r);
    }
    if (gone.signal.aborted) {
      putBack(b, frames);
      return [Status.Empty, null];
    }
    let mine = lent.get(req.ring);
    if (!mine) lent.set(req.ring, mine = new Map());
    const number = nextLent;
    for (const f of frames) mine.set(nextLent++, f);
    return [Status.Ok, encodeLent(number, frames)];
  };
  // A put that waits for room holds back this child's later puts to the
  // same ring, so that its items keep their order.
  const waitingPuts = new Map<number, Promise<unknown>>();
  // Requests that may wait can be cancelled by the child (an AbortSignal there).
  const waits = new Map<number, AbortController>();
  const spare: AbortController[] = [];
  const start = (req: Request): Promise<Answer> => {
    if (req.op === Op.Sync) return Promise.resolve([Status.Ok, null]);
    if (req.op === Op.Cancel) {
      waits.get(getU32(req.payload, 0))?.abort();
      return Promise.resolve([Status.Ok, null]);
    }
    if (req.op === Op.Return) {
      giveBack(req.ring, decodeNumbers(req.payload));
      return Promise.resolve([Status.Ok, null]);
    }
    const other = handlers.get(req.op);
    const act = other
      ? (r: Request, signal: AbortSignal) => {
        // A handler that throws (a request it cannot make sense of) fails
        // that request only: the line goes on serving the child.
        try {
          return Promise.resolve(other.handle(r, token, signal));
        } catch (error) {
          return Promise.reject(error);
        }
      }
      : req.op === Op.Want
      ? want
      : perform;
    const mayWait = other ? other.mayWait(req) : req.op === Op.Want || req.op === Op.Get || req.op === Op.Put || req.op === Op.Join;
    if (req.sync || req.ms === 0 || !mayWait || gone.signal.aborted) return act(req, gone.signal);
    // Its own signal, aborted by a Cancel or when the child goes (not
    // AbortSignal.any: that costs ~15 us a request on Node). The queue's
    // and pipe's waits take their listeners off when done, so a signal
    // that was not aborted serves the next request.
    const c = (other ? undefined : spare.pop()) ?? new AbortController();
    waits.set(req.id, c);
    return act(req, c.signal).finally(() => {
      waits.delete(req.id);
      if (!other && !c.signal.aborted && spare.length < 8) spare.push(c);
    });
  };
  const run = (req: Request): Promise<Answer> => {
    if (req.op !== Op.Put) return start(req);
    const before = waitingPuts.get(req.ring);
    if (!before) {
      // Most puts find room: done here and now, so that the requests
      // after it (a qsize) see the item.
      const r = served.get(req.ring)?.tryPut(req.payload);
      if (r === "ok" || r === "closed" || (r === "full" && req.ms === 0)) return Promise.resolve(fromResult(r));
    }
    const p = before ? before.then(() => start(req)) : start(req);
    waitingPuts.set(req.ring, p);
    void p.finally(() => waitingPuts.get(req.ring) === p && waitingPuts.delete(req.ring));
    return p;
  };
  line.onData((chunk) => {
    for (const req of reader.push(chunk)) {
      if (req.op === Op.Ack) {
        // One per item a consumer takes: done here, without a promise.
        for (const n of decodeNumbers(req.payload)) took(req.ring, n);
        continue;
      }
      if (req.op === Op.Put && req.id === 0 && !req.sync && !waitingPuts.has(req.ring)) {
        // A put nobody waits for (most of a stream): done here, without a promise.
        const r = served.get(req.ring)?.tryPut(req.payload);
        if (r === "ok") continue;
        if (r === "closed") {
          answer(req, [Status.Closed, null]);
          continue;
        }
      }
      run(req).then(
        (a) => answer(req, a),
        (e) => answer(req, [Status.Failed, new TextEncoder().encode(String((e as Error)?.message ?? e))]),
      );
    }
  });
  line.onEnd(() => {
    gone.abort();
    for (const c of waits.values()) c.abort();
    // What it took is not given back: all it wrote on the acknowledgement
    // line is there (written before it ended), read to the end.
    if (lent.size) readAcks(true);
    if (ackRoutes.get(token) === took) ackRoutes.delete(token);
    for (const ring of lent.keys()) giveBack(ring);
  });
}
