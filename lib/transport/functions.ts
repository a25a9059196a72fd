// How a function reaches a child. Python pickles functions by reference
// (module + name) and the child imports the module. We do the same for
// main-module exports and task() registrations, and also send
// self-contained functions (no free variables) by source, which Python
// cannot. The parent never imports the user's main module: a dynamic import
// of a module still in top-level await deadlocks or crashes on every runtime.
import { state } from "../state.ts";
import { getHost } from "../runtime/host.ts";
import { hashString } from "./hash.ts";
import { freeVariables, functionExpressionSource } from "./freevars.ts";

/** A function as it travels to a child. */
export type FunctionRef =
  | { readonly type: "source"; readonly name: string; readonly source: string }
  | { readonly type: "main"; readonly url: string; readonly name: string; readonly hash: string }
  | { readonly type: "task"; readonly url: string; readonly index: number; readonly name: string; readonly hash: string };

/**
 * Makes a function of any module referable by a child: the child imports
 * `moduleUrl` and picks the same function. Call it at the top level of the
 * module that defines the function; it returns `fn` itself.
 *
 * @typeParam F The function's type, kept as is.
 * @param moduleUrl The defining module's `import.meta.url`.
 * @param fn The function to register.
 * @returns `fn`, unchanged, still callable here.
 *
 * @example Use a helper-calling function from a library module
 * ```ts
 * import { task } from "multiproc";
 * const scale = 3;
 * export const triple = task(import.meta.url, (x: number) => x * scale);
 * ```
 */
export function task<F extends (...args: never[]) => unknown>(moduleUrl: string, fn: F): F {
  if (typeof moduleUrl !== "string" || !/^[a-z][a-z0-9+.-]*:/i.test(moduleUrl)) {
    throw new TypeError(`Cannot register a task: moduleUrl must be import.meta.url, got ${JSON.stringify(moduleUrl)}`);
  }
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot register a task: fn must be a function, got ${typeof fn}`);
  }
  const s = state();
  const list = s.tasksByUrl.get(moduleUrl) ?? [];
  s.tasksByUrl.set(moduleUrl, list);
  if (!s.taskRefs.has(fn)) {
    s.taskRefs.set(fn, { url: moduleUrl, index: list.length });
    list.push(fn);
  }
  return fn;
}

const isGlobal = (name: string): boolean => name in globalThis;

function quoteList(names: string[]): string {
  const q = names.slice(0, 5).map((n) => `"${n}"`);
  return (q.length > 1 ? `${q.slice(0, -1).join(", ")} and ${q[q.length - 1]}` : q[0]) +
    (names.length > 5 ? ` (and ${names.length - 5} more)` : "");
}

function exportsName(source: string, name: string): boolean {
  const n = name.replace(/\$/g, "\\$");
  return new RegExp(`export\\s+(?:default\\s+)?(?:async\\s+)?function\\s*\\*?\\s*${n}\\s*[(<]`).test(source) ||
    new RegExp(`export\\s+(?:const|let|var)\\s+${n}\\b`).test(source) ||
    new RegExp(`export\\s*\\{[^}]*\\b${n}\\b[^}]*\\}`).test(source);
}

/**
 * Decides how `fn` will reach a child, or throws a TypeError that names the
 * function, what ties it to this process, and the fix. `role` words the
 * message ("target", "pool function").
 */
export function resolveFunction(fn: unknown, role: string): FunctionRef {
  if (typeof fn !== "function") {
    throw new TypeError(`Cannot use ${role}: expected a function, got ${fn === null ? "null" : typeof fn}`);
  }
  const name = fn.name || "anonymous function";
  const s = state();
  const reg = s.taskRefs.get(fn);
  if (reg) return { type: "task", url: reg.url, index: reg.index, name, hash: hashString(fn.toString()) };
  const text = fn.toString();
  const source = functionExpressionSource(text);
  if (source === null) {
    throw new TypeError(
      `Cannot send ${role} "${name}" to a child: it is a class, accessor, bound or native function. ` +
        `Pass a plain function (function, arrow or method) instead.`,
    );
  }
  let free: string[];
  try {
    free = freeVariables(source, isGlobal);
  } catch {
    free = ["(unparsable source)"];
  }
  if (free.length === 0) return { type: "source", name, source };
  const mainUrl = s.mainUrl ?? getHost().mainModuleUrl();
  const mainText = mainUrl ? getHost().readTextFile(mainUrl) : undefined;
  if (mainUrl && fn.name && (mainText === undefined || exportsName(mainText, fn.name))) {
    return { type: "main", url: mainUrl, name: fn.name, hash: hashString(text) };
  }
  throw new TypeError(
    `Cannot send ${role} "${name}" to a child: it uses ${quoteList(free)} from the code around it` +
      (fn.name ? `, and it is not exported from the main module${mainUrl ? ` (${mainUrl})` : ""}` : "") +
      `. Fix: export it from the main module, wrap it as task(import.meta.url, fn) at the top level of ` +
      `its module, or make it self-contained by passing those values in args.`,
  );
}

/** `__name` is what tsx (esbuild keepNames) calls inside function sources. */
function nameShim(target: Function, value: string): Function {
  return Object.defineProperty(target, "name", { value, configurable: true });
}

// Modules imported for a FunctionRef, for the synchronous lookup below.
const imported = new Map<string, Record<string, unknown>>();

async function importForRef(url: string): Promise<Record<string, unknown>> {
  const s = state();
  s.bootstrapping = true;
  try {
    const ns = await import(url) as Record<string, unknown>;
    imported.set(url, ns);
    return ns;
  } finally {
    s.bootstrapping = false;
  }
}

function mismatch(ref: FunctionRef, why: string): TypeError {
  return new TypeError(
    `Cannot find function "${ref.name}" in the child: ${why}. The parent and the child must load the same ` +
      `source; call task() at the top level of the module, not in a branch or loop.`,
  );
}

/**
 * Turns a FunctionRef back into a function without waiting: possible for a
 * self-contained function, and for one of a module this process has
 * already imported (for a task, or a Process target); null otherwise.
 */
export function loadFunctionNow(ref: FunctionRef): Function | null {
  if (ref.type === "source") return fromSource(ref);
  if (ref.type === "task") return state().tasksByUrl.get(ref.url)?.[ref.index] ? pick(ref, {}) : null;
  const ns = imported.get(ref.url);
  return ns ? pick(ref, ns) : null;
}

function fromSource(ref: { source: string }): Function {
  return new Function("__name", `"use strict";\nreturn (${ref.source});`)(nameShim) as Function;
}

/** Turns a FunctionRef back into a function, in the child. */
export async function loadFunction(ref: FunctionRef): Promise<Function> {
  if (ref.type === "source") return fromSource(ref);
  return pick(ref, await importForRef(ref.url));
}

// The function `ref` names, from its module's namespace `ns` (or the task registry).
function pick(ref: Exclude<FunctionRef, { type: "source" }>, ns: Record<string, unknown>): Function {
  if (ref.type === "task") {
    const fn = state().tasksByUrl.get(ref.url)?.[ref.index];
    if (!fn) throw mismatch(ref, `${ref.url} registered fewer task() functions than the parent saw`);
    if (hashString(fn.toString()) !== ref.hash) throw mismatch(ref, `task #${ref.index} of ${ref.url} has other source`);
    return fn;
  }
  const byName = ns[ref.name];
  if (typeof byName === "function" && hashString(byName.toString()) === ref.hash) return byName;
  for (const value of Object.values(ns)) {
    if (typeof value === "function" && hashString(value.toString()) === ref.hash) return value;
  }
  throw mismatch(ref, `the main module (${ref.url}) does not export it`);
}
