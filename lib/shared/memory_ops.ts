// What a child process asks of memory its parent owns, and how the parent
// does it: the payload of a memory request (remote_memory.ts sends them),
// run on the parent's memory. Used by the parent's main thread (requests
// on a child's request line) and by the thread serving a Node child's
// state line (lib/child/state_thread.ts), so it touches nothing but memory.
//
// A payload: u8 sub | f64 a | f64 b | f64 c | then bytes (Write) or, for
// Run, u16 name length | name | f64 args... | (RunRead) u16 count | (f64 id |
// f64 length)...; an answer: a status and f64 (or the bytes read).
import { Status } from "../queue/wire.ts";
import { getF64, getU16, putF64 } from "../transport/le.ts";
import { type Kernel, kernelNamed, type LocalMemory, notifyCell, TIMED_OUT } from "./memory.ts";

/** The memory operations. */
export const Sub = {
  Load: 1,
  Store: 2,
  Add: 3,
  Cas: 4,
  Notify: 5,
  Read: 6,
  Write: 7,
  Run: 8,
  RunRead: 9,
  // A child that maps OS shared memory asks whether a holder is gone.
  Dead: 12,
  // A Node child asks for a state line (its memory operations on a line of their own).
  OpenLine: 13,
  // Nothing: answered once every request before it has been done.
  Sync: 14,
  // A child that maps a pipe's holders' table asks whether a holder ended.
  Ended: 15,
} as const;

/** A status and its payload. */
export type OpAnswer = [Status, Uint8Array | null];

/** A kernel that has to wait: what to go on with (the memories to read if it acquires). */
export interface OpWait {
  kernel: Kernel;
  view: Int32Array;
  args: number[];
  reads: Array<[LocalMemory, number]>;
}

/** Encodes a request payload. */
export function encodeOp(sub: number, a = 0, b = 0, c = 0, tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(25 + (tail?.length ?? 0));
  out[0] = sub;
  putF64(out, 1, a);
  putF64(out, 9, b);
  putF64(out, 17, c);
  if (tail) out.set(tail, 25);
  return out;
}

/** An answer carrying one number. */
export function numberAnswer(x: number): OpAnswer {
  const out = new Uint8Array(8);
  putF64(out, 0, x);
  return [Status.Ok, out];
}

const failed = (message: string): OpAnswer => [Status.Failed, new TextEncoder().encode(message)];

// Kernel names as they arrive, decoded once each (a few names, asked for again and again).
const names = new Map<string, string>();
const decoder = new TextDecoder();

function kernelName(bytes: Uint8Array): string {
  let key = "";
  for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i]);
  let name = names.get(key);
  if (name === undefined) names.set(key, name = decoder.decode(bytes));
  return name;
}

/**
 * The answer of a RunRead: the kernel's result, then (if it acquired) the
 * guarded memories' bytes one after the other.
 */
export function withReads(result: number, reads: Array<[LocalMemory, number]>): OpAnswer {
  if (!(result > 0) || result === TIMED_OUT || reads.length === 0) return numberAnswer(result);
  const total = reads.reduce((n, [, len]) => n + len, 0);
  const out = new Uint8Array(8 + total);
  putF64(out, 0, result);
  let at = 8;
  for (const [mem, len] of reads) {
    out.set(mem.bytes.subarray(0, len), at);
    at += len;
  }
  return [Status.Ok, out];
}

/**
 * Runs request `p` on `mem` for the child whose token is `token`; `find`
 * finds other memory by id (the memories a RunRead reads). Answers, or
 * tells what to wait with when a kernel cannot finish at once.
 */
export function memoryOp(
  p: Uint8Array,
  mem: LocalMemory,
  find: (id: number) => LocalMemory | undefined,
  token: number,
  dead: (token: number) => boolean,
): OpAnswer | { wait: OpWait } {
  const a = getF64(p, 1), b = getF64(p, 9), c = getF64(p, 17);
  const cells = mem.cells.length;
  const cellOk = (i: number) => Number.isInteger(i) && i >= 0 && i < cells;
  switch (p[0]) {
    case Sub.Load:
      return cellOk(a) ? numberAnswer(mem.load(a)) : failed(`cell ${a} out of range`);
    case Sub.Store:
      if (!cellOk(a)) return failed(`cell ${a} out of range`);
      mem.store(a, b);
      return [Status.Ok, null];
    case Sub.Add:
      return cellOk(a) ? numberAnswer(mem.add(a, b)) : failed(`cell ${a} out of range`);
    case Sub.Cas:
      return cellOk(a) ? numberAnswer(mem.compareExchange(a, b, c)) : failed(`cell ${a} out of range`);
    case Sub.Notify:
      if (!cellOk(a)) return failed(`cell ${a} out of range`);
      notifyCell(mem.cells, a, b < 0 ? Infinity : b);
      return [Status.Ok, null];
    case Sub.Read:
      if (a < 0 || b < 0 || a + b > mem.byteLength) return failed(`bytes ${a}..${a + b} out of range`);
      return [Status.Ok, mem.read(a, b)];
    case Sub.Write:
      if (a < 0 || a + p.length - 25 > mem.byteLength) return failed(`bytes at ${a} out of range`);
      mem.write(a, p.subarray(25));
      return [Status.Ok, null];
    case Sub.Run:
    case Sub.RunRead: {
      const nameLength = getU16(p, 25);
      const name = kernelName(p.subarray(27, 27 + nameLength));
      const args: number[] = [];
      for (let i = 0; i < b; i++) args.push(getF64(p, 27 + nameLength + 8 * i));
      if (!cellOk(a)) return failed(`cell ${a} out of range`);
      const reads: Array<[LocalMemory, number]> = [];
      if (p[0] === Sub.RunRead) {
        const at = 27 + nameLength + 8 * b;
        for (let i = 0; i < getU16(p, at); i++) {
          const m = find(getF64(p, at + 2 + 16 * i));
          if (!m) return [Status.Unknown, null];
          reads.push([m, Math.min(m.byteLength, getF64(p, at + 10 + 16 * i))]);
        }
      }
      const kernel = kernelNamed(name);
      const view = a === 0 ? mem.cells : mem.cells.subarray(a);
      const first = kernel(view, token, args, dead);
      if (first.done) return withReads(first.value, reads);
      return { wait: { kernel, view, args, reads } };
    }
  }
  return failed(`unknown memory operation ${p[0]}`);
}
