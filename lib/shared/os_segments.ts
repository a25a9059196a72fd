// Shared state in OS shared memory, where the runtime can map it (Deno with
// --allow-ffi and Bun, on Linux: lib/runtime/os_memory.ts). A Value, an
// Array or a Lock then lives in a memory segment that child processes map
// as well: they load, add and compare-and-swap its cells themselves, and
// wait and wake with futexes, as threads do with a SharedArrayBuffer. No
// request goes to the owner, except to ask whether a lock's holder died.
//
// Small objects share 1 MiB arenas (a segment is a file descriptor, and
// programs make thousands of Values); big ones get a segment of their own.
// A piece that never crossed to another thread or process is reused (or
// its segment unmapped) once its object is garbage; one that crossed stays
// for the life of the process, because its users cannot be counted.
//
// Holders: threads of the owning process write their own tokens (lives.ts)
// into lock cells, as with a SharedArrayBuffer. A child process writes the
// token its parent (the owner) knows it by, and asks the parent whether
// another token's holder is dead (at most every 50 ms per token): the
// parent sees its children and threads end.
import { getHost } from "../runtime/host.ts";
import type { OsMemory, OsSegment } from "../runtime/os_memory.ts";
import { parentToken } from "./lives.ts";
import { type Identity, LocalMemory, OWN_IDENTITY, useCellWaits } from "./memory.ts";

/** How a piece of a segment crosses to a thread or a child process. */
export interface SegmentRef {
  /** The owner's `/proc/<pid>/fd/<fd>`. */
  path: string;
  /** The segment's size. */
  size: number;
  /** The piece: where it starts and how long it is. */
  offset: number;
  length: number;
  /** The owner's process id. */
  home: number;
}

const ARENA_BYTES = 1 << 20;
const OWN_SEGMENT_BYTES = 64 << 10;

interface Piece {
  segment: OsSegment;
  offset: number;
  length: number;
}

const pieces = new WeakMap<LocalMemory, Piece>();
const segments = new Map<string, OsSegment>(); // mapped here, by path
let arena: { segment: OsSegment; used: number } | null = null;
const reusable = new Map<number, number[]>(); // arena offsets by length (one arena at a time)
const reclaim = new FinalizationRegistry<Piece>((piece) => {
  const os = getHost().osMemory();
  if (!os) return;
  if (piece.offset === 0 && piece.length === piece.segment.size && piece.segment !== arena?.segment) {
    segments.delete(piece.segment.path);
    os.release(piece.segment);
  } else if (piece.segment === arena?.segment) {
    let list = reusable.get(piece.length);
    if (!list) reusable.set(piece.length, list = []);
    list.push(piece.offset);
  }
  // (a piece of an earlier arena stays unused: arenas are never unmapped)
});

function known(os: OsMemory, segment: OsSegment): OsSegment {
  segments.set(segment.path, segment);
  useCellWaits(segment.buffer, {
    wait: (byteIndex, expected, ms) => os.wait(segment, byteIndex, expected, ms),
    wake: (byteIndex, count) => os.wake(segment, byteIndex, count),
    turn: os.turn,
  });
  return segment;
}

function place(os: OsMemory, length: number): Piece {
  if (length >= OWN_SEGMENT_BYTES) return { segment: known(os, os.create(length)), offset: 0, length };
  const again = reusable.get(length)?.pop();
  if (again !== undefined && arena) {
    new Uint8Array(arena.segment.buffer, again, length).fill(0);
    return { segment: arena.segment, offset: again, length };
  }
  if (!arena || arena.used + length > ARENA_BYTES) {
    arena = { segment: known(os, os.create(ARENA_BYTES)), used: 0 };
    reusable.clear();
  }
  const offset = arena.used;
  arena.used += length;
  return { segment: arena.segment, offset, length };
}

/**
 * New zeroed shared memory of `bytes` (rounded up to 8): in OS shared
 * memory where this process has it, else a SharedArrayBuffer.
 */
export function allocateMemory(bytes: number): LocalMemory {
  const os = getHost().osMemory();
  if (!os) return new LocalMemory(bytes);
  const piece = place(os, Math.max(8, Math.ceil(bytes / 8) * 8));
  const mem = new LocalMemory({ buffer: piece.segment.buffer, byteOffset: piece.offset, byteLength: piece.length });
  pieces.set(mem, piece);
  reclaim.register(mem, piece, mem);
  return mem;
}

/** Where `mem` lies in OS shared memory, as it crosses; null for a SharedArrayBuffer. Marks it as crossed. */
export function segmentRef(mem: LocalMemory): SegmentRef | null {
  const piece = pieces.get(mem);
  if (!piece) return null;
  reclaim.unregister(mem);
  return {
    path: piece.segment.path,
    size: piece.segment.size,
    offset: piece.offset,
    length: piece.length,
    home: Number(piece.segment.path.split("/")[2]),
  };
}

// A child process asks its parent whether a holder died; "alive" is kept 50 ms.
const ALIVE_MS = 50;
let askParent: ((token: number) => boolean) | null = null;
const aliveUntil = new Map<number, number>();

/** How a child process asks its parent about a holder (remote_memory.ts installs it). */
export function setDeadQuestion(ask: (token: number) => boolean): void {
  askParent = ask;
}

const CHILD_IDENTITY: Identity = {
  holder: parentToken,
  dead(token) {
    if (token === parentToken()) return false;
    const now = performance.now();
    if ((aliveUntil.get(token) ?? 0) > now) return false;
    if (!askParent) return false;
    const dead = askParent(token);
    if (!dead) aliveUntil.set(token, now + ALIVE_MS);
    if (aliveUntil.size > 4096) aliveUntil.clear();
    return dead;
  },
};

/** Maps the piece `ref` names, in a thread of its owner or in a child process of it. */
export function attachMemory(ref: SegmentRef): LocalMemory {
  const os = getHost().osMemory();
  if (!os) {
    throw new Error(
      `Shared state from process ${ref.home} lives in OS shared memory, which this process cannot map ` +
        `(${getHost().osMemoryMissing()}): start it the same way as its parent`,
    );
  }
  const segment = segments.get(ref.path) ?? known(os, os.attach(ref.path, ref.size));
  const own = ref.home === getHost().pid;
  const mem = new LocalMemory(
    { buffer: segment.buffer, byteOffset: ref.offset, byteLength: ref.length },
    own ? OWN_IDENTITY : CHILD_IDENTITY,
  );
  pieces.set(mem, { segment, offset: ref.offset, length: ref.length });
  return mem;
}

/** Whether `mem` is OS shared memory this process owns (made here, or in another thread of this process). */
export function ownSegment(mem: LocalMemory): boolean {
  return mem.who === OWN_IDENTITY;
}
