// The two kinds of child behind the seam. All three runtimes implement
// node:child_process and node:worker_threads well enough (verified: IPC with
// "advanced" serialization, worker exit codes, stdout flushed before "exit"),
// so one implementation of each serves Node, Deno and Bun; what differs per
// runtime is only the command line and the worker entry (specifics.ts).
import { type ChildProcess, spawn } from "node:child_process";
import { Worker } from "node:worker_threads";
import process from "node:process";
import type { Readable, Writable } from "node:stream";
import type { ChildHandle, ExitInfo, RequestStream, StateLineEnd } from "./types.ts";

/** How to start a thread of this process running a module (tsx registered where needed). */
export type ThreadStarter = (moduleUrl: URL, data: unknown, transfer: readonly Transferable[]) => Worker;

/** Marks argv so the bootstrap knows it runs as a child process. */
export const CHILD_FLAG = "--multiproc-child";

/** A real OS process talking over the runtime's IPC channel. */
export class ProcessChild implements ChildHandle {
  readonly exited: Promise<ExitInfo>;
  readonly requests: RequestStream;
  readonly stateLine?: StateLineEnd;
  #child: ChildProcess;

  /**
   * `stateThread`: the module serving a state line and how to start it
   * (Node), or undefined for none. `answerLine`: give the child an answer
   * line (fd 6), for runtimes whose child can read one as it comes.
   * `ackFd`: the write end of this process's acknowledgement line
   * (ack_line.ts), given to the child as fd 7.
   */
  constructor(
    command: string,
    args: string[],
    init: unknown,
    { stateThread, answerLine = false, ackFd }: {
      stateThread?: { url: URL; start: ThreadStarter };
      answerLine?: boolean;
      ackFd?: number;
    } = {},
  ) {
    // fd 4 the request line, fd 5 the state line, fd 6 the answer line, fd 7 the acknowledgement line
    const lines: Array<"pipe" | "ignore" | number> = [stateThread ? "pipe" : "ignore", answerLine ? "pipe" : "ignore", ackFd ?? "ignore"];
    while (lines.at(-1) === "ignore") lines.pop();
    this.#child = spawn(command, [...args, CHILD_FLAG], {
      stdio: ["inherit", "inherit", "inherit", "ipc", "pipe", ...lines],
      serialization: "advanced",
    });
    if (stateThread) this.stateLine = stateLineOf(this.#child, stateThread.url, stateThread.start);
    const line = this.#child.stdio[4] as (Readable & Writable) | null;
    line?.on("error", () => {}); // the child is gone: its exit says so
    const answers = answerLine ? (this.#child.stdio as unknown as Array<(Readable & Writable) | null>)[6] ?? null : null;
    if (answers) {
      // Written only; the child never writes back. It must not keep this
      // process alive, and a write after the child has gone fails quietly.
      answers.on("error", () => {});
      answers.pause();
      (answers as { unref?: () => void }).unref?.();
    }
    // The line's end ("end" once everything was read, or "close", whichever
    // comes first) runs the onEnd listeners, then settles `ended`: whatever
    // they do (give back what the child borrowed) is done before anyone
    // waiting on `ended` goes on.
    const onEnd: Array<() => void> = [];
    let over = !line;
    const ended = new Promise<void>((resolve) => {
      if (!line) return resolve();
      const end = () => {
        if (over) return;
        over = true;
        for (const f of onEnd.splice(0)) f();
        resolve();
      };
      line.once("end", end);
      line.once("close", end);
    });
    this.requests = {
      ended,
      onData: (listener) => void line?.on("data", listener),
      write: (bytes) => void (line?.writable && line.write(bytes)),
      ...(answers ? { answer: (bytes: Uint8Array) => void (answers.writable && answers.write(bytes)) } : {}),
      onEnd: (listener) => void (over ? listener() : onEnd.push(listener)),
    };
    // The line must not keep this process alive by itself.
    (line as { unref?: () => void } | null)?.unref?.();
    this.exited = new Promise((resolve) => {
      let done = false;
      const finish = (info: ExitInfo) => {
        if (!done) resolve(info);
        done = true;
      };
      // "close" comes after the IPC channel has delivered its last message;
      // "exit" can come first, so give the channel a moment before settling.
      this.#child.once("close", (code, signal) => finish({ code, signal }));
      // (A timer that keeps this process alive: someone may be waiting for
      // this exit with nothing else to keep it going, and Deno then ends the
      // program, or a `deno test`, with the promise still pending.)
      this.#child.once("exit", (code, signal) => {
        setTimeout(() => finish({ code, signal }), 100);
      });
      // An error once the child runs (Deno reports a broken request line
      // of a child that has just exited this way) is not a failure to
      // start: its exit tells what happened.
      this.#child.on("error", (err) => {
        if (this.#child.pid !== undefined) return;
        process.stderr.write(`multiproc: cannot start a child process: ${err.message}\n`);
        finish({ code: 1, signal: null });
      });
    });
    // (the bootstrap learns which of fds 5, 6 and 7 are there)
    const ackLine = ackFd !== undefined;
    this.send(
      this.stateLine || answers || ackLine ? { ...(init as object), stateLine: !!this.stateLine, answerLine: !!answers, ackLine } : init,
    );
  }

  get pid(): number {
    return this.#child.pid ?? 0;
  }

  send(message: unknown): void {
    if (this.#child.connected) this.#child.send(message as object);
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#child.on("message", listener);
  }

  terminate(): void {
    this.#child.kill("SIGTERM");
  }

  kill(): void {
    this.#child.kill("SIGKILL");
  }

  unref(): void {
    this.#child.unref();
    (this.#child.channel as { unref?: () => void } | undefined)?.unref?.();
  }

  ref(): void {
    this.#child.ref();
    (this.#child.channel as { ref?: () => void } | undefined)?.ref?.();
  }
}

// The parent's end of fd 5: nothing reads it on this thread's event loop
// (reading stops at once, before the child can have written); a thread
// started by serve() reads it with blocking reads. The socket is destroyed
// (its fd closed) only once that thread is done with it, or the child has
// ended if none was started.
function stateLineOf(child: ChildProcess, url: URL, start: ThreadStarter): StateLineEnd | undefined {
  type RawPipe = Readable & { _handle?: { fd?: number; readStop?: () => void; setBlocking?: (on: boolean) => number } };
  const socket = (child.stdio as unknown as Array<RawPipe | null | undefined>)[5];
  const handle = socket?._handle;
  if (!socket || typeof handle?.fd !== "number" || !handle.readStop || !handle.setBlocking) {
    socket?.destroy();
    return undefined;
  }
  socket.on("error", () => {});
  socket.pause();
  handle.readStop();
  (socket as { unref?: () => void }).unref?.();
  let thread: Promise<void> | null = null;
  const close = () => void socket.destroy();
  child.once("exit", () => void (thread ?? close()));
  return {
    serve(data, transfer) {
      if (thread || child.exitCode !== null || child.signalCode !== null) return Promise.resolve(false);
      if (handle.setBlocking!(true) !== 0) return Promise.resolve(false);
      let worker: Worker;
      try {
        worker = start(url, { ...(data as object), fd: handle.fd }, transfer);
      } catch {
        return Promise.resolve(false);
      }
      // It keeps this process alive only to read what the child wrote last,
      // once the child has ended (half a second at most: a grandchild that
      // inherited the line may keep it open).
      worker.unref();
      child.once("exit", () => {
        worker.ref();
        setTimeout(() => worker.unref(), 500).unref?.();
      });
      const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
      thread = exited.then(close);
      return new Promise<boolean>((resolve) => {
        worker.once("message", (m) => resolve(m === "ready"));
        worker.once("error", () => resolve(false));
        void exited.then(() => resolve(false));
      });
    },
    ended: () => thread ?? Promise.resolve(),
  };
}

/** A worker thread of this process. */
export class ThreadChild implements ChildHandle {
  readonly exited: Promise<ExitInfo>;
  readonly pid: number = process.pid;
  #worker: Worker;
  #endedBy: string | null = null;
  #error: unknown = undefined;

  constructor(entry: URL, init: unknown, name: string, execArgv?: string[]) {
    const options = { workerData: init, name, ...(execArgv ? { execArgv } : {}) };
    this.#worker = new Worker(entry, options as ConstructorParameters<typeof Worker>[1]);
    // The bootstrap reports the target's errors itself. What reaches here
    // escaped it (the bootstrap failed to load, a timer threw later): print
    // it as a crashing process would, rather than crash the parent.
    this.#worker.on("error", (error) => {
      this.#error = error;
      const text = error instanceof Error ? error.stack ?? String(error) : String(error);
      process.stderr.write(`Uncaught error in thread ${name}:\n${text}\n`);
    });
    this.exited = new Promise((resolve) => {
      this.#worker.once("exit", (code) => {
        // A thread has no signals: report the one Process asked for, so
        // terminate() and kill() read -15 and -9 as they do for processes.
        const info: ExitInfo = this.#endedBy ? { code: null, signal: this.#endedBy } : { code, signal: null };
        if (this.#error !== undefined) info.error = this.#error;
        void this.#outputEnded().then(() => resolve(info));
      });
    });
  }

  // A worker's stdout and stderr reach this thread's through stream pipes,
  // which may still hold chunks when "exit" fires; a parent that is itself
  // about to exit (a nested child) would drop them. Wait for both streams to
  // end, briefly: Deno and Bun may never end them.
  #outputEnded(): Promise<void> {
    const ended = (stream: NodeJS.ReadableStream & { readableEnded?: boolean } | null | undefined) =>
      new Promise<void>((resolve) => {
        if (!stream || stream.readableEnded !== false) return resolve();
        stream.once("end", () => resolve());
        stream.once("close", () => resolve());
      });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const cap = new Promise<void>((resolve) => (timer = setTimeout(resolve, 100)));
    return Promise.race([Promise.all([ended(this.#worker.stdout), ended(this.#worker.stderr)]), cap])
      .then(() => clearTimeout(timer));
  }

  send(message: unknown, transfer?: readonly Transferable[]): void {
    this.#worker.postMessage(message, transfer as never);
  }

  onMessage(listener: (message: unknown) => void): void {
    this.#worker.on("message", listener);
  }

  terminate(): void {
    this.#endedBy ??= "SIGTERM";
    void this.#worker.terminate();
  }

  kill(): void {
    this.#endedBy ??= "SIGKILL";
    void this.#worker.terminate();
  }

  unref(): void {
    this.#worker.unref();
  }

  ref(): void {
    this.#worker.ref();
  }
}
