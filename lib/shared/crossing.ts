// How shared memory crosses to a child. A SharedArrayBuffer goes to a
// thread as itself, and to a child process as the name the owner serves it
// under (every operation of the child then a request to the owner:
// remote_memory.ts). OS shared memory (os_segments.ts) goes to either as
// its segment's path, and is mapped on arrival.
import { SerializationError } from "../errors.ts";
import { getHost } from "../runtime/host.ts";
import type { Destination } from "../transport/values.ts";
import { type AtomicMemory, LocalMemory } from "./memory.ts";
import { attachMemory, ownSegment, type SegmentRef, segmentRef } from "./os_segments.ts";
import { exportMemory, type MemoryRef, RemoteMemory } from "./remote_memory.ts";
import { state } from "../state.ts";

/** Shared memory as it crosses: its buffer (to a thread), its name at the owner, or its OS segment. */
export interface MemoryState {
  buffer?: SharedArrayBuffer;
  remote?: MemoryRef;
  segment?: SegmentRef;
}

let told = false;

// Deno can map OS shared memory only with --allow-ffi: said once, when it matters.
function tellServed(): void {
  if (told || getHost().runtime !== "deno") return;
  told = true;
  getHost().writeStderr(
    `multiproc: shared state reaches child processes through their parent here (${getHost().osMemoryMissing()}), ` +
      "about 100 times slower than mapped memory; run Deno with --allow-ffi to map it in every process\n",
  );
}

/**
 * What `mem` crosses as, to `to`. `what` names the object for errors
 * ("a Lock"). Shared objects are not queue items (as in Python): they go
 * to a Process or Pool as arguments.
 */
export function memoryState(mem: AtomicMemory, to: Destination, what: string): MemoryState {
  if (to === "item") {
    throw new SerializationError(
      `${what} cannot be put on a queue or sent through a pipe: pass it to the Process or Pool that uses it (as in Python)`,
    );
  }
  if (mem instanceof LocalMemory) {
    const segment = segmentRef(mem);
    if (segment) {
      if (ownSegment(mem)) return { segment };
      return relayed(mem, to, what);
    }
    if (to === "thread") return { buffer: mem.buffer as SharedArrayBuffer };
    tellServed();
    return { remote: exportMemory(mem) };
  }
  return relayed(mem as RemoteMemory, to, what);
}

// Memory this process got from its parent cannot go on to its own
// children (processes or threads) yet: holders are told apart by the
// tokens of the process that made the memory, which knows only its own
// children and threads.
function relayed(mem: AtomicMemory, to: Destination, what: string): MemoryState {
  const home = mem instanceof RemoteMemory ? mem.ref.home : state().parent?.pid;
  throw new SerializationError(
    `${what} that came from process ${home} cannot be passed on to a ${to === "thread" ? "thread" : "child process"} ` +
      "of this child: create it in the process that starts both, and pass it to each",
  );
}

/** The memory a crossed object is connected to on arrival. */
export function memoryFrom(state: MemoryState): AtomicMemory {
  if (state.buffer) return new LocalMemory(state.buffer);
  if (state.segment) return attachMemory(state.segment);
  if (state.remote) return RemoteMemory.of(state.remote);
  throw new TypeError("multiproc: shared state arrived without its memory (a bug in multiproc)");
}
