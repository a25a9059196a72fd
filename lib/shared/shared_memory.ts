// SharedMemory: Python's multiprocessing.shared_memory.SharedMemory, a named
// block of bytes, in the shared memory of the process that created it (OS
// shared memory on Deno with --allow-ffi and Bun, else a SharedArrayBuffer:
// see os_segments.ts). Its name is listed in that process (and given to
// the threads it starts afterwards), and child processes attach to it by
// name through their parent: they map OS shared memory and get a real
// Uint8Array; otherwise (Node) `buf` reads and writes the parent's bytes
// through requests (an object that behaves as a Uint8Array for indexing,
// length, set, slice, subarray, fill and iteration).
import { crossing, type Crossing, type Destination, registerReviver } from "../transport/values.ts";
import { type AtomicMemory, LocalMemory } from "./memory.ts";
import { memoryFrom, memoryState, type MemoryState } from "./crossing.ts";
import { allocateMemory, attachMemory, ownSegment, segmentRef } from "./os_segments.ts";
import { exportMemory, RemoteMemory } from "./remote_memory.ts";
import { type Answer, handleOp } from "../queue/server.ts";
import { clientFor } from "../queue/client.ts";
import { Op, type Request, Status } from "../queue/wire.ts";
import { requestLine } from "../child/channel.ts";
import { state } from "../state.ts";

/** Options of SharedMemory, as Python's arguments. */
export interface SharedMemoryOptions {
  /** The block's name; a new unique one when creating without a name. */
  name?: string;
  /** true: make a new block (its name must be free); false (default): attach to an existing one. */
  create?: boolean;
  /** Bytes, when creating (> 0). */
  size?: number;
}

// Blocks this thread knows by name: made here, or listed by the thread
// that started this one when it started (see sharedMemorySnapshot).
const byName = new Map<string, LocalMemory>();

/** @internal The named blocks of this thread, for a thread about to start (those that can go to it). */
export function sharedMemorySnapshot(): Array<[string, MemoryState]> {
  const list: Array<[string, MemoryState]> = [];
  for (const [name, mem] of byName) {
    try {
      list.push([name, memoryState(mem, "thread", "A SharedMemory")]);
    } catch {
      // (a block this child process got from its parent stays out of its threads)
    }
  }
  return list;
}

/** @internal Adopts the blocks the parent thread listed (in a thread child). */
export function adoptSharedMemory(list: Array<[string, MemoryState]> | undefined): void {
  for (const [name, state] of list ?? []) {
    const mem = memoryFrom(state);
    if (!byName.has(name) && mem instanceof LocalMemory) byName.set(name, mem);
  }
}

function randomName(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return "psm_" + [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

let arriving: { memory: AtomicMemory; name: string; size: number } | null = null;

/**
 * A named block of shared bytes: Python's `SharedMemory`. Create one, pass
 * it (or just its name) to children, and attach to it by name there; every
 * holder reads and writes the same bytes through `buf`.
 *
 * @example
 * ```ts
 * import { SharedMemory } from "multiproc";
 * const shm = new SharedMemory({ create: true, size: 4 });
 * shm.buf[0] = 42;
 * const again = new SharedMemory({ name: shm.name });
 * console.log(again.buf[0]); // 42
 * again.close();
 * shm.close();
 * shm.unlink();
 * ```
 */
export class SharedMemory {
  /** The block's name, to attach to it elsewhere. */
  readonly name: string;
  /** Its size in bytes. */
  readonly size: number;
  #memory: AtomicMemory;
  #buf: Uint8Array | null;

  /**
   * Creates a block (`create: true`, with a `size`) or attaches to one by `name`.
   *
   * @throws {TypeError} for bad options. An Error named `FileExistsError` when
   * creating a name that exists; `FileNotFoundError` when no block has the name.
   */
  constructor(options: SharedMemoryOptions = {}) {
    if (arriving) {
      this.name = arriving.name;
      this.size = arriving.size;
      this.#memory = arriving.memory;
    } else {
      const { name, create = false, size = 0 } = options ?? {};
      if (name !== undefined && (typeof name !== "string" || name === "")) {
        throw new TypeError(`SharedMemory: name must be a non-empty string, got ${typeof name === "string" ? '""' : typeof name}`);
      }
      if (typeof create !== "boolean") throw new TypeError(`SharedMemory: create must be true or false`);
      if (create) {
        if (typeof size !== "number" || !Number.isSafeInteger(size) || size <= 0) {
          throw new RangeError(`SharedMemory: size must be a whole number of bytes > 0 when creating, got ${String(size)}`);
        }
        const chosen = name ?? randomName();
        if (byName.has(chosen)) {
          throw named("FileExistsError", `SharedMemory: a block named ${JSON.stringify(chosen)} exists already`);
        }
        const mem = allocateMemory(size);
        // Never reused while this process lives: `buf` views of it may be kept anywhere.
        segmentRef(mem);
        sizes.set(mem, size);
        byName.set(chosen, mem);
        this.name = chosen;
        this.size = size;
        this.#memory = mem;
      } else {
        if (name === undefined) throw new TypeError("SharedMemory: give the name of a block to attach to, or create: true");
        const local = byName.get(name);
        const remote = local ? null : findInParent(name);
        if (!local && !remote) {
          throw named(
            "FileNotFoundError",
            `SharedMemory: no block named ${JSON.stringify(name)} here (blocks are found in the process that made ` +
              "them, in threads it started afterwards, and in its child processes)",
          );
        }
        this.name = name;
        this.#memory = local ?? remote!.memory;
        this.size = local ? sizes.get(local) ?? local.byteLength : remote!.size;
      }
    }
    if (this.#memory instanceof LocalMemory) sizes.set(this.#memory, this.size);
    this.#buf = this.#memory instanceof LocalMemory
      ? new Uint8Array(this.#memory.buffer, this.#memory.byteOffset, this.size)
      : remoteBytes(this.#memory, 0, this.size);
  }

  /** The bytes (a live view: what one holder writes, every holder reads). Throws once closed. */
  get buf(): Uint8Array {
    if (!this.#buf) throw new Error(`SharedMemory ${this.name} is closed: attach to it again to use it`);
    return this.#buf;
  }

  /** Stops using the block from this object (others keep it). */
  close(): void {
    this.#buf = null;
  }

  /**
   * Removes the name, so that nobody can attach to it any more; holders keep
   * their bytes until they let go (call it once, in the creator, as in Python).
   */
  unlink(): void {
    byName.delete(this.name);
    // A block of the parent process (served, or mapped here): its name goes there.
    const mem = this.#memory;
    if (mem instanceof RemoteMemory || (mem instanceof LocalMemory && !ownSegment(mem))) unlinkInParent(this.name);
  }

  /** `using shm = new SharedMemory(...)` closes it at the end of the block. */
  [Symbol.dispose](): void {
    this.close();
  }

  /** For display. */
  toString(): string {
    return `SharedMemory(${JSON.stringify(this.name)}, size=${this.size})`;
  }

  /** @internal */
  get memory(): AtomicMemory {
    return this.#memory;
  }
}

const sizes = new WeakMap<LocalMemory, number>();

function named(name: string, message: string): Error {
  const e = new Error(message);
  e.name = name;
  return e;
}

// A Uint8Array-like view of remote bytes: indexing, length, set, slice,
// subarray, fill, iteration; each a request to the owner.
function remoteBytes(mem: AtomicMemory, offset: number, length: number): Uint8Array {
  const read = (start: number, end: number) => mem.read(offset + start, Math.max(0, end - start));
  const clamp = (i: number | undefined, fallback: number) => {
    if (i === undefined) return fallback;
    const n = Math.trunc(i);
    return n < 0 ? Math.max(0, length + n) : Math.min(n, length);
  };
  const methods: Record<string | symbol, unknown> = {
    length,
    byteLength: length,
    byteOffset: 0,
    BYTES_PER_ELEMENT: 1,
    slice: (a?: number, b?: number) => read(clamp(a, 0), clamp(b, length)),
    subarray: (a?: number, b?: number) => remoteBytes(mem, offset + clamp(a, 0), Math.max(0, clamp(b, length) - clamp(a, 0))),
    set: (src: ArrayLike<number>, at = 0) => {
      if (at < 0 || at + src.length > length) throw new RangeError("offset is out of bounds");
      mem.write(offset + at, Uint8Array.from(src));
    },
    fill: (value: number, a?: number, b?: number) => {
      const start = clamp(a, 0), end = clamp(b, length);
      if (end > start) mem.write(offset + start, new Uint8Array(end - start).fill(value));
      return proxy;
    },
    at: (i: number) => (i < -length || i >= length ? undefined : read(clamp(i, 0), clamp(i, 0) + 1)[0]),
    toString: () => read(0, length).toString(),
    [Symbol.iterator]: () => read(0, length)[Symbol.iterator](),
    [Symbol.toStringTag]: "Uint8Array",
  };
  const index = (key: string | symbol): number | null => {
    if (typeof key !== "string" || !/^(0|[1-9]\d*)$/.test(key)) return null;
    return Number(key);
  };
  const proxy: Uint8Array = new Proxy(new Uint8Array(0), {
    get(_t, key) {
      const i = index(key);
      if (i !== null) return i < length ? read(i, i + 1)[0] : undefined;
      if (key in methods) return methods[key];
      const copy = read(0, length) as unknown as Record<string | symbol, unknown>;
      const v = copy[key];
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(copy) : v;
    },
    set(_t, key, value) {
      const i = index(key);
      if (i === null) return false;
      if (i < length) mem.write(offset + i, Uint8Array.of(Number(value)));
      return true;
    },
    has(_t, key) {
      const i = index(key);
      return i !== null ? i < length : key in methods;
    },
  }) as Uint8Array;
  return proxy;
}

interface ShmState {
  memory: MemoryState;
  name: string;
  size: number;
}

function shmCrossing(this: SharedMemory, to: Destination): Crossing {
  const state: ShmState = { memory: memoryState(this.memory, to, "A SharedMemory"), name: this.name, size: this.size };
  return { type: "shared-memory", state };
}
Object.defineProperty(SharedMemory.prototype, crossing, { value: shmCrossing });

registerReviver("shared-memory", (s) => {
  const state = s as ShmState;
  const memory = memoryFrom(state.memory);
  if (memory instanceof LocalMemory && !byName.has(state.name)) byName.set(state.name, memory);
  arriving = { memory, name: state.name, size: state.size };
  try {
    return new SharedMemory();
  } finally {
    arriving = null;
  }
});

// The name service child processes use (Op.Shm on their request line):
// find a block of this thread by name, or unlink its name. Payload: u8
// (1 find, 2 unlink), then the name. A found block's answer: f64 id and f64
// size, the id being -1 for a block in OS shared memory, whose window
// (JSON) follows: the child maps it itself.
const FIND = 1, UNLINK = 2;

function nameRequest(what: number, name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  const out = new Uint8Array(1 + bytes.length);
  out[0] = what;
  out.set(bytes, 1);
  return out;
}

function serveNames(req: Request): Answer {
  const name = new TextDecoder().decode(req.payload.subarray(1));
  if (req.payload[0] === UNLINK) {
    byName.delete(name);
    return [Status.Ok, null];
  }
  const mem = byName.get(name);
  if (!mem) return [Status.Empty, null];
  const segment = segmentRef(mem);
  const ref = segment ? null : exportMemory(mem);
  const tail = segment ? new TextEncoder().encode(JSON.stringify(segment)) : new Uint8Array(0);
  const out = new Uint8Array(16 + tail.length);
  new DataView(out.buffer).setFloat64(0, ref ? ref.id : -1, true);
  new DataView(out.buffer).setFloat64(8, sizes.get(mem) ?? mem.byteLength, true);
  out.set(tail, 16);
  return [Status.Ok, out];
}

handleOp(Op.Shm, serveNames, () => false);

function parentHome(): number | null {
  const home = state().parent?.pid;
  return state().isChild && home !== undefined && requestLine() ? home : null;
}

// A block of the parent process, by name: its memory and size, or null (not found, or no parent process).
function findInParent(name: string): { memory: AtomicMemory; size: number } | null {
  const home = parentHome();
  if (home === null) return null;
  const [status, bytes] = clientFor({ home }, "shared memory block").callRaw(Op.Shm, 0, undefined, nameRequest(FIND, name));
  if (status !== Status.Ok) return null;
  const v = new DataView(bytes.buffer, bytes.byteOffset, 16);
  const id = v.getFloat64(0, true), size = v.getFloat64(8, true);
  if (id === -1) return { memory: attachMemory(JSON.parse(new TextDecoder().decode(bytes.subarray(16)))), size };
  return { memory: RemoteMemory.of({ home, id, size }), size };
}

// Removes a block's name in the parent process (it answers nothing).
function unlinkInParent(name: string): void {
  const home = parentHome();
  if (home === null) return;
  const client = clientFor({ home }, "shared memory block");
  client.post(Op.Shm, 0, nameRequest(UNLINK, name));
  client.flushNow();
}
