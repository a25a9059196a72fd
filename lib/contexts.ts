// getContext(): the constructors of one start method, as Python's contexts.
import { activeChildren, currentProcess, parentProcess, Process } from "./process.ts";
import { Pool } from "./pool.ts";
import { bindStartMethod, checkStartMethod, cpuCount, getStartMethod, type StartMethod } from "./context.ts";

/**
 * A start method's constructors and helpers (Python's context object).
 * `ctx.Process` always starts children with `ctx.startMethod`.
 *
 * @example
 * ```ts
 * import { type Context, getContext } from "multiproc";
 * const ctx: Context = getContext("process");
 * console.log(ctx.getStartMethod()); // "process"
 * ```
 */
export interface Context {
  /** The start method this context uses. */
  readonly startMethod: StartMethod;
  /** Process, bound to this context's start method. */
  readonly Process: typeof Process;
  /** Pool, bound to this context's start method. */
  readonly Pool: typeof Pool;
  /** This context's start method (Python's `ctx.get_start_method()`). */
  getStartMethod(): StartMethod;
  /** See the module-level function of the same name. */
  cpuCount(): number;
  /** See the module-level function of the same name. */
  currentProcess(): Process;
  /** See the module-level function of the same name. */
  parentProcess(): Process | null;
  /** See the module-level function of the same name. */
  activeChildren(): Process[];
}

const contexts = new Map<StartMethod, Context>();

function makeContext(method: StartMethod): Context {
  return Object.freeze({
    startMethod: method,
    Process: bindStartMethod(Process, method),
    Pool: bindStartMethod(Pool, method),
    getStartMethod: () => method,
    cpuCount,
    currentProcess,
    parentProcess,
    activeChildren,
  });
}

/**
 * The context of a start method: `getContext("thread").Process` starts
 * worker threads whatever the default is. Without a name, the default's.
 *
 * @param method `"process"` or `"thread"`. @default getStartMethod()
 * @returns The context, the same object on every call.
 * @throws {TypeError} for an unknown start method.
 * @example
 * ```ts
 * import { getContext } from "multiproc";
 * const ctx = getContext("thread");
 * console.log(ctx.startMethod); // "thread"
 * ```
 */
export function getContext(method?: StartMethod): Context {
  const m = method === undefined ? getStartMethod() : checkStartMethod(method, "get a context");
  let ctx = contexts.get(m);
  if (!ctx) contexts.set(m, ctx = makeContext(m));
  return ctx;
}
