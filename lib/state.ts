// Per-process state, kept on globalThis under a registered symbol: a program
// that ends up with two copies of multiproc (say one from node_modules and
// one from a path import) still sees one current process, one registry of
// task() functions and one set of children.
import type { StartMethod } from "./runtime/types.ts";

/** Who this process (or worker thread) is. */
export interface Identity {
  name: string;
  /** Python's `_identity`: [] for the main process, [2] for Process-2, [2, 1] for its first child. */
  identity: number[];
  daemon: boolean;
}

/** The shared state of multiproc in this process or thread. */
export interface State {
  /** This process's identity; the main process is `MainProcess`. */
  self: Identity;
  /** The parent's name and pid, when this is a child. */
  parent: { name: string; pid: number } | null;
  /** True inside a child or worker started by multiproc. */
  isChild: boolean;
  /** The start method this child was started with. */
  childMethod: StartMethod | null;
  /** True while a child imports the main module (Python's bootstrapping phase). */
  bootstrapping: boolean;
  /** The entry module of the top program, known in every descendant. */
  mainUrl: string | undefined;
  /** The start method chosen with setStartMethod, if any. */
  startMethod: StartMethod | null;
  /** How many children this process has started, for names and identities. */
  childCounter: number;
  /** task() registrations: per module URL, in call order. */
  tasksByUrl: Map<string, Function[]>;
  /** task() registrations: function to where it was registered. */
  taskRefs: WeakMap<Function, { url: string; index: number }>;
}

const KEY = Symbol.for("multiproc.state.v1");

/** This process's (or thread's) multiproc state. */
export function state(): State {
  const g = globalThis as unknown as { [KEY]?: State };
  return (g[KEY] ??= {
    self: { name: "MainProcess", identity: [], daemon: false },
    parent: null,
    isChild: false,
    childMethod: null,
    bootstrapping: false,
    mainUrl: undefined,
    startMethod: null,
    childCounter: 0,
    tasksByUrl: new Map(),
    taskRefs: new WeakMap(),
  });
}
