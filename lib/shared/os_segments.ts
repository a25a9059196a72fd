// Shared state in OS shared memory, where the runtime can map it (Deno with
// --allow-ffi and Bun, on Linux: lib/runtime/os_memory.ts). A Value, an
// Array or a Lock then lives in a memory segment that child processes map
// as well: they load, add and compare-and-swap its cells themselves, and
// wait and wake with futexes, as threads do with a SharedArrayBuffer. No
// request goes to the owner, except to ask whether a lock's holder died.
//
// Small objects share 1 MiB arenas (programs make thousands of Values);
// big ones get a window of their own, all in one memory file per thread
// (one file descriptor). A piece that never crossed to another thread or
// process is reused (or its window unmapped) once its object is garbage;
// one that crossed stays for the life of the process, because its users
// cannot be counted.
//
// Holders: threads of the owning process write their own tokens (lives.ts)
// into lock cells, as with a SharedArrayBuffer. A child process writes the
// token its parent (the owner) knows it by, and asks the parent whether
// another token's holder is dead (at most every 50 ms per token): the
// parent sees its children and threads end.
import { getHost } from "../runtime/host.ts";
import { type OsFile, type OsMemory, type OsSegment, PAGE_BYTES } from "../runtime/os_memory.ts";
import { hasEnded, parentToken } from "./lives.ts";
import { type Identity, LocalMemory, OWN_IDENTITY, useCellWaits } from "./memory.ts";
import { waitMapped, waitsForChild, type WaitsInit } from "./os_waits.ts";

/** How a piece of OS shared memory crosses to a thread or a child process. */
export interface SegmentRef {
  /** The owner's memory file, `/proc/<pid>/fd/<fd>`. */
  path: string;
  /** The window of the file the piece is in. */
  offset: number;
  size: number;
  /** The piece: where it starts in the window, and how long it is. */
  at: number;
  length: number;
  /** The owner's process id. */
  home: number;
}

// Every thread that makes shared objects has one sparse memory file, cut
// into windows: 1 MiB arenas of small pieces, a window of its own for each
// big piece, and a growing window for each queue's ring.
const FILE_BYTES = 2 ** 44;
const ARENA_BYTES = 1 << 20;
const OWN_WINDOW_BYTES = 64 << 10;

interface Piece {
  segment: OsSegment;
  at: number;
  length: number;
}

let file: OsFile | null = null;
let fileUsed = 0;
const freeWindows = new Map<number, number[]>(); // window offsets of this thread's file, by size
const pieces = new WeakMap<object, Piece>();
const windows = new Map<string, OsSegment>(); // mapped here, by `${path}@${offset}`
const files = new Map<string, OsFile>(); // opened here, by path
let arena: { segment: OsSegment; used: number } | null = null;
const reusable = new Map<number, number[]>(); // offsets in the current arena, by length

function take<K, V>(map: Map<K, V[]>, key: K): V | undefined {
  return map.get(key)?.pop();
}

function give<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

// Waits on cells of `segment` go through the futex calls (and os_waits.ts).
function watch(os: OsMemory, segment: OsSegment): OsSegment {
  useCellWaits(segment.buffer, {
    wait: (byteIndex, expected, ms) => os.wait(segment, byteIndex, expected, ms),
    wake: (byteIndex, count) => os.wake(segment, byteIndex, count),
    waitAsync: (cells, cell, expected, ms, signal) =>
      waitMapped(os, () => newWindow(os, PAGE_BYTES), segment, cells, cell, expected, ms, signal),
  });
  return segment;
}

function known(os: OsMemory, segment: OsSegment): OsSegment {
  windows.set(`${segment.file.path}@${segment.offset}`, segment);
  return watch(os, segment);
}

const pageUp = (bytes: number) => Math.ceil(bytes / PAGE_BYTES) * PAGE_BYTES;

// Room for a window of `size` bytes (a multiple of PAGE_BYTES) in this thread's file.
function reserve(os: OsMemory, size: number): { file: OsFile; offset: number } {
  file ??= os.create(FILE_BYTES);
  let offset = take(freeWindows, size);
  if (offset === undefined) {
    if (fileUsed + size > FILE_BYTES) throw new RangeError("multiproc: this thread's shared memory file is full (16 TiB)");
    offset = fileUsed;
    fileUsed += size;
  }
  return { file, offset };
}

// A new window of this thread's file (zeroed: fresh, or discarded when freed).
function newWindow(os: OsMemory, bytes: number): OsSegment {
  const size = pageUp(bytes);
  const { file, offset } = reserve(os, size);
  return known(os, os.map(file, offset, size));
}

function freeWindow(os: OsMemory, segment: OsSegment): void {
  windows.delete(`${segment.file.path}@${segment.offset}`);
  os.unmap(segment);
  os.discard(segment.file, segment.offset, segment.size);
  give(freeWindows, segment.size, segment.offset);
}

/**
 * A window reserved at the most it may grow to (a queue's ring, 1 GiB),
 * and mapped only as far as it is used: a mapping is address space, and
 * a runtime counts an ArrayBuffer's whole length as memory it holds (1 GiB
 * buffers made Deno collect garbage all the time). Growing maps the window
 * again, longer, from the same place; earlier mappings stay (views of
 * them may be in use) until the window is released.
 */
export class GrowingWindow {
  readonly who: Identity;
  readonly ref: SegmentRef;
  #os: OsMemory;
  #file: OsFile;
  #maps: OsSegment[] = [];

  constructor(os: OsMemory, file: OsFile, ref: SegmentRef, who: Identity, initial: number) {
    this.#os = os;
    this.#file = file;
    this.ref = ref;
    this.who = who;
    this.cover(initial);
  }

  /** The longest mapping so far. */
  get buffer(): ArrayBuffer {
    return this.#maps[this.#maps.length - 1].buffer;
  }

  /** Maps at least `bytes` of the window (doubling); the buffer to use from now on. */
  cover(bytes: number): ArrayBuffer {
    const now = this.#maps.length ? this.buffer.byteLength : 0;
    if (bytes <= now) return this.buffer;
    let size = Math.max(PAGE_BYTES, now);
    while (size < bytes) size *= 2;
    size = Math.min(pageUp(size), this.ref.size);
    this.#maps.push(watch(this.#os, this.#os.map(this.#file, this.ref.offset, size)));
    return this.buffer;
  }

  /** Unmaps it here (its owner is garbage). */
  unmap(): void {
    for (const m of this.#maps) this.#os.unmap(m);
    this.#maps = [];
  }

  /** Unmaps it, and gives its pages and its room in the file back (its owner is garbage). */
  release(): void {
    this.unmap();
    this.#os.discard(this.#file, this.ref.offset, this.ref.size);
    give(freeWindows, this.ref.size, this.ref.offset);
  }
}

const growing = new WeakMap<object, GrowingWindow>();
const reclaimGrowing = new FinalizationRegistry<GrowingWindow>((w) => w.release());
// (a window mapped from another thread's or process's file is only unmapped here)
const unmapAttached = new FinalizationRegistry<GrowingWindow>((w) => w.unmap());

/**
 * A growing window of OS shared memory for `owner` (a queue's ring) of at
 * most `most` bytes, `initial` mapped; null where this process has none.
 * Released once `owner` is garbage, unless it crossed (segmentRef).
 */
export function allocateGrowing(owner: object, most: number, initial: number): GrowingWindow | null {
  const os = getHost().osMemory();
  if (!os) return null;
  const size = pageUp(most);
  const { file: f, offset } = reserve(os, size);
  const ref = { path: f.path, offset, size, at: 0, length: size, home: getHost().pid };
  const w = new GrowingWindow(os, f, ref, OWN_IDENTITY, initial);
  growing.set(owner, w);
  reclaimGrowing.register(owner, w, owner);
  return w;
}

/** The growing window `ref` names, mapped here (`initial` bytes of it at first) for `owner`. */
export function attachGrowing(ref: SegmentRef, owner: object, initial: number): GrowingWindow {
  const os = osMemoryFor(ref);
  let f = files.get(ref.path);
  if (!f) files.set(ref.path, f = os.open(ref.path));
  const w = new GrowingWindow(os, f, ref, identityFor(ref), initial);
  growing.set(owner, w);
  unmapAttached.register(owner, w);
  return w;
}

// Pieces that never crossed come back when their object is garbage: a
// window of its own is unmapped and its pages discarded; an arena piece is
// reused (once its arena is full, a piece of an earlier arena stays unused).
const reclaim = new FinalizationRegistry<Piece>((piece) => reclaimPiece(piece));

function reclaimPiece(piece: Piece): void {
  const os = getHost().osMemory();
  if (!os) return;
  if (piece.at === 0 && piece.length === piece.segment.size && piece.segment !== arena?.segment) freeWindow(os, piece.segment);
  else if (piece.segment === arena?.segment) give(reusable, piece.length, piece.at);
}

function place(os: OsMemory, length: number): Piece {
  if (length >= OWN_WINDOW_BYTES) {
    const segment = newWindow(os, length);
    return { segment, at: 0, length: segment.size };
  }
  const again = take(reusable, length);
  if (again !== undefined && arena) {
    new Uint8Array(arena.segment.buffer, again, length).fill(0);
    return { segment: arena.segment, at: again, length };
  }
  if (!arena || arena.used + length > ARENA_BYTES) {
    arena = { segment: newWindow(os, ARENA_BYTES), used: 0 };
    reusable.clear();
  }
  const at = arena.used;
  arena.used += length;
  return { segment: arena.segment, at, length };
}

/**
 * New zeroed shared memory of `bytes` (rounded up to 8): in OS shared
 * memory where this process has it, else a SharedArrayBuffer.
 */
export function allocateMemory(bytes: number): LocalMemory {
  const os = getHost().osMemory();
  if (!os) return new LocalMemory(bytes);
  const piece = place(os, Math.max(8, Math.ceil(bytes / 8) * 8));
  const mem = new LocalMemory({ buffer: piece.segment.buffer, byteOffset: piece.at, byteLength: piece.length });
  pieces.set(mem, piece);
  reclaim.register(mem, piece, mem);
  return mem;
}

/**
 * For memory that crosses but whose users can be counted (a pipe's, by its
 * holders' table): what gives `owner`'s memory (made here) back once they
 * are all done, even though it crossed; it is no longer given back when
 * `owner` is garbage. Null if `owner` has none here.
 */
export function releaserOf(owner: object): (() => void) | null {
  const w = growing.get(owner);
  if (w && w.who === OWN_IDENTITY) {
    reclaimGrowing.unregister(owner);
    return () => w.release();
  }
  const piece = pieces.get(owner);
  if (!piece || (owner as LocalMemory).who !== OWN_IDENTITY) return null;
  reclaim.unregister(owner);
  return () => reclaimPiece(piece);
}

/** Where `owner`'s memory lies in OS shared memory, as it crosses; null if not there. Marks it as crossed. */
export function segmentRef(owner: object): SegmentRef | null {
  const w = growing.get(owner);
  if (w) {
    reclaimGrowing.unregister(owner);
    return w.ref;
  }
  const piece = pieces.get(owner);
  if (!piece) return null;
  reclaim.unregister(owner);
  const { file, offset, size } = piece.segment;
  return { path: file.path, offset, size, at: piece.at, length: piece.length, home: Number(file.path.split("/")[2]) };
}
// A child process asks its parent whether a holder died (or, for a pipe's
// holders' table, ended); "alive" is kept 50 ms.
const ALIVE_MS = 50;
let askParent: ((token: number, ended: boolean) => boolean) | null = null;
const aliveUntil = [new Map<number, number>(), new Map<number, number>()];

/** How a child process asks its parent about a holder (remote_memory.ts installs it). */
export function setDeadQuestion(ask: (token: number, ended: boolean) => boolean): void {
  askParent = ask;
}

function askAboutHolder(token: number, ended: boolean): boolean {
  if (token === parentToken()) return false;
  const cache = aliveUntil[ended ? 1 : 0];
  const now = performance.now();
  if ((cache.get(token) ?? 0) > now) return false;
  if (!askParent) return false;
  const gone = askParent(token, ended);
  if (!gone) cache.set(token, now + ALIVE_MS);
  if (cache.size > 4096) cache.clear();
  return gone;
}

const CHILD_IDENTITY: Identity = {
  holder: parentToken,
  dead: (token) => askAboutHolder(token, false),
};

/**
 * How the process that maps `ref` learns whether the holder of a token
 * (of the owner's liveness table) was seen to end, as lives.ts hasEnded
 * says in the owner: a child process asks its parent, at most every 50 ms
 * per token while the answer is no.
 */
export function endedFor(ref: SegmentRef): (token: number) => boolean {
  return ref.home === getHost().pid ? hasEnded : (token) => askAboutHolder(token, true);
}

function osMemoryFor(ref: SegmentRef): OsMemory {
  const os = getHost().osMemory();
  if (!os) {
    throw new Error(
      `Shared state from process ${ref.home} lives in OS shared memory, which this process cannot map ` +
        `(${getHost().osMemoryMissing()}): start it the same way as its parent`,
    );
  }
  return os;
}

function identityFor(ref: SegmentRef): Identity {
  return ref.home === getHost().pid ? OWN_IDENTITY : CHILD_IDENTITY;
}

// Maps the window `ref` names (once per thread), in a thread of its owner
// or in a child process of it.
function mapWindow(ref: SegmentRef): OsSegment {
  const os = osMemoryFor(ref);
  let segment = windows.get(`${ref.path}@${ref.offset}`);
  if (!segment) {
    let f = files.get(ref.path);
    if (!f) files.set(ref.path, f = os.open(ref.path));
    segment = known(os, os.map(f, ref.offset, ref.size));
  }
  return segment;
}

/** The piece `ref` names, mapped here. */
export function attachMemory(ref: SegmentRef): LocalMemory {
  const segment = mapWindow(ref);
  const mem = new LocalMemory({ buffer: segment.buffer, byteOffset: ref.at, byteLength: ref.length }, identityFor(ref));
  pieces.set(mem, { segment, at: ref.at, length: ref.length });
  return mem;
}

/** Whether `mem` is OS shared memory this process owns (made here, or in another thread of this process). */
export function ownSegment(mem: LocalMemory): boolean {
  return mem.who === OWN_IDENTITY;
}

/** What a thread about to start is given of this process's waits on OS shared memory, if any. */
export function osWaitsForChild(): WaitsInit | undefined {
  const os = getHost().osMemory();
  return os ? waitsForChild(() => newWindow(os, PAGE_BYTES)) : undefined;
}
