// Shared memory seen from a child process: the memory is a SharedArrayBuffer
// of its parent (the owner), and every operation is a request on the
// child's request line (the one queues use, lib/queue/remote.ts), run by the
// owner on its memory. Reads, adds and kernels that may finish at once are
// blocking round trips; stores and notifies are written at once and not
// answered (the line keeps them in order with everything else the child
// asks); a kernel that has to wait waits at the owner, whose answer comes
// back asynchronously, or on the line for the `...Sync` calls.
//
// The owner runs kernels with the child's own liveness token, so a lock a
// child held when it died is known to be free.
import { type Answer, handleOp } from "../queue/server.ts";
import { clientFor } from "../queue/remote.ts";
import { Op, type Request, Status } from "../queue/wire.ts";
import { getHost } from "../runtime/host.ts";
import { state } from "../state.ts";
import { requestLine } from "../child/channel.ts";
import { holderDead } from "./lives.ts";
import { setDeadQuestion } from "./os_segments.ts";
import { type AtomicMemory, driveAsync, kernelNamed, LocalMemory, notifyCell, TIMED_OUT } from "./memory.ts";

/** How a child process names memory its parent serves. */
export interface MemoryRef {
  home: number;
  id: number;
  size: number;
}

const Sub = { Load: 1, Store: 2, Add: 3, Cas: 4, Notify: 5, Read: 6, Write: 7, Run: 8, RunRead: 9, Dead: 12 } as const;

// Memory listed for children stays listed for the life of this process:
// a child may hold its name at any time.
const served = new Map<number, LocalMemory>();
const ids = new WeakMap<SharedArrayBuffer, number>();
let nextId = 1;

/** Lists `mem` for child processes; the same name every time. */
export function exportMemory(mem: LocalMemory): MemoryRef {
  const buffer = mem.buffer as SharedArrayBuffer;
  let id = ids.get(buffer);
  if (id === undefined) {
    id = nextId++;
    ids.set(buffer, id);
    served.set(id, new LocalMemory(buffer));
  }
  return { home: getHost().pid, id, size: mem.byteLength };
}

// Requests: u8 sub | f64 a | f64 b | f64 c | then bytes (Write) or, for Run,
// u16 name length | name | f64 args...; answers: f64 (or the bytes read).
function encode(sub: number, a = 0, b = 0, c = 0, tail?: Uint8Array): Uint8Array {
  const out = new Uint8Array(25 + (tail?.length ?? 0));
  const v = new DataView(out.buffer);
  out[0] = sub;
  v.setFloat64(1, a, true);
  v.setFloat64(9, b, true);
  v.setFloat64(17, c, true);
  if (tail) out.set(tail, 25);
  return out;
}

const names = new Map<string, Uint8Array>();

// A Run that also reads memories the kernel's lock guards, if it succeeds:
// after the args, u16 count | (f64 id | f64 length)... (each read whole).
function encodeRun(kernel: string, base: number, args: number[], reads: RemoteMemory[] = []): Uint8Array {
  let name = names.get(kernel);
  if (!name) names.set(kernel, name = new TextEncoder().encode(kernel));
  const at = 2 + name.length + 8 * args.length;
  const tail = new Uint8Array(at + (reads.length ? 2 + 16 * reads.length : 0));
  const v = new DataView(tail.buffer);
  v.setUint16(0, name.length, true);
  tail.set(name, 2);
  args.forEach((x, i) => v.setFloat64(2 + name!.length + 8 * i, x, true));
  if (reads.length) {
    v.setUint16(at, reads.length, true);
    reads.forEach((m, i) => {
      v.setFloat64(at + 2 + 16 * i, m.ref.id, true);
      v.setFloat64(at + 10 + 16 * i, m.byteLength, true);
    });
  }
  return encode(reads.length ? Sub.RunRead : Sub.Run, base, args.length, 0, tail);
}

// The result of a RunRead: the kernel's answer, then (if it acquired) the
// guarded memories' bytes one after the other.
function withReads(result: number, reads: Array<[LocalMemory, number]>): Answer {
  if (!(result > 0) || result === TIMED_OUT) return number(result);
  const total = reads.reduce((n, [, len]) => n + len, 0);
  const out = new Uint8Array(8 + total);
  new DataView(out.buffer).setFloat64(0, result, true);
  let at = 8;
  for (const [mem, len] of reads) {
    out.set(mem.bytes.subarray(0, len), at);
    at += len;
  }
  return [Status.Ok, out];
}

function number(x: number): Answer {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setFloat64(0, x, true);
  return [Status.Ok, out];
}

const failed = (message: string): Answer => [Status.Failed, new TextEncoder().encode(message)];

function serve(req: Request, token: number, signal: AbortSignal): Answer | Promise<Answer> {
  if (req.payload[0] === Sub.Dead) {
    // A child that maps OS shared memory asks whether a lock's holder is gone.
    return number(holderDead(new DataView(req.payload.buffer, req.payload.byteOffset).getFloat64(1, true)) ? 1 : 0);
  }
  const mem = served.get(req.ring);
  if (!mem) return [Status.Unknown, null];
  const p = req.payload;
  const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
  const a = v.getFloat64(1, true), b = v.getFloat64(9, true), c = v.getFloat64(17, true);
  const cells = mem.cells.length;
  const cellOk = (i: number) => Number.isInteger(i) && i >= 0 && i < cells;
  switch (p[0]) {
    case Sub.Load:
      return cellOk(a) ? number(mem.load(a)) : failed(`cell ${a} out of range`);
    case Sub.Store:
      if (!cellOk(a)) return failed(`cell ${a} out of range`);
      mem.store(a, b);
      return [Status.Ok, null];
    case Sub.Add:
      return cellOk(a) ? number(mem.add(a, b)) : failed(`cell ${a} out of range`);
    case Sub.Cas:
      return cellOk(a) ? number(mem.compareExchange(a, b, c)) : failed(`cell ${a} out of range`);
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
      const nameLength = v.getUint16(25, true);
      const name = new TextDecoder().decode(p.subarray(27, 27 + nameLength));
      const args: number[] = [];
      for (let i = 0; i < b; i++) args.push(v.getFloat64(27 + nameLength + 8 * i, true));
      if (!cellOk(a)) return failed(`cell ${a} out of range`);
      const reads: Array<[LocalMemory, number]> = [];
      if (p[0] === Sub.RunRead) {
        const at = 27 + nameLength + 8 * b;
        for (let i = 0; i < v.getUint16(at, true); i++) {
          const m = served.get(v.getFloat64(at + 2 + 16 * i, true));
          if (!m) return [Status.Unknown, null];
          reads.push([m, Math.min(m.byteLength, v.getFloat64(at + 10 + 16 * i, true))]);
        }
      }
      const kernel = kernelNamed(name);
      const view = a === 0 ? mem.cells : mem.cells.subarray(a);
      const first = kernel(view, token, args, holderDead);
      if (first.done) return withReads(first.value, reads);
      if (req.ms === 0) return number(TIMED_OUT);
      const child = { holder: () => token, dead: holderDead };
      return driveAsync(kernel, view, child, args, req.ms, signal).then((r) => withReads(r, reads));
    }
  }
  return failed(`unknown memory operation ${p[0]}`);
}

handleOp(Op.Mem, serve, (req) => req.payload[0] === Sub.Run || req.payload[0] === Sub.RunRead);

// How a child process that maps OS shared memory asks its parent about a holder.
setDeadQuestion((token) => {
  const home = state().parent?.pid;
  if (!state().isChild || home === undefined || !requestLine()) return false;
  const [status, bytes] = clientFor({ home }, "shared lock").callRaw(Op.Mem, 0, undefined, encode(Sub.Dead, token));
  return status === Status.Ok && new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true) === 1;
});

const known = new Map<string, WeakRef<RemoteMemory>>();
const GUARD_MAX_BYTES = 4096;

/** Shared memory of the parent process, reached over the request line. */
export class RemoteMemory implements AtomicMemory {
  readonly ref: MemoryRef;
  readonly remote = true;
  // A lock's memory: the memories it guards (a Value's, whose lock it is).
  // Acquiring it fetches their bytes in the same round trip; while it is
  // held here, nobody else may change them, so their reads are answered
  // from that copy and their writes go out without an answer:
  // `withLock(() => v.value += 1)` is one round trip and two writes.
  readonly #guarded: RemoteMemory[] = [];
  // A guarded memory's copy, valid while its lock is held here.
  #copy: Uint8Array | null = null;
  // A Lock's memory: this process took it (and has not let it go since).
  // Its release then cannot fail, so it goes out without an answer.
  #holding = false;

  constructor(ref: MemoryRef) {
    this.ref = ref;
  }

  /**
   * The one RemoteMemory of this process for `ref`: every object connected
   * to the same memory shares it, so that a lock let go through one (a
   * Condition's) is known to the copies kept for another (a Value's).
   */
  static of(ref: MemoryRef): RemoteMemory {
    const key = `${ref.home}:${ref.id}`;
    let mem = known.get(key)?.deref();
    if (!mem) known.set(key, new WeakRef(mem = new RemoteMemory(ref)));
    return mem;
  }

  /** Marks `data` as guarded by the lock whose memory this is (see above). */
  guard(data: RemoteMemory): void {
    // Only small ones: a big SharedArray is read where it is used, not on every acquire.
    if (data.byteLength > GUARD_MAX_BYTES || data.ref.home !== this.ref.home || this.#guarded.includes(data)) return;
    this.#guarded.push(data);
  }

  #forget(): void {
    for (const m of this.#guarded) m.#copy = null;
  }

  // Takes the guarded memories' bytes from a RunRead answer.
  #result(kernel: string, bytes: Uint8Array): number {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const result = v.getFloat64(0, true);
    if (kernel === "lock.acquire" && result > 0 && result !== TIMED_OUT) this.#holding = true;
    if (bytes.length > 8) {
      let at = 8;
      for (const m of this.#guarded) {
        m.#copy = bytes.slice(at, at + m.byteLength);
        at += m.byteLength;
      }
    }
    return result;
  }

  #runRequest(kernel: string, base: number, args: number[]): Uint8Array {
    // Any kernel but an acquire may let the lock go: the copies go first.
    const acquiring = this.#guarded.length > 0 && kernel.endsWith("lock.acquire");
    if (!acquiring) this.#forget();
    return encodeRun(kernel, base, args, acquiring ? this.#guarded : []);
  }

  get byteLength(): number {
    return this.ref.size;
  }

  #call(payload: Uint8Array, ms?: number): Uint8Array {
    const [status, bytes] = clientFor(this.ref, "shared object").callRaw(Op.Mem, this.ref.id, ms, payload);
    return check(status, bytes);
  }

  #number(payload: Uint8Array, ms?: number): number {
    // (the first 8 bytes of any answer with a result)
    const bytes = this.#call(payload, ms);
    return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
  }

  // Written at once, answered only on failure; in order with every later request.
  #post(payload: Uint8Array): void {
    const client = clientFor(this.ref, "shared object");
    client.post(Op.Mem, this.ref.id, payload);
    client.flushNow();
  }

  load(cell: number): number {
    this.#copy = null;
    return this.#number(encode(Sub.Load, cell));
  }

  store(cell: number, value: number): void {
    this.#copy = null;
    this.#post(encode(Sub.Store, cell, value));
  }

  add(cell: number, delta: number): number {
    this.#copy = null;
    return this.#number(encode(Sub.Add, cell, delta));
  }

  compareExchange(cell: number, expected: number, replacement: number): number {
    this.#copy = null;
    return this.#number(encode(Sub.Cas, cell, expected, replacement));
  }

  notify(cell: number, count?: number): void {
    this.#post(encode(Sub.Notify, cell, count ?? -1));
  }

  read(offset: number, length: number): Uint8Array {
    if (this.#copy) return this.#copy.slice(offset, offset + length);
    return new Uint8Array(this.#call(encode(Sub.Read, offset, length)));
  }

  write(offset: number, bytes: Uint8Array): void {
    this.#copy?.set(bytes, offset);
    this.#post(encode(Sub.Write, offset, 0, 0, bytes));
  }

  async run(kernel: string, base: number, args: number[], ms: number | undefined, signal?: AbortSignal): Promise<number> {
    // One blocking try first (a free lock: one quick round trip on the
    // line); only a call that has to wait waits at the owner.
    const now = this.runNow(kernel, base, args);
    if (now !== TIMED_OUT || ms === 0) return now;
    const client = clientFor(this.ref, "shared object");
    const request = this.#runRequest(kernel, base, args);
    const [status, bytes] = await client.requestRaw(Op.Mem, this.ref.id, ms, request, signal);
    if (signal?.aborted && status !== Status.Ok) return TIMED_OUT;
    return this.#result(kernel, check(status, bytes));
  }

  runSync(kernel: string, base: number, args: number[], ms: number | undefined): number {
    return this.#result(kernel, this.#call(this.#runRequest(kernel, base, args), ms));
  }

  runNow(kernel: string, base: number, args: number[]): number {
    if (kernel === "lock.release" && args.length === 0 && this.#holding) {
      // A Lock this process holds: its release succeeds (the kernel's 1).
      // Only if another process released it meanwhile (which Python allows)
      // would the owner find it unlocked, and then nothing is said here.
      this.#holding = false;
      this.#post(this.#runRequest(kernel, base, args));
      return 1;
    }
    if (kernel === "lock.release") this.#holding = false;
    return this.#result(kernel, this.#call(this.#runRequest(kernel, base, args), 0));
  }
}

function check(status: number, bytes: Uint8Array | null): Uint8Array {
  if (status === Status.Ok) return bytes ?? new Uint8Array(0);
  if (status === Status.Unknown) {
    throw new Error("This shared object no longer exists in the process that made it (that process was restarted?)");
  }
  throw new Error(`The process that owns this shared object failed the request: ${new TextDecoder().decode(bytes ?? new Uint8Array())}`);
}
