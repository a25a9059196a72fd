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
import { clientFor } from "../queue/client.ts";
import { Op, type Request, Status } from "../queue/wire.ts";
import { getHost } from "../runtime/host.ts";
import { state } from "../state.ts";
import { type RequestLine, requestLine, setBeforeRequest, setBeforeSend, stateLine } from "../child/channel.ts";
import { announceMemory, openStateLine } from "./state_lines.ts";
import { hasEnded, holderDead } from "./lives.ts";
import { setDeadQuestion } from "./os_segments.ts";
import { type AtomicMemory, driveAsync, LocalMemory, TIMED_OUT } from "./memory.ts";
import { encodeOp, memoryOp, numberAnswer, Sub, withReads } from "./memory_ops.ts";
import { getF64, putF64, putU16, putU32 } from "../transport/le.ts";

/** How a child process names memory its parent serves. */
export interface MemoryRef {
  home: number;
  id: number;
  size: number;
}


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
    announceMemory(id, buffer);
  }
  return { home: getHost().pid, id, size: mem.byteLength };
}

const servedBuffers = (): Array<[number, SharedArrayBuffer]> =>
  [...served].map(([id, mem]) => [id, mem.buffer as SharedArrayBuffer]);

const names = new Map<string, Uint8Array>();

// A Run that also reads memories the kernel's lock guards, if it succeeds:
// after the args, u16 count | (f64 id | f64 length)... (each read whole).
function encodeRun(kernel: string, base: number, args: number[], reads: RemoteMemory[] = []): Uint8Array {
  let name = names.get(kernel);
  if (!name) names.set(kernel, name = new TextEncoder().encode(kernel));
  const at = 2 + name.length + 8 * args.length;
  const tail = new Uint8Array(at + (reads.length ? 2 + 16 * reads.length : 0));
  putU16(tail, 0, name.length);
  tail.set(name, 2);
  args.forEach((x, i) => putF64(tail, 2 + name!.length + 8 * i, x));
  if (reads.length) {
    putU16(tail, at, reads.length);
    reads.forEach((m, i) => {
      putF64(tail, at + 2 + 16 * i, m.ref.id);
      putF64(tail, at + 10 + 16 * i, m.byteLength);
    });
  }
  return encodeOp(reads.length ? Sub.RunRead : Sub.Run, base, args.length, 0, tail);
}

function serve(req: Request, token: number, signal: AbortSignal): Answer | Promise<Answer> {
  if (req.payload[0] === Sub.Dead) {
    // A child that maps OS shared memory asks whether a lock's holder is gone.
    return numberAnswer(holderDead(getF64(req.payload, 1)) ? 1 : 0);
  }
  // ... or whether a pipe end's holder ended (no grace: as a file descriptor closes).
  if (req.payload[0] === Sub.Ended) return numberAnswer(hasEnded(getF64(req.payload, 1)) ? 1 : 0);
  if (req.payload[0] === Sub.OpenLine) return openStateLine(token, servedBuffers());
  const mem = served.get(req.ring);
  if (!mem) return [Status.Unknown, null];
  const r = memoryOp(req.payload, mem, (id) => served.get(id), token, holderDead);
  if (Array.isArray(r)) return r;
  if (req.ms === 0) return numberAnswer(TIMED_OUT);
  const { kernel, view, args, reads } = r.wait;
  const child = { holder: () => token, dead: holderDead };
  return driveAsync(kernel, view, child, args, req.ms, signal).then((x) => withReads(x, reads));
}

handleOp(Op.Mem, serve, (req) => req.payload[0] === Sub.Run || req.payload[0] === Sub.RunRead);

// How a child process that maps OS shared memory asks its parent about a holder.
setDeadQuestion((token, ended) => {
  const home = state().parent?.pid;
  if (!state().isChild || home === undefined || !requestLine()) return false;
  const [status, bytes] = clientFor({ home }, "shared lock").callRaw(Op.Mem, 0, undefined, encodeOp(ended ? Sub.Ended : Sub.Dead, token));
  return status === Status.Ok && getF64(bytes, 0) === 1;
});

// A child's state line (Node; lib/child/state_thread.ts serves it): frames
//   u32 length of what follows | u8 answer wanted | u32 memory id | f64 ms (NaN: forever) | payload
// and, for those that want one, answers u32 length | u8 status | payload.
class StateClient {
  readonly #line: RequestLine;
  // Written without an answer since the last answer: maybe not done yet.
  #unsettled = false;

  constructor(line: RequestLine) {
    this.#line = line;
    // What went down this line is done before anything this child says on
    // its request line or its IPC channel.
    const settle = () => {
      if (this.#unsettled) this.call(0, SYNC, undefined);
    };
    setBeforeRequest(settle);
    setBeforeSend(settle);
  }

  #frame(wanted: boolean, id: number, ms: number | undefined, payload: Uint8Array): Uint8Array {
    const out = new Uint8Array(4 + 13 + payload.length);
    putU32(out, 0, 13 + payload.length);
    out[4] = wanted ? 1 : 0;
    putU32(out, 5, id);
    putF64(out, 9, ms ?? NaN);
    out.set(payload, 17);
    return out;
  }

  post(id: number, payload: Uint8Array): void {
    this.#line.write(this.#frame(false, id, undefined, payload));
    this.#unsettled = true;
  }

  call(id: number, payload: Uint8Array, ms: number | undefined): [number, Uint8Array] {
    this.#line.write(this.#frame(true, id, ms, payload));
    const body = this.#line.readFrame();
    if (!body) throw new Error("The process that owns this shared object has gone");
    this.#unsettled = false;
    return [body[0], body.subarray(1)];
  }
}

const SYNC = encodeOp(Sub.Sync);
// This child's state line once its parent serves it; null: the request line.
let stateClient: StateClient | null | undefined;

function stateClientFor(ref: MemoryRef): StateClient | null {
  if (stateClient !== undefined) return stateClient;
  const line = stateLine();
  if (!line) return stateClient = null;
  // Asked on the request line: answered once everything written there before is done.
  const [status] = clientFor(ref, "shared object").callRaw(Op.Mem, 0, undefined, encodeOp(Sub.OpenLine));
  return stateClient = status === Status.Ok ? new StateClient(line) : null;
}

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
    const result = getF64(bytes, 0);
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
    const line = stateClientFor(this.ref);
    const [status, bytes] = line
      ? line.call(this.ref.id, payload, ms)
      : clientFor(this.ref, "shared object").callRaw(Op.Mem, this.ref.id, ms, payload);
    return check(status, bytes);
  }

  #number(payload: Uint8Array, ms?: number): number {
    // (the first 8 bytes of any answer with a result)
    const bytes = this.#call(payload, ms);
    return getF64(bytes, 0);
  }

  // Written at once, answered only on failure; in order with every later request.
  #post(payload: Uint8Array): void {
    const line = stateClientFor(this.ref);
    if (line) return line.post(this.ref.id, payload);
    const client = clientFor(this.ref, "shared object");
    client.post(Op.Mem, this.ref.id, payload);
    client.flushNow();
  }

  load(cell: number): number {
    this.#copy = null;
    return this.#number(encodeOp(Sub.Load, cell));
  }

  store(cell: number, value: number): void {
    this.#copy = null;
    this.#post(encodeOp(Sub.Store, cell, value));
  }

  add(cell: number, delta: number): number {
    this.#copy = null;
    return this.#number(encodeOp(Sub.Add, cell, delta));
  }

  compareExchange(cell: number, expected: number, replacement: number): number {
    this.#copy = null;
    return this.#number(encodeOp(Sub.Cas, cell, expected, replacement));
  }

  notify(cell: number, count?: number): void {
    this.#post(encodeOp(Sub.Notify, cell, count ?? -1));
  }

  read(offset: number, length: number): Uint8Array {
    if (this.#copy) return this.#copy.slice(offset, offset + length);
    return new Uint8Array(this.#call(encodeOp(Sub.Read, offset, length)));
  }

  write(offset: number, bytes: Uint8Array): void {
    this.#copy?.set(bytes, offset);
    this.#post(encodeOp(Sub.Write, offset, 0, 0, bytes));
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
