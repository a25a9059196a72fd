// The child's side of the seam: its message channel to the parent. The
// bootstrap sets it up (IPC for a process, parentPort for a thread); code
// running in the child (pool workers, queues) uses it through this module.
// A child process also has a request line to its parent (fd 4): frames it
// writes and answers it reads synchronously, for queues and shared state;
// and, on Node and Deno, an answer line (fd 6) that it reads as it comes,
// for the answers to the requests it does not wait for; and, on Node, an
// acknowledgement line (fd 7): one write per item it takes that its
// parent lent it (lib/runtime/ack_line.ts).
import process from "node:process";
import { readSync, writeSync } from "node:fs";
import { Socket } from "node:net";
import { parentPort } from "node:worker_threads";
import { getU32, putU32 } from "../transport/le.ts";
import { FrameSplitter } from "../transport/frames.ts";
import { ACK_RECORD } from "../runtime/ack_line.ts";
import { detectRuntime } from "../runtime/detect.ts";

/** Messages to and from the parent of this child. */
export interface ParentChannel {
  /** Sends to the parent; `transfer` moves buffers where the channel allows it (threads). */
  send(message: unknown, transfer?: readonly Transferable[]): void;
  /** Listens for messages from the parent; returns a function that stops listening. */
  onMessage(listener: (message: unknown) => void): () => void;
}

/** The first element of a message for the queue client rather than the child's role. */
export const SIDE_TAG = "\u0000side";

/** A child process's blocking byte line to its parent. */
export interface RequestLine {
  /** Writes all of `bytes`, blocking while the parent is slow to read. */
  write(bytes: Uint8Array): void;
  /** Reads exactly `into.length` bytes, blocking until they come; false at end of file. */
  readExactly(into: Uint8Array): boolean;
  /** Reads one frame (u32 length, then that many bytes) and returns what follows the length; null at end of file. */
  readFrame(): Uint8Array | null;
}

const REQUEST_FD = 4;
const STATE_FD = 5;
const ANSWER_FD = 6;
const ACK_FD = 7;
const nap = new Int32Array(new SharedArrayBuffer(4));

let sideListener: ((message: unknown[]) => void) | null = null;
const beforeSend: Array<() => void> = [];

/** Runs `hook` before each message a child process sends its parent (see processChannel). */
export function setBeforeSend(hook: () => void): void {
  beforeSend.push(hook);
}

let beforeRequest: (() => void) | null = null;

/** Runs `hook` before each write on the request line (the state line's writes are done first). */
export function setBeforeRequest(hook: () => void): void {
  beforeRequest = hook;
}

/** Called by the request line's client before it writes. */
export function runBeforeRequest(): void {
  beforeRequest?.();
}

function isSide(message: unknown): message is unknown[] {
  return Array.isArray(message) && message[0] === SIDE_TAG;
}

function routed(listener: (message: unknown) => void): (message: unknown) => void {
  return (message) => {
    if (!isSide(message)) listener(message);
  };
}

function processChannel(): ParentChannel {
  return {
    send(message) {
      // What this child asked of its parent on the request line without
      // waiting (writes, releases, puts) is done before anything it says
      // on this channel: a task's result never overtakes its effects.
      try {
        for (const hook of beforeSend) hook();
      } catch {
        // The parent is gone: the send below fails as it would have.
      }
      process.send?.(message);
    },
    onMessage(listener) {
      const l = routed(listener);
      process.on("message", l);
      return () => void process.off("message", l);
    },
  };
}

function threadChannel(port: NonNullable<typeof parentPort>): ParentChannel {
  return {
    send(message, transfer) {
      port.postMessage(message, transfer as never);
    },
    onMessage(listener) {
      const l = routed(listener);
      port.on("message", l);
      return () => void port.off("message", l);
    },
  };
}

let channel: ParentChannel | null = null;
let line: RequestLine | null = null;
let stateLineThere = false;

/** Called by the bootstrap when the parent made this child process a state line (fd 5). */
export function enableStateLine(): void {
  stateLineThere = true;
}

/**
 * The state line to the parent (fd 5), once the parent serves it: a line
 * of its own for this child's operations on the parent's shared memory
 * (lib/shared/remote_memory.ts). Null where the parent made none.
 */
export function stateLine(): RequestLine | null {
  return stateLineThere ? (stateLineFile ??= blockingLine(STATE_FD)) : null;
}

let stateLineFile: RequestLine | null = null;
let answerLine: "absent" | "there" | "read" = "absent";

/** Called by the bootstrap when the parent made this child process an answer line (fd 6). */
export function enableAnswerLine(): void {
  if (answerLine === "absent") answerLine = "there";
}

/**
 * Reads the answer line (fd 6) from now on, calling `listener` with each
 * frame's body, `buf[start, end)`, as it comes. False where the parent
 * made none (its answers then come on the parent channel, onSideMessage).
 * Once per process.
 */
export function onAnswerFrames(listener: (buf: Uint8Array, start: number, end: number) => void): boolean {
  if (answerLine !== "there") return false;
  answerLine = "read";
  const socket = new Socket({ fd: ANSWER_FD, readable: true, writable: false });
  // The parent gone: its IPC channel's closing ends this process.
  socket.on("error", () => {});
  // The line does not keep this process alive: the IPC channel does, as
  // it does while answers come that way.
  socket.unref();
  const frames = new FrameSplitter();
  socket.on("data", (chunk: Uint8Array) => frames.push(chunk, listener));
  if (detectRuntime() === "node") readAnswers = () => {
    let n = 0;
    try {
      n = readSync(ANSWER_FD, answerBuf, 0, answerBuf.length, null);
    } catch (error) {
      return (error as { code?: string }).code === "EAGAIN" ? "none" : "closed";
    }
    if (n === 0) return "closed";
    frames.push(answerBuf.slice(0, n), listener);
    return "read";
  };
  return true;
}

let readAnswers: (() => "read" | "none" | "closed") | null = null;
const answerBuf = new Uint8Array(64 * 1024);

/**
 * Reads what has come on the answer line now, without waiting for the
 * event loop, passing each frame to onAnswerFrames' listener: "read" (some
 * came), "none" (nothing yet) or "closed" (the parent is gone, or there is
 * no answer line read here). For a blocking call that needs an answer to
 * an async request first. Node only: there the line is a non-blocking
 * socket that libuv reads in the same order (what this read takes, it no
 * longer sees).
 */
export function readAnswersNow(): "read" | "none" | "closed" {
  return readAnswers?.() ?? "closed";
}

/** Whether readAnswersNow can read the answer line here. */
export function canReadAnswersNow(): boolean {
  return readAnswers !== null;
}

/** Sleeps about `ms` (a blocking wait's pause between looks). */
export function napSync(ms: number): void {
  Atomics.wait(nap, 0, 0, ms);
}

// This child's token with its parent, once the parent gave it fd 7.
let ackToken = 0;
const ackRecord = new Uint8Array(ACK_RECORD);

/** Called by the bootstrap when the parent gave this child process an acknowledgement line (fd 7). */
export function enableAckLine(token: number): void {
  ackToken = token;
}

/**
 * Tells the parent, on the acknowledgement line, that this child took
 * item `number` of what ring `ring` lent it: one write, done when this
 * returns. False where there is no such line or it is full (the parent
 * has not read it for a long while): say it on the request line then.
 */
export function writeAck(ring: number, number: number): boolean {
  if (ackToken === 0) return false;
  putU32(ackRecord, 0, ackToken);
  putU32(ackRecord, 4, ring);
  putU32(ackRecord, 8, number);
  try {
    // (a record is far under PIPE_BUF: written whole or not at all)
    return writeSync(ACK_FD, ackRecord) === ackRecord.length;
  } catch {
    return false; // full (EAGAIN), or the parent is gone
  }
}

/** A line over file descriptor `fd`, read and written with blocking calls (also the parent's state thread's). */
export function blockingLine(fd: number): RequestLine {
  const readExactly = (into: Uint8Array): boolean => {
    for (let at = 0; at < into.length;) {
      let n: number;
      try {
        n = readSync(fd, into, at, into.length - at, null);
      } catch (error) {
        // The line should block; should a runtime have made it
        // non-blocking, wait a moment and read again.
        if ((error as { code?: string }).code !== "EAGAIN") throw error;
        Atomics.wait(nap, 0, 0, 1);
        continue;
      }
      if (n === 0) return false;
      at += n;
    }
    return true;
  };
  const head = new Uint8Array(4);
  return {
    write(bytes) {
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
    },
    readExactly,
    readFrame() {
      if (!readExactly(head)) return null;
      const body = new Uint8Array(getU32(head, 0));
      return readExactly(body) ? body : null;
    },
  };
}

/** Called once by the bootstrap, with how this child was started. */
export function openParentChannel(method: "process" | "thread"): ParentChannel {
  channel = method === "thread" && parentPort ? threadChannel(parentPort) : processChannel();
  if (method === "process") line = blockingLine(REQUEST_FD);
  return channel;
}

/** The channel to the parent, or null outside a child started by multiproc. */
export function parentChannel(): ParentChannel | null {
  return channel;
}

/** The request line to the parent: only in a child process. */
export function requestLine(): RequestLine | null {
  return line;
}

/** Receives the parent's `[SIDE_TAG, ...]` messages (answers to queue requests). */
export function onSideMessage(listener: (message: unknown[]) => void): void {
  if (sideListener === null) {
    if (channel === null) throw new Error("multiproc: no parent channel (a bug in multiproc)");
    const raw = (message: unknown) => {
      if (isSide(message)) sideListener?.(message);
    };
    if (parentPort && channel !== null && line === null) parentPort.on("message", raw);
    else process.on("message", raw);
  }
  sideListener = listener;
}
