// A thread of a Node parent that serves one child process's state line
// (lib/runtime/types.ts StateLineEnd): the child's operations on shared
// memory the parent owns, read with blocking reads and answered at once,
// whatever the parent's main thread is doing. Node cannot map memory into
// a child, so this is as close as the child gets: one pipe round trip per
// operation that needs an answer, none for those that do not.
//
// Frames (lib/shared/remote_memory.ts writes them):
//   u32 length of what follows | u8 answer wanted | u32 memory id | f64 ms (NaN: forever) | payload
// answers: u32 length | u8 status | payload. The payloads are those of the
// request line (lib/shared/memory_ops.ts). A kernel that has to wait waits
// here, blocking only this thread, and gives up if the child ends.
//
// The thread ends when the child closes its end (it exited or was killed).
import { parentPort, receiveMessageOnPort, workerData } from "node:worker_threads";
import { encodeAnswer, Status } from "../queue/wire.ts";
import { getF64, getU32 } from "../transport/le.ts";
import { blockingLine } from "./channel.ts";
import { adoptLives, hasEnded, holderDead, type LivesInit } from "../shared/lives.ts";
import { LocalMemory, TIMED_OUT, waitCellSync } from "../shared/memory.ts";
import { memoryOp, type OpAnswer, type OpWait, Sub, withReads } from "../shared/memory_ops.ts";
import "../sync/kernels.ts"; // the Lock family's kernels, by name

interface StateThreadData {
  fd: number;
  token: number;
  lives: LivesInit;
  memories: Array<[number, SharedArrayBuffer]>;
  port: MessagePort;
}

const data = workerData as StateThreadData;
adoptLives(data.lives);

const memories = new Map<number, LocalMemory>(data.memories.map(([id, buffer]) => [id, new LocalMemory(buffer)]));

// Memory listed after this thread started is announced on the port, before
// any child could have learned its id.
function find(id: number): LocalMemory | undefined {
  for (;;) {
    const known = memories.get(id);
    if (known) return known;
    const news = receiveMessageOnPort(data.port as never) as { message: [number, SharedArrayBuffer] } | undefined;
    if (!news) return undefined;
    memories.set(news.message[0], new LocalMemory(news.message[1]));
  }
}

const line = blockingLine(data.fd);

// The next frame, or null once the child has closed its end (or the line failed).
function nextFrame(): Uint8Array | null {
  try {
    return line.readFrame();
  } catch {
    return null;
  }
}

// Writes an answer; false if the child is gone.
function answer([status, payload]: OpAnswer): boolean {
  try {
    line.write(encodeAnswer(status, payload ?? undefined));
    return true;
  } catch {
    return false;
  }
}

// Runs a kernel that has to wait to its end, for `ms` at most; null if the child ended meanwhile.
function waited(w: OpWait, ms: number | undefined): OpAnswer | null {
  if (ms === 0) return withReads(TIMED_OUT, []);
  const until = ms === undefined ? Infinity : performance.now() + ms;
  for (;;) {
    const step = w.kernel(w.view, data.token, w.args, holderDead);
    if (step.done) return withReads(step.value, w.reads);
    const rest = until - performance.now();
    if (rest <= 0) return withReads(TIMED_OUT, []);
    if (hasEnded(data.token)) return null;
    waitCellSync(w.view, step.cell, step.seen, Math.min(rest, step.ms ?? 50));
  }
}

function serve(): void {
  for (;;) {
    const body = nextFrame();
    if (!body) return;
    const wanted = body[0] === 1;
    const id = getU32(body, 1);
    const raw = getF64(body, 5);
    const payload = body.subarray(13);
    let result: OpAnswer | null;
    if (payload[0] === Sub.Sync) {
      result = [Status.Ok, null];
    } else {
      const mem = find(id);
      if (!mem) {
        result = [Status.Unknown, null];
      } else {
        const r = memoryOp(payload, mem, find, data.token, holderDead);
        result = Array.isArray(r) ? r : waited(r.wait, Number.isNaN(raw) ? undefined : raw);
      }
    }
    if (result === null) return;
    if (wanted && !answer(result)) return;
  }
}

parentPort?.postMessage("ready");
serve();
data.port.close();
