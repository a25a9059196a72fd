// The request line's frames, child to owner and back. A request:
//   u32 length of what follows | u8 op | u8 sync | u32 request id | u32 ring id | f64 timeout ms (NaN: forever) | payload
// An answer to a blocking (sync) request, on the same line:
//   u32 length of what follows | u8 status | payload
// Answers to async requests travel on the child's answer line (fd 6, where
// the runtime can read one: Node and Deno), each framed as
//   u32 length of what follows | u32 request id | u8 status | payload
// or else on the parent channel as
//   [SIDE_TAG, id, status, payload, id, status, payload, ...]
// Request id 0 answers a request that wanted none but failed: its ring is closed
// (the payload, a u32 on the line, is the ring's id).
import type { Frame } from "./ring.ts";
import { getF64, getU32, putF64, putU32 } from "../transport/le.ts";
import { FrameSplitter } from "../transport/frames.ts";

/** Operations on a ring. */
export const Op: {
  Put: 1;
  Get: 2;
  Stat: 3;
  Close: 4;
  TaskDone: 5;
  Join: 6;
  Cancel: 7;
  Want: 8;
  Ack: 9;
  Return: 10;
  PutFront: 11;
  Mem: 12;
  Sync: 13;
  Shm: 14;
} = {
  Put: 1,
  Get: 2,
  Stat: 3,
  Close: 4,
  TaskDone: 5,
  Join: 6,
  Cancel: 7,
  // Several items for a consumer in a child process: they stay listed as
  // lent to it until it acknowledges taking each (Ack) or gives them back
  // (Return); if it ends first, they go back in front of the queue.
  Want: 8,
  Ack: 9,
  Return: 10,
  // Frames a relay (a child passing the queue on to its own child) had
  // handed to a grandchild that ended without taking them: back in front.
  PutFront: 11,
  // An operation on shared memory (Value, Lock, ...): lib/shared/remote_memory.ts.
  Mem: 12,
  // Nothing: answered once every request before it has been done.
  Sync: 13,
  // A SharedMemory block's name: find it, or unlink it (lib/shared/shared_memory.ts).
  Shm: 14,
};
/** One of Op's values. */
export type Op = typeof Op[keyof typeof Op];

/** How an operation ended. */
export const Status: { Ok: 0; Full: 1; Closed: 2; Empty: 3; Eof: 4; False: 5; Unknown: 6; Failed: 7 } = {
  Ok: 0,
  Full: 1,
  Closed: 2,
  Empty: 3,
  Eof: 4,
  False: 5,
  Unknown: 6,
  Failed: 7,
};
/** One of Status's values. */
export type Status = typeof Status[keyof typeof Status];

/** Bytes before a request's payload, after its length. */
export const REQUEST_HEAD: number = 1 + 1 + 4 + 4 + 8;

/** One request as the owner reads it. */
export interface Request {
  op: Op;
  sync: boolean;
  id: number;
  ring: number;
  ms: number | undefined;
  payload: Uint8Array;
}

/** Frames a request. */
export function encodeRequest(op: Op, sync: boolean, id: number, ring: number, ms: number | undefined, payload?: Frame): Uint8Array {
  const [head, body] = payload === undefined ? [undefined, undefined] : payload instanceof Uint8Array ? [payload, undefined] : payload;
  const size = REQUEST_HEAD + (head?.length ?? 0) + (body?.length ?? 0);
  const out = new Uint8Array(4 + size);
  putU32(out, 0, size);
  out[4] = op;
  out[5] = sync ? 1 : 0;
  putU32(out, 6, id);
  putU32(out, 10, ring);
  putF64(out, 14, ms ?? NaN);
  if (head) out.set(head, 4 + REQUEST_HEAD);
  if (body) out.set(body, 4 + REQUEST_HEAD + head!.length);
  return out;
}

/** Splits a stream of request bytes into requests, keeping a partial frame for the next chunk. */
export class RequestReader {
  readonly #frames = new FrameSplitter();

  /** The complete requests in what has come so far. */
  push(chunk: Uint8Array): Request[] {
    const out: Request[] = [];
    this.#frames.push(chunk, (buf, start, end) => {
      const ms = getF64(buf, start + 10);
      out.push({
        op: buf[start] as Op,
        sync: buf[start + 1] === 1,
        id: getU32(buf, start + 2),
        ring: getU32(buf, start + 6),
        ms: Number.isNaN(ms) ? undefined : ms,
        payload: copyOf(buf, start + REQUEST_HEAD, end),
      });
    });
    return out;
  }
}

/** Frames an answer to a sync request. */
export function encodeAnswer(status: Status, payload?: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + (payload?.length ?? 0));
  putU32(out, 0, 1 + (payload?.length ?? 0));
  out[4] = status;
  if (payload) out.set(payload, 5);
  return out;
}

/** Frames an answer to an async request for the answer line. */
export function encodeLineAnswer(id: number, status: Status, payload: Uint8Array | null): Uint8Array {
  const out = new Uint8Array(9 + (payload?.length ?? 0));
  putU32(out, 0, 5 + (payload?.length ?? 0));
  putU32(out, 4, id);
  out[8] = status;
  if (payload) out.set(payload, 9);
  return out;
}

/** Undoes encodeLineAnswer, given its frame's body `buf[start, end)`: id, status, payload (a copy). */
export function decodeLineAnswer(buf: Uint8Array, start: number, end: number): [number, Status, Uint8Array] {
  return [getU32(buf, start), buf[start + 4] as Status, copyOf(buf, start + 5, end)];
}

/** Frames lent to a consumer, with the number of the first: u32 first | u32 count | (u32 length | bytes)... */
export function encodeLent(first: number, frames: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(8 + frames.reduce((n, f) => n + 4 + f.length, 0));
  putU32(out, 0, first);
  putU32(out, 4, frames.length);
  let at = 8;
  for (const f of frames) {
    putU32(out, at, f.length);
    out.set(f, at + 4);
    at += 4 + f.length;
  }
  return out;
}

/** Undoes encodeLent: each frame with its number. */
export function decodeLent(bytes: Uint8Array): Array<[number, Uint8Array]> {
  const first = getU32(bytes, 0);
  const out: Array<[number, Uint8Array]> = [];
  let at = 8;
  for (let i = 0; i < getU32(bytes, 4); i++) {
    const len = getU32(bytes, at);
    out.push([first + i, copyOf(bytes, at + 4, at + 4 + len)]);
    at += 4 + len;
  }
  return out;
}

/** A list of u32 numbers as bytes (acknowledged or returned frames). */
export function encodeNumbers(numbers: number[]): Uint8Array {
  const out = new Uint8Array(4 * numbers.length);
  for (let i = 0; i < numbers.length; i++) putU32(out, 4 * i, numbers[i]);
  return out;
}

/** Undoes encodeNumbers. */
export function decodeNumbers(bytes: Uint8Array): number[] {
  const out: number[] = [];
  for (let at = 0; at + 4 <= bytes.length; at += 4) out.push(getU32(bytes, at));
  return out;
}

/**
 * A copy of bytes [start, end) in a buffer of its own. Not `slice`: a
 * Node Buffer's slice is a view of the same memory (of a pool, perhaps).
 */
export function copyOf(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end));
}
