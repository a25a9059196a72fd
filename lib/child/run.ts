// What runs inside every child, once bootstrap.ts has started it: a process
// started by ProcessChild or a worker thread started by ThreadChild. It
// learns who it is from its first message (a process) or from workerData (a
// thread), loads the target the way the parent chose (by source,
// main-module export or task()), runs it, and exits with Python's exit
// codes: 0, 1 after an uncaught error, or whatever the target passed to
// process.exit(). A pool worker runs pool_worker.ts instead.
import process from "node:process";
import { state } from "../state.ts";
import { type FunctionRef, loadFunction } from "../transport/functions.ts";
import { decodeValue } from "../transport/values.ts";
import type { StartMethod } from "../runtime/types.ts";
import { enableAckLine, enableAnswerLine, enableStateLine, openParentChannel } from "./channel.ts";
import { activeChildren } from "../process.ts";
import type { PoolWorkerInit } from "../pool/protocol.ts";
import { runPoolWorker } from "./pool_worker.ts";
import { getHost } from "../runtime/host.ts";
import { adoptLives, adoptParentToken, type LivesInit } from "../shared/lives.ts";
import { adoptWaits, type WaitsInit } from "../shared/os_waits.ts";
// Registers how queues revive when they arrive as arguments.
import "../queue.ts";
import "../pipe.ts";
import "../shared/value.ts";
import { adoptSharedMemory } from "../shared/shared_memory.ts";
import "../sync.ts";
import "../manager.ts";

/** The first message a Process child receives. */
export interface ProcessInit {
  readonly kind: "process";
  readonly name: string;
  readonly identity: number[];
  readonly daemon: boolean;
  readonly method: StartMethod;
  readonly parent: { readonly name: string; readonly pid: number };
  readonly mainUrl: string | undefined;
  readonly fn: FunctionRef | null;
  readonly args: unknown;
}

/** Formats an error like Python's traceback: the stack, then each cause. */
export function formatError(error: unknown): string {
  if (!(error instanceof Error)) return `Uncaught ${String(error)}`;
  let text = error.stack ?? `${error.name}: ${error.message}`;
  const props = Object.keys(error).filter((k) => k !== "cause");
  if (props.length) text += `\n  with ${props.map((k) => `${k}: ${String((error as never)[k])}`).join(", ")}`;
  if (error.cause !== undefined) text += `\n\nThe above error was caused by:\n${formatError(error.cause)}`;
  return text;
}

function becomeChild(init: ProcessInit | PoolWorkerInit, daemon: boolean) {
  const lives = (init as { lives?: LivesInit }).lives;
  if (lives) adoptLives(lives);
  const token = (init as { token?: number }).token;
  if (token) adoptParentToken(token);
  if ((init as { stateLine?: boolean }).stateLine === true) enableStateLine();
  if ((init as { answerLine?: boolean }).answerLine === true) enableAnswerLine();
  if ((init as { ackLine?: boolean }).ackLine === true && token) enableAckLine(token);
  adoptWaits((init as { waits?: WaitsInit }).waits);
  adoptSharedMemory((init as { shm?: Parameters<typeof adoptSharedMemory>[0] }).shm);
  const s = state();
  s.isChild = true;
  s.childMethod = init.method;
  s.self = { name: init.name, identity: init.identity, daemon };
  s.parent = init.parent;
  s.mainUrl = init.mainUrl;
  return openParentChannel(init.method);
}

// Pool workers are daemonic, as in Python: they cannot start children.
// Their results are checked by a real clone before sending only where a
// failed send would break the channel (Deno's IPC).
function runPoolTarget(init: PoolWorkerInit): Promise<never> {
  const channel = becomeChild(init, true);
  const verify = init.method === "process" && getHost().runtime === "deno";
  return runPoolWorker(init, channel, exitFlushed, verify);
}

async function runProcessTarget(init: ProcessInit): Promise<never> {
  becomeChild(init, init.daemon);
  // An error that escapes the target later (a timer, a forgotten promise)
  // ends the child with 1, printed the same way on every runtime: Bun
  // would print it and carry on.
  const crash = (error: unknown) => {
    console.error(`Process ${init.name}:\n${formatError(error)}`);
    void exitFlushed(1);
  };
  process.on("uncaughtException", crash);
  process.on("unhandledRejection", crash);
  try {
    if (init.fn) {
      const fn = await loadFunction(init.fn);
      const args = decodeValue(init.args) as unknown[];
      await fn(...args);
    }
  } catch (error) {
    console.error(`Process ${init.name}:\n${formatError(error)}`);
    await exitFlushed(1);
  }
  await joinChildren();
  return await exitFlushed(0);
}

// As Python's exit handler: wait for this child's own non-daemon children,
// end its daemon ones; nothing it started is left behind.
async function joinChildren(): Promise<void> {
  const children = activeChildren();
  for (const c of children) if (c.daemon) c.terminate();
  await Promise.all(children.map((c) => c.join()));
}

// process.exit() drops what stdout still buffers when a pipe's reader is
// slow (seen on Node 24: the last ~30 of 200 lines lost, 1 run in 15). An
// empty write's callback runs once everything before it is written.
async function exitFlushed(code: number): Promise<never> {
  const flushed = (stream: NodeJS.WriteStream) =>
    new Promise<void>((resolve) => {
      if (!stream.writable || stream.writableLength === 0) return resolve();
      stream.write("", () => resolve());
    });
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Whether a first message (or workerData) is an init message of ours. */
export function isInit(value: unknown): value is ProcessInit | PoolWorkerInit {
  const kind = typeof value === "object" && value !== null ? (value as ProcessInit).kind : undefined;
  return kind === "process" || kind === "pool-worker";
}

/** Becomes the child `init` describes, runs its target, and exits. */
export function run(init: ProcessInit | PoolWorkerInit): Promise<never> {
  return init.kind === "pool-worker" ? runPoolTarget(init) : runProcessTarget(init);
}
