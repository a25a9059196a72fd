// The parent's side of Node children's state lines (lib/runtime/types.ts
// StateLineEnd): which child process (by token) has one, the thread that
// serves it once the child asks for it, and the memory that thread must
// know. A child asks on its request line (remote_memory.ts, Sub.OpenLine);
// until the thread serves, and wherever there is no state line, the
// child's memory operations go down its request line as before.
import { Status } from "../queue/wire.ts";
import type { StateLineEnd } from "../runtime/types.ts";
import { livesForHelper } from "./lives.ts";
import type { OpAnswer } from "./memory_ops.ts";

const lines = new Map<number, StateLineEnd>();
const ports = new Map<number, MessagePort>();

/** Notes that the child process known by `token` has a state line (until it ends). */
export function registerStateLine(token: number, end: StateLineEnd, exited: Promise<unknown>): void {
  lines.set(token, end);
  void exited.then(() => end.ended()).then(() => {
    lines.delete(token);
    ports.get(token)?.close();
    ports.delete(token);
  });
}

/** Resolves once the child's state line has been read to its end (at once if it has none). */
export function stateLineEnded(token: number): Promise<void> {
  return lines.get(token)?.ended() ?? Promise.resolve();
}

/**
 * Starts the thread serving the state line of the child known by `token`,
 * telling it the memory listed now (`memories`); Ok once it serves.
 */
export async function openStateLine(token: number, memories: Array<[number, SharedArrayBuffer]>): Promise<OpAnswer> {
  const end = lines.get(token);
  if (!end || ports.has(token)) return [Status.Failed, null];
  const { port1, port2 } = new MessageChannel();
  ports.set(token, port1);
  const ok = await end.serve({ token, lives: livesForHelper(), memories, port: port2 }, [port2]);
  if (!ok) {
    ports.delete(token);
    port1.close();
  }
  return [ok ? Status.Ok : Status.Failed, null];
}

/** Tells every serving thread of memory listed for children since it started. */
export function announceMemory(id: number, buffer: SharedArrayBuffer): void {
  for (const port of ports.values()) port.postMessage([id, buffer]);
}
