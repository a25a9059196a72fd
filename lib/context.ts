// Start methods and contexts, as Python's multiprocessing.get_context().
import { state } from "./state.ts";
import { getHost } from "./runtime/host.ts";
import { detectRuntime } from "./runtime/detect.ts";
import type { RuntimeName, StartMethod } from "./runtime/types.ts";

export type { RuntimeName, StartMethod };

/**
 * The runtime this program runs on: `"node"`, `"deno"` or `"bun"`.
 *
 * @example
 * ```ts
 * import { runtime } from "multiproc";
 * console.log(["node", "deno", "bun"].includes(runtime)); // true
 * ```
 */
export const runtime: RuntimeName = detectRuntime();

const METHODS: readonly StartMethod[] = ["process", "thread"];

function defaultMethod(): StartMethod {
  return runtime === "node" ? "process" : "thread";
}

/** Checks a start method name, with a message that lists the valid ones. */
export function checkStartMethod(method: unknown, what: string): StartMethod {
  if (method === "process" || method === "thread") return method;
  throw new TypeError(
    `Cannot ${what}: unknown start method ${JSON.stringify(method)}; use "process" or "thread"`,
  );
}

function envMethod(): StartMethod | undefined {
  const value = getHost().env("MULTIPROC_START_METHOD");
  if (value === undefined || value === "") return undefined;
  return checkStartMethod(value, "read MULTIPROC_START_METHOD");
}

/**
 * The start method new Processes and Pools use: the one given to
 * setStartMethod, else `MULTIPROC_START_METHOD`, else `"process"` on Node
 * and `"thread"` on Deno and on Bun; a child inherits its parent's.
 *
 * @returns `"process"` or `"thread"`.
 * @example
 * ```ts
 * import { getStartMethod } from "multiproc";
 * console.log(["process", "thread"].includes(getStartMethod())); // true
 * ```
 */
export function getStartMethod(): StartMethod {
  const s = state();
  return s.startMethod ?? s.childMethod ?? envMethod() ?? defaultMethod();
}

/**
 * Sets the default start method, once, as Python's `set_start_method`.
 *
 * @param method `"process"` or `"thread"`.
 * @param options `force: true` to change it again.
 * @throws {TypeError} for an unknown method.
 * @throws {Error} when it was already set and `force` is not given.
 * @example
 * ```ts
 * import { getStartMethod, setStartMethod } from "multiproc";
 * setStartMethod("thread", { force: true });
 * console.log(getStartMethod()); // "thread"
 * ```
 */
export function setStartMethod(method: StartMethod, options: { force?: boolean } = {}): void {
  const checked = checkStartMethod(method, "set the start method");
  const s = state();
  if (s.startMethod !== null && s.startMethod !== checked && !options.force) {
    throw new Error(
      `Cannot set the start method to "${checked}": it is already "${s.startMethod}"; ` +
        `pass { force: true } to change it`,
    );
  }
  s.startMethod = checked;
}

/**
 * Every start method, the default first (Python's `get_all_start_methods`).
 *
 * @returns `["process", "thread"]` on Node, `["thread", "process"]` on Deno and on Bun (default first).
 * @example
 * ```ts
 * import { getAllStartMethods } from "multiproc";
 * console.log(getAllStartMethods().length); // 2
 * ```
 */
export function getAllStartMethods(): StartMethod[] {
  const first = defaultMethod();
  return [first, ...METHODS.filter((m) => m !== first)];
}

/**
 * The number of CPUs this process may use (Python's `cpu_count`).
 *
 * @returns A positive integer.
 * @example
 * ```ts
 * import { cpuCount } from "multiproc";
 * console.log(cpuCount() >= 1); // true
 * ```
 */
export function cpuCount(): number {
  return getHost().cpuCount();
}

/**
 * The `if __name__ == "__main__":` guard. True only in the program's entry
 * module of the top process; false in every child, where the main module is
 * imported only to find the functions it exports.
 *
 * @param meta The calling module's `import.meta`.
 * @returns Whether this module is the program's entry point.
 * @example
 * ```ts
 * import { isMain } from "multiproc";
 * if (isMain(import.meta)) console.log("started directly");
 * ```
 */
export function isMain(meta: ImportMeta): boolean {
  if (state().isChild) return false;
  const main = (meta as { main?: unknown }).main;
  if (typeof main === "boolean") return main;
  return meta.url === getHost().mainModuleUrl();
}

// Classes made by getContext() (ctx.Process, ctx.Pool), and the start method each uses.
const boundClasses = new WeakMap<Function, StartMethod>();

/** A subclass of `Base`, named like it, whose instances always use `method` (for getContext). */
export function bindStartMethod<C extends abstract new (...args: never[]) => object>(Base: C, method: StartMethod): C {
  const Bound = class extends (Base as unknown as new (...args: unknown[]) => object) {};
  Object.defineProperty(Bound, "name", { value: Base.name });
  boundClasses.set(Bound, method);
  return Bound as unknown as C;
}

/** The start method an instance of `cls` uses: its bound one, else the default. */
export function startMethodOf(cls: Function): StartMethod {
  return boundClasses.get(cls) ?? getStartMethod();
}
