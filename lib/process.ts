// Process: Python's multiprocessing.Process, on any runtime, as an OS process
// or a worker thread. Also currentProcess, parentProcess and activeChildren.
import { ProcessError } from "./errors.ts";
import { state } from "./state.ts";
import { getHost } from "./runtime/host.ts";
import type { ChildHandle, ExitInfo } from "./runtime/types.ts";
import { checkStartMethod, startMethodOf } from "./context.ts";
import { checkTimeout } from "./checks.ts";
import { resolveFunction } from "./transport/functions.ts";
import { encodeValue } from "./transport/values.ts";
import type { ProcessInit } from "./child/run.ts";
import { reserveChildSlot, withHolder } from "./shared/lives.ts";
import { checkMayStartChildren, childOrigin, endedAndRead, nextChildIdentity, spawnChild } from "./spawn.ts";

/**
 * What a Process runs and how it is known.
 *
 * @typeParam A The target's parameter types, checked against `args`.
 * @example
 * ```ts
 * import type { ProcessOptions } from "multiproc";
 * const options: ProcessOptions<[number]> = { target: (n) => console.log(n), args: [1], name: "printer" };
 * console.log(options.name); // "printer"
 * ```
 */
export interface ProcessOptions<A extends unknown[] = unknown[]> {
  /** The function to run in the child; may be async. Without one the child does nothing. */
  target?: (...args: A) => unknown;
  /** The arguments for `target`, structured-cloned into the child. @default [] */
  args?: A;
  /** A name for the child. @default "Process-N" */
  name?: string;
  /** End the child when the parent exits. @default the parent's own daemon flag */
  daemon?: boolean;
}

const active = new Set<Process>();
let makeView: (name: string, pid: number, daemon: boolean) => Process;
let exitHookInstalled = false;

// Python terminates daemonic children when the parent exits; so do we. The
// IPC channel's closing would end them too, but this is immediate.
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  getHost().onExit(() => {
    for (const p of active) if (p.daemon) p.terminate();
  });
}

/**
 * A child running `target(...args)` in another process or thread, as
 * Python's `multiprocessing.Process`.
 *
 * @typeParam A The target's parameter types.
 * @example Start, join, read the exit code
 * ```ts
 * import { Process } from "multiproc";
 *
 * export function greet(who: string) {
 *   console.log(`hello, ${who}`);
 * }
 *
 * // (in a program: under `if (isMain(import.meta))`, see isMain)
 * const p = new Process({ target: greet, args: ["world"] });
 * p.start();
 * await p.join();
 * console.log(p.exitCode); // 0
 * ```
 */
export class Process<A extends unknown[] = unknown[]> {
  // Stored untyped, so that a Process<[number]> is also a Process.
  #target: Function | undefined;
  #args: unknown[];
  #name: string;
  #daemon: boolean;
  #identity: number[];
  #handle: ChildHandle | undefined;
  #ended: Promise<ExitInfo> | undefined;
  #exit: ExitInfo | undefined;
  #closed = false;
  #current = false;
  #pid: number | undefined;
  #joiners = 0;

  /**
   * Creates a child that is not started yet; call start().
   *
   * @param options The target, its args, a name and the daemon flag.
   * @throws {TypeError} for a target that is not a function, args that are not an array, and the like.
   */
  constructor(options: ProcessOptions<A> = {}) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(`Cannot create a Process: expected an options object like { target, args }, got ${String(options)}`);
    }
    const { target, args, name, daemon } = options;
    if (target !== undefined && typeof target !== "function") {
      throw new TypeError(`Cannot create a Process: target must be a function, got ${typeof target}`);
    }
    if (args !== undefined && !Array.isArray(args)) {
      throw new TypeError(`Cannot create a Process: args must be an array, got ${typeof args}; wrap a single value as [value]`);
    }
    if (name !== undefined && typeof name !== "string") {
      throw new TypeError(`Cannot create a Process: name must be a string, got ${typeof name}`);
    }
    if (daemon !== undefined && typeof daemon !== "boolean") {
      throw new TypeError(`Cannot create a Process: daemon must be a boolean, got ${typeof daemon}`);
    }
    const s = state();
    this.#identity = nextChildIdentity();
    this.#target = target;
    this.#args = args ?? [];
    this.#name = name ?? `Process-${this.#identity.join(":")}`;
    this.#daemon = daemon ?? s.self.daemon;
  }

  static {
    // Views of this process and its parent: not startable, always alive.
    // Made here, where the private fields are reachable, but not exported.
    makeView = (name, pid, daemon) => {
      const p = new Process({ name, daemon });
      state().childCounter--; // a view is not a child: give its number back
      p.#current = true;
      p.#pid = pid;
      return p;
    };
  }

  /** The name, unique among default names: `Process-1`, `Process-1:2`, ... */
  get name(): string {
    return this.#name;
  }
  set name(value: string) {
    if (typeof value !== "string") throw new TypeError(`Cannot rename ${this.#name}: name must be a string`);
    this.#name = value;
  }

  /** Whether the child is ended when its parent exits. Set it before start(). */
  get daemon(): boolean {
    return this.#daemon;
  }
  set daemon(value: boolean) {
    if (this.#handle) throw new ProcessError(`Cannot change daemon of ${this.#name}: it has already started`);
    if (typeof value !== "boolean") throw new TypeError(`Cannot set daemon of ${this.#name}: expected a boolean`);
    this.#daemon = value;
  }

  /** The OS process id once started (under "thread", the hosting process's); else undefined. */
  get pid(): number | undefined {
    return this.#pid ?? this.#handle?.pid;
  }

  /** Alias of pid, as Python's `ident`. */
  get ident(): number | undefined {
    return this.pid;
  }

  /**
   * `null` until the child ends; then 0 on success, 1 if the target threw,
   * `-N` if signal N ended it (terminate: -15, kill: -9), or the code given
   * to `process.exit(n)` in the child.
   */
  get exitCode(): number | null {
    const info = this.#exit;
    if (!info) return null;
    if (info.signal) return -getHost().signalNumber(info.signal);
    return info.code ?? 0;
  }

  /** Starts the child. Call it once. */
  start(): void {
    this.#check("start");
    if (this.#handle) throw new ProcessError(`Cannot start ${this.#name}: a process can only be started once`);
    checkMayStartChildren(`start ${this.#name}`);
    const method = checkStartMethod(startMethodOf(this.constructor), `start ${this.#name}`);
    const fn = this.#target ? resolveFunction(this.#target, "the target") : null;
    // Pipe ends passed along become the child's own copies.
    const slot = reserveChildSlot();
    let args: unknown;
    try {
      args = withHolder(slot.init.token, () => encodeValue(this.#args, "args", true, method));
    } catch (error) {
      slot.exited();
      throw error;
    }
    const init: ProcessInit = {
      kind: "process",
      name: this.#name,
      identity: this.#identity,
      daemon: this.#daemon,
      method,
      ...childOrigin(),
      fn,
      args,
    };
    const handle = spawnChild(method, init, this.#name, this.#name, slot);
    this.#handle = handle;
    if (this.#daemon) handle.unref();
    active.add(this);
    installExitHook();
    this.#ended = endedAndRead(handle);
    void this.#ended.then((info) => {
      this.#exit = info;
      active.delete(this);
    });
  }

  /**
   * Waits for the child to end, at most `timeout` ms. Check exitCode (or
   * isAlive()) afterwards to know whether it ended.
   *
   * @param timeout How long to wait, in milliseconds. @default forever
   */
  async join(timeout?: number): Promise<void> {
    this.#check("join");
    const ms = checkTimeout(timeout, `join ${this.#name}`);
    const handle = this.#handle;
    if (!handle) throw new ProcessError(`Cannot join ${this.#name}: it was never started; call start() first`);
    if (this.#exit) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = this.#ended!.then((info) => {
      this.#exit = info;
    });
    // A daemon child does not keep this process alive, but someone waiting
    // for it must: else the program ends mid-join (Node exits with 13).
    if (this.#joiners++ === 0 && this.#daemon) handle.ref();
    try {
      await (ms === undefined ? finished : Promise.race([
        finished,
        new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
      ]));
    } finally {
      clearTimeout(timer);
      if (--this.#joiners === 0 && this.#daemon && this.#exit === undefined) handle.unref();
    }
  }

  /** Whether the child has started and not yet ended. */
  isAlive(): boolean {
    this.#check("check", true);
    if (this.#current) return true;
    return this.#handle !== undefined && this.#exit === undefined;
  }

  /** Ends the child with SIGTERM (a thread is stopped); exitCode becomes -15. */
  terminate(): void {
    this.#check("terminate");
    this.#signal("terminate");
  }

  /** Ends the child with SIGKILL (a thread is stopped); exitCode becomes -9. */
  kill(): void {
    this.#check("kill");
    this.#signal("kill");
  }

  /** Releases the child's resources. Throws while the child still runs. */
  close(): void {
    if (this.#closed) return;
    if (this.#handle && this.#exit === undefined) {
      throw new ProcessError(`Cannot close ${this.#name}: it is still running; join() or terminate() it first`);
    }
    this.#closed = true;
  }

  /** `await using p = new Process(...)`: joins a started child, then closes it. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    if (this.#handle) await this.join();
    this.close();
  }

  /** `<Process name="Process-1" pid=123 started>`, as Python's repr. */
  toString(): string {
    const status = this.#current ? "current" : this.#closed ? "closed" : !this.#handle
      ? "initial"
      : this.#exit
      ? `stopped exitcode=${this.exitCode}`
      : "started";
    return `<Process name="${this.#name}"${this.pid ? ` pid=${this.pid}` : ""} ${status}${this.#daemon ? " daemon" : ""}>`;
  }

  #signal(how: "terminate" | "kill"): void {
    if (this.#current) throw new ProcessError(`Cannot ${how} ${this.#name}: it is the current or parent process`);
    if (!this.#handle) throw new ProcessError(`Cannot ${how} ${this.#name}: it was never started`);
    if (this.#exit === undefined) this.#handle[how]();
  }

  #check(what: string, allowCurrent = false): void {
    if (this.#closed) throw new ProcessError(`Cannot ${what} ${this.#name}: it is closed`);
    if (this.#current && !allowCurrent) {
      throw new ProcessError(`Cannot ${what} ${this.#name}: it is the current or parent process, not a child`);
    }
  }
}

let current: Process | undefined;

/**
 * The Process object of the code that calls it: `MainProcess` in the top
 * process, the child's own Process (name, pid, daemon) in a child.
 *
 * @returns This process.
 * @example
 * ```ts
 * import { currentProcess } from "multiproc";
 * console.log(currentProcess().name); // "MainProcess"
 * ```
 */
export function currentProcess(): Process {
  const self = state().self;
  if (!current || current.name !== self.name) current = makeView(self.name, getHost().pid, self.daemon);
  return current;
}

/**
 * The parent's Process object in a child, `null` in the main process.
 *
 * @returns The parent (name, pid), or null.
 * @example
 * ```ts
 * import { parentProcess } from "multiproc";
 * console.log(parentProcess()); // null in the main process
 * ```
 */
export function parentProcess(): Process | null {
  const parent = state().parent;
  return parent ? makeView(parent.name, parent.pid, false) : null;
}

/**
 * The children of this process that are still running.
 *
 * @returns The live children, in start order.
 * @example
 * ```ts
 * import { activeChildren } from "multiproc";
 * console.log(activeChildren().length); // 0
 * ```
 */
export function activeChildren(): Process[] {
  return [...active].filter((p) => p.isAlive());
}
