// How a child is started, shared by Process and the pool: its identity and
// origin, the may-start-children check, the spawn through the seam (with
// its liveness slot and request-line server), and when it has ended.
import { ProcessError } from "./errors.ts";
import { state } from "./state.ts";
import { getHost } from "./runtime/host.ts";
import type { ChildHandle, ExitInfo, StartMethod } from "./runtime/types.ts";
import { serveRequests } from "./queue/server.ts";
import { type ChildSlot, reserveChildSlot } from "./shared/lives.ts";
import { osWaitsForChild } from "./shared/os_segments.ts";
import { sharedMemorySnapshot } from "./shared/shared_memory.ts";
import { registerStateLine } from "./shared/state_lines.ts";

const BOOTSTRAP_MESSAGE =
  "An attempt has been made to start a new process before the current process has finished " +
  "its bootstrapping phase. This probably means that the main module starts processes at its " +
  "top level, without the guard: wrap that code in `if (isMain(import.meta)) { ... }`.";

/** Python's `_identity` for the next child of this process: [2] for its second child, [2, 1] below it. */
export function nextChildIdentity(): number[] {
  const s = state();
  return [...s.self.identity, ++s.childCounter];
}

/** What every child is told of where it comes from: its parent, and the program's main module. */
export function childOrigin(): { parent: { name: string; pid: number }; mainUrl: string | undefined } {
  const s = state();
  const host = getHost();
  return { parent: { name: s.self.name, pid: host.pid }, mainUrl: s.mainUrl ?? host.mainModuleUrl() };
}

/**
 * Starts a child through the seam; a refusal becomes ProcessError("Cannot
 * start <what>: ..."). `slot` is the child's place in the liveness table
 * (reserved before its arguments were encoded, so that what it holds is
 * known to be its); one is reserved here if not given. It is marked when
 * the child ends.
 */
export function spawnChild(
  method: StartMethod,
  init: unknown,
  name: string,
  what: string = name,
  slot: ChildSlot = reserveChildSlot(),
): ChildHandle {
  let handle: ChildHandle;
  try {
    // A thread also learns the liveness table itself, to use shared locks.
    // (and the SharedMemory blocks this thread knows by name).
    // A process learns the token this process knows it by (its holder token in OS shared memory).
    const withLives = method === "thread"
      ? { ...(init as object), lives: slot.init, shm: sharedMemorySnapshot(), waits: osWaitsForChild() }
      : { ...(init as object), token: slot.init.token };
    handle = getHost().spawn({ method, init: withLives, name });
  } catch (error) {
    slot.exited();
    throw new ProcessError(`Cannot start ${what}: ${(error as Error).message}`, { cause: error });
  }
  void handle.exited.then(slot.exited);
  if (method === "process") slot.isProcess();
  serveRequests(handle, slot.init.token);
  if (handle.stateLine) registerStateLine(slot.init.token, handle.stateLine, handle.exited);
  return handle;
}

/**
 * How a child ended, once also everything it wrote on its request line
 * has been read (a child's last puts on a queue are in it when its join
 * returns); some runtimes report the exit first. Waits for the line half a
 * second at most.
 */
export function endedAndRead(handle: ChildHandle): Promise<ExitInfo> {
  const line = handle.requests;
  if (!line) return handle.exited;
  return handle.exited.then((info) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, 500)));
    // (and what it wrote on its state line, whose thread ends at its end)
    const read = handle.stateLine ? Promise.all([line.ended, handle.stateLine.ended()]) : line.ended;
    return Promise.race([read, cap]).then(() => {
      clearTimeout(timer);
      return info;
    });
  });
}

/**
 * Throws what Python throws when this process may not start children: while
 * a child still imports the main module (the bootstrapping phase, instead of
 * forking without end), or in a daemonic process (such as a pool worker).
 */
export function checkMayStartChildren(what: string): void {
  const s = state();
  if (s.bootstrapping) throw new ProcessError(BOOTSTRAP_MESSAGE);
  if (s.isChild && s.self.daemon) {
    throw new ProcessError(`Cannot ${what}: daemonic processes are not allowed to have children`);
  }
}

