// The pool's scheduler: one FIFO of chunks, a set of workers, and the rules
// that make every chunk settle whatever happens to its worker.
//  - Dispatch is deferred to a microtask, so a loop of 20k applyAsync calls
//    becomes one pass that sends each worker one batch.
//  - A worker runs what it is sent in order, so when it dies the first
//    chunk it held is the one it was running (that call gets
//    WorkerLostError) and the rest never started (they are sent elsewhere).
//  - Workers that keep failing before they are ready break the pool with
//    their error, instead of being respawned forever as in Python.
import { ProcessError, SerializationError, WorkerLostError } from "../errors.ts";
import { getHost } from "../runtime/host.ts";
import type { ExitInfo, StartMethod } from "../runtime/types.ts";
import type { FunctionRef } from "../transport/functions.ts";
import { FunctionTable } from "./functions.ts";
import { ChunkQueue } from "./queue.ts";
import { decodeValue } from "../transport/values.ts";
import { childOrigin, nextChildIdentity, spawnChild } from "../spawn.ts";
import type { FromWorker, PoolWorkerInit, TaskFailure, TaskKind } from "./protocol.ts";
import { type Chunk, type ChunkOwner, type ChunkResult, WorkerSlot } from "./worker.ts";

/** How long an aborted task may keep running before its worker is ended. */
export const ABORT_GRACE_MS = 200;

/** What the scheduler needs to start workers. */
export interface SchedulerOptions {
  readonly processes: number;
  readonly method: StartMethod;
  readonly initializer: FunctionRef | null;
  readonly initargs: unknown;
  readonly maxTasks: number;
}

function describeExit(info: { code: number | null; signal: string | null }): string {
  return info.signal ? `killed by ${info.signal}` : `exit code ${info.code}`;
}

/** Schedules a pool's chunks onto its workers. */
export class Scheduler {
  readonly processes: number;
  /** Clone every payload before sending: Deno's IPC breaks after a failed send. */
  readonly verifySends: boolean;
  /** Where tasks go: threads of this process, or processes. */
  readonly method: StartMethod;
  /** Workers retire after this many tasks (maxtasksperchild); 0 for never. */
  readonly maxTasks: number;
  #options: SchedulerOptions;
  #queue = new ChunkQueue();
  #workers = new Set<WorkerSlot>();
  #functions = new FunctionTable();
  #nextChunk = 1;
  #phase: "running" | "closed" | "terminated" = "running";
  #broken: Error | null = null;
  #startFailures = 0;
  #dispatchQueued = false;
  #live = 0;
  #openJobs = 0;
  #holds = 0;
  #refd: boolean | null = null;
  #allExited: Promise<void>;
  #resolveAllExited!: () => void;

  /** Starts `processes` workers at once; throws if the first cannot be spawned at all. */
  constructor(options: SchedulerOptions) {
    this.#options = options;
    this.processes = options.processes;
    this.verifySends = options.method === "process" && getHost().runtime === "deno";
    this.method = options.method;
    this.maxTasks = options.maxTasks;
    this.#allExited = new Promise((resolve) => (this.#resolveAllExited = resolve));
    for (let i = 0; i < options.processes; i++) this.#spawn(i === 0);
    this.#updateRef();
  }

  /** The id workers know `fn` by; throws the transport's TypeError for a function that cannot cross. */
  functionId(fn: unknown, role: string): number {
    return this.#functions.idOf(fn, role);
  }

  /** Makes a chunk ready to submit. */
  chunk(owner: ChunkOwner, fnId: number, kind: TaskKind, payload: unknown, seq: number, start: number, count: number): Chunk {
    const transfer = this.#options.method === "thread" && payload instanceof ArrayBuffer ? [payload] : undefined;
    return { id: this.#nextChunk++, fnId, kind, payload, transfer, owner, seq, start, count, state: "queued" };
  }

  /** Queues chunks to run; after terminate() or when broken they settle at once with why. */
  submit(chunks: Chunk[]): void {
    const refusal = this.#phase === "terminated" ? terminatedError() : this.#broken;
    if (refusal) {
      for (const c of chunks) this.#settle(c, { ok: false, index: 0, partial: [], error: refusal }, false);
      return;
    }
    this.#queue.push(chunks);
    this.#live += chunks.length;
    this.#updateRef();
    if (this.#phase === "closed") this.#replaceMissing();
    this.#scheduleDispatch();
  }

  /** Drops chunks a call no longer wants; a worker stuck running one is ended after a grace period. */
  cancel(chunks: Iterable<Chunk>): void {
    const sent = new Set<Chunk>();
    for (const c of chunks) {
      if (c.state === "settled") continue;
      if (c.state === "sent") sent.add(c);
      c.state = "settled";
      this.#live--;
    }
    if (sent.size > 0) {
      for (const w of this.#workers) {
        const ids = w.inflight.filter((c) => sent.has(c)).map((c) => c.id);
        if (ids.length === 0) continue;
        w.handle.send(["cancel", ids]);
        this.#watchCancelled(w);
      }
    }
    this.#updateRef();
    this.#scheduleDispatch();
  }

  // A worker running a cancelled chunk gets a grace period to finish it,
  // then is ended (and replaced). Checked again after every answer: a
  // worker running synchronous tasks back to back reads the "cancel"
  // message only when it next idles, so a cancelled chunk queued behind
  // the running one may start anyway.
  #watchCancelled(w: WorkerSlot): void {
    const running = w.inflight[0];
    if (running === undefined || running.state !== "settled" || w.abortWatch === running) return;
    w.abortWatch = running;
    setTimeout(() => {
      if (w.inflight[0] === running && w.exit === null) {
        w.killedForAbort = true;
        w.handle.kill();
      }
    }, ABORT_GRACE_MS).unref?.();
  }

  /** A call that may still submit chunks (imap reading its input) keeps the pool open. */
  openJob(): void {
    this.#openJobs++;
  }

  /** The call will submit nothing more. */
  closeJob(): void {
    this.#openJobs--;
    this.#scheduleDispatch();
  }

  /** No new calls; workers exit once the work submitted so far is done. */
  close(): void {
    if (this.#phase === "running") this.#phase = "closed";
    this.#scheduleDispatch();
  }

  /** Ends every worker now; everything outstanding settles with `reason`. */
  terminate(reason: Error = terminatedError()): void {
    if (this.#phase === "terminated") return;
    this.#phase = "terminated";
    const fail: ChunkResult = { ok: false, index: 0, partial: [], error: reason };
    for (const c of this.#queue.takeAll()) this.#settle(c, fail);
    for (const w of this.#workers) {
      for (const c of w.inflight) this.#settle(c, fail);
      w.handle.kill();
    }
    this.#checkAllExited();
  }

  /** The pool's phase. */
  get phase(): "running" | "closed" | "terminated" {
    return this.#phase;
  }

  /** Resolves once every worker has exited after close() or terminate(). */
  allExited(): Promise<void> {
    return this.#allExited;
  }

  /** Keeps the program alive while someone waits on the pool (join). */
  hold(): () => void {
    this.#holds++;
    this.#updateRef();
    return () => {
      this.#holds--;
      this.#updateRef();
    };
  }

  #spawn(throwIfRefused = false): void {
    const identity = nextChildIdentity();
    const name = `PoolWorker-${identity.join(":")}`;
    const { method, initializer, initargs, maxTasks } = this.#options;
    const init: PoolWorkerInit = { kind: "pool-worker", name, identity, method, ...childOrigin(), initializer, initargs, maxTasks };
    let worker: WorkerSlot;
    try {
      worker = new WorkerSlot(name, spawnChild(method, init, name, `pool worker ${name}`));
    } catch (failure) {
      if (throwIfRefused) throw failure;
      this.#startFailed(failure);
      return;
    }
    this.#workers.add(worker);
    if (this.#refd !== null) this.#refd ? worker.handle.ref() : worker.handle.unref();
    worker.handle.onMessage((message) => this.#onMessage(worker, message as FromWorker));
    void worker.handle.exited.then((info) => this.#onExit(worker, info));
  }

  #onMessage(w: WorkerSlot, message: FromWorker): void {
    if (message[0] === "done") {
      const flat = message[1];
      for (let i = 0; i < flat.length; i += 4) {
        const chunk = w.inflight.shift();
        if (!chunk || chunk.id !== flat[i]) throw new Error(`multiproc pool: ${w.name} answered out of order`);
        if (chunk.state !== "sent") continue; // cancelled meanwhile
        this.#settle(chunk, this.#result(chunk, flat[i + 1] as number, flat[i + 2], flat[i + 3] as number));
      }
      w.answered(flat.length / 4);
      this.#watchCancelled(w);
      this.#afterAnswers(w);
    } else if (message[0] === "ready") {
      w.ready = true;
      this.#startFailures = 0;
      if (w.retiring && w.inflight.length === 0) w.requestExit();
      this.#scheduleDispatch();
    } else if (message[0] === "crash") {
      w.crash = { error: decodeValue(message[1]), phase: message[2] };
    }
  }

  // A map chunk's numeric results stay packed: the call reads them by index.
  #result(chunk: Chunk, outcome: number, value: unknown, ms: number): ChunkResult {
    if (outcome === 1) {
      const v = chunk.kind !== 0 && value instanceof ArrayBuffer ? new Float64Array(value) : decodeValue(value);
      return { ok: true, value: v, ms };
    }
    const f = decodeValue(value) as TaskFailure;
    return { ok: false, index: f.index, partial: f.partial as unknown[], error: f.error, ms };
  }

  #afterAnswers(w: WorkerSlot): void {
    if (w.inflight.length === 0 && this.#options.maxTasks > 0 && w.sent >= this.#options.maxTasks) {
      w.retiring = true; // it exits by itself; #onExit starts its successor
    }
    this.#updateRef();
    this.#scheduleDispatch(); // after every answer that arrived together
  }

  #settle(chunk: Chunk, result: ChunkResult, counted = true): void {
    if (chunk.state === "settled") return;
    chunk.state = "settled";
    if (counted) this.#live--;
    chunk.owner.settle(chunk, result);
  }

  #onExit(w: WorkerSlot, info: ExitInfo): void {
    w.exit = info;
    this.#workers.delete(w);
    const held = w.inflight.splice(0);
    const idle = held.length === 0;
    const running = held[0];
    if (running?.state === "sent" && !w.killedForAbort) {
      const error = new WorkerLostError(
        `Cannot finish the task: pool worker ${w.name} died (${describeExit(info)}) while running it; ` +
          `the pool replaced the worker and goes on with the other tasks`,
        w.crash ? { cause: w.crash.error } : info.error !== undefined ? { cause: info.error } : undefined,
      );
      error.exitCode = info.code;
      error.signal = info.signal;
      error.workerName = w.name;
      this.#settle(running, { ok: false, index: 0, partial: [], error });
      held.shift();
    }
    // What it held but had not started goes back to the front of the queue.
    const again = held.filter((c) => c.state === "sent");
    for (const c of again) c.state = "queued";
    this.#queue.pushFront(again);
    if (idle && w.crash?.phase === "run" && this.#phase !== "terminated") {
      // Nobody to tell: an error escaped a finished task (a timer, say).
      const e = w.crash.error;
      getHost().writeStderr(`multiproc: pool worker ${w.name} died (${describeExit(info)}) while idle: ` +
        `${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    }
    if (!w.ready && this.#phase !== "terminated" && !w.retiring) {
      const why = w.crash?.error ??
        new ProcessError(`pool worker ${w.name} exited (${describeExit(info)}) before it was ready`);
      this.#startFailed(why);
    }
    this.#checkAllExited();
    this.#replaceMissing();
    this.#updateRef();
    this.#scheduleDispatch();
  }

  #startFailed(error: unknown): void {
    this.#startFailures++;
    const anyReady = [...this.#workers].some((w) => w.ready);
    if (this.#startFailures < this.processes || anyReady || this.#broken) return;
    const message = error instanceof Error ? error.message : String(error);
    this.#broken = new ProcessError(
      `Cannot run tasks: the pool's workers fail to start (${message}). ` +
        `Fix the initializer or the start environment, then create a new Pool.`,
      { cause: error },
    );
    const fail: ChunkResult = { ok: false, index: 0, partial: [], error: this.#broken };
    for (const c of this.#queue.takeAll()) this.#settle(c, fail);
    this.#checkAllExited();
  }

  // Keeps the pool at full strength while it has (or may get) work.
  #replaceMissing(): void {
    if (this.#phase === "terminated" || this.#broken) return;
    const wanted = this.#phase === "running" || this.#hasWork();
    if (!wanted) return;
    let alive = 0;
    for (const w of this.#workers) if (!w.retiring || w.inflight.length > 0) alive++;
    for (; alive < this.processes; alive++) this.#spawn();
  }

  #hasWork(): boolean {
    return !this.#queue.isEmpty || this.#openJobs > 0;
  }

  #checkAllExited(): void {
    const over = this.#phase === "terminated" || this.#broken !== null ||
      (this.#phase === "closed" && !this.#hasWork());
    if (over && this.#workers.size === 0) this.#resolveAllExited();
  }

  #scheduleDispatch(): void {
    if (this.#dispatchQueued) return;
    this.#dispatchQueued = true;
    queueMicrotask(() => {
      this.#dispatchQueued = false;
      this.#dispatch();
    });
  }

  // Hands queued chunks out one at a time to the worker holding the least,
  // up to each worker's capacity, then sends each worker its batch.
  #dispatch(): void {
    if (this.#phase === "terminated") return;
    const max = this.#options.maxTasks;
    const open = [...this.#workers].filter((w) => w.ready && !w.retiring);
    const batches = new Map<WorkerSlot, Chunk[]>();
    for (let chunk = this.#queue.peek(); chunk && open.length > 0; chunk = this.#queue.peek()) {
      let best: WorkerSlot | undefined;
      let bestLoad = Infinity;
      for (const w of open) {
        const pending = batches.get(w)?.length ?? 0;
        const load = w.inflight.length + pending;
        const cap = w.capacity();
        // A busy worker is topped up only once it has room for half its
        // capacity: fewer, fuller messages (postMessage has a fixed cost).
        if (pending === 0 && w.inflight.length > 0 && cap - load < cap / 2) continue;
        const allowed = max > 0 ? max - w.sent - pending : Infinity; // maxtasksperchild
        if (load < cap && allowed > 0 && load < bestLoad) (best = w, bestLoad = load);
      }
      if (!best) break;
      this.#queue.shift();
      const batch = batches.get(best) ?? [];
      batch.push(chunk);
      batches.set(best, batch);
    }
    for (const [w, batch] of batches) this.#send(w, batch);
    if (this.#phase === "closed" && !this.#hasWork()) {
      for (const w of this.#workers) if (w.inflight.length === 0) w.requestExit();
    }
  }

  #send(w: WorkerSlot, batch: Chunk[]): void {
    try {
      w.sendTasks(batch, (id) => this.#functions.ref(id));
    } catch {
      // The channel refused the batch: a value the checks let through (a
      // host object). Find it by cloning each chunk; send the rest.
      const good: Chunk[] = [];
      for (const c of batch) {
        try {
          structuredClone(c.payload);
          good.push(c);
        } catch (error) {
          const what = c.kind === 0 ? "args" : `iterable[${c.start}..${c.start + c.count - 1}]`;
          const e = new SerializationError(`Cannot send ${what}: ${(error as Error).message}`, what, { cause: error });
          this.#settle(c, { ok: false, index: 0, partial: [], error: e });
        }
      }
      let unsent = good;
      if (good.length > 0 && good.length < batch.length) {
        try {
          w.sendTasks(good, (id) => this.#functions.ref(id));
          unsent = [];
        } catch {
          // the channel itself fails: handled below
        }
      }
      if (unsent.length > 0) {
        // Every payload clones, yet the channel refuses: the channel is
        // broken (its worker is going). Nothing is lost: the chunks go back
        // to the front of the queue for the other workers, this worker gets
        // no more, and a fresh one takes its place.
        this.#queue.pushFront(unsent);
        w.retiring = true;
        w.requestExit();
        this.#replaceMissing();
        this.#scheduleDispatch();
      }
    }
    if (this.#options.maxTasks > 0 && w.sent >= this.#options.maxTasks) w.retiring = true;
  }

  // Workers keep the program alive only while there is work or a joiner.
  #updateRef(): void {
    const want = this.#live > 0 || this.#holds > 0;
    if (want === this.#refd) return;
    this.#refd = want;
    for (const w of this.#workers) want ? w.handle.ref() : w.handle.unref();
  }
}

function terminatedError(): ProcessError {
  return new ProcessError("Cannot finish the task: the pool was terminated before it ran");
}
