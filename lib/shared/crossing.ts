// How shared memory crosses to a child: to a thread, the SharedArrayBuffer
// itself; to a child process, the name the owner serves it under (every
// operation of the child then a request to the owner: remote_memory.ts).
import { SerializationError } from "../errors.ts";
import type { Destination } from "../transport/values.ts";
import { type AtomicMemory, LocalMemory } from "./memory.ts";
import { exportMemory, type MemoryRef, RemoteMemory, relayMemory } from "./remote_memory.ts";

/** Shared memory as it crosses: its buffer (to a thread) or its name (to a process). */
export interface MemoryState {
  buffer?: SharedArrayBuffer;
  remote?: MemoryRef;
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
  if (mem instanceof LocalMemory) return to === "thread" ? { buffer: mem.buffer } : { remote: exportMemory(mem) };
  if (to === "process") return { remote: relayMemory(mem as RemoteMemory) };
  throw new SerializationError(
    `${what} that came from a parent process cannot be passed to a thread of this child yet: ` +
      "create it in this process, or use the process start method here",
  );
}

/** The memory a crossed object is connected to on arrival. */
export function memoryFrom(state: MemoryState): AtomicMemory {
  if (state.buffer) return new LocalMemory(state.buffer);
  if (state.remote) return RemoteMemory.of(state.remote);
  throw new TypeError("multiproc: shared state arrived without its memory (a bug in multiproc)");
}
