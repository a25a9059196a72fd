// The child's side of the seam: its message channel to the parent. The
// bootstrap sets it up (IPC for a process, parentPort for a thread); code
// running in the child (pool workers, queues) uses it through this module.
import process from "node:process";
import { parentPort } from "node:worker_threads";

/** Messages to and from the parent of this child. */
export interface ParentChannel {
  /** Sends to the parent; `transfer` moves buffers where the channel allows it (threads). */
  send(message: unknown, transfer?: readonly Transferable[]): void;
  /** Listens for messages from the parent; returns a function that stops listening. */
  onMessage(listener: (message: unknown) => void): () => void;
}

function processChannel(): ParentChannel {
  return {
    send(message) {
      process.send?.(message);
    },
    onMessage(listener) {
      process.on("message", listener);
      return () => void process.off("message", listener);
    },
  };
}

function threadChannel(port: NonNullable<typeof parentPort>): ParentChannel {
  return {
    send(message, transfer) {
      port.postMessage(message, transfer as never);
    },
    onMessage(listener) {
      port.on("message", listener);
      return () => void port.off("message", listener);
    },
  };
}

let channel: ParentChannel | null = null;

/** Called once by the bootstrap, with how this child was started. */
export function openParentChannel(method: "process" | "thread"): ParentChannel {
  channel = method === "thread" && parentPort ? threadChannel(parentPort) : processChannel();
  return channel;
}

/** The channel to the parent, or null outside a child started by multiproc. */
export function parentChannel(): ParentChannel | null {
  return channel;
}
