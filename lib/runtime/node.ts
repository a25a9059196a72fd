// Node: children are `node [execArgv] bootstrap`, so a parent under tsx
// starts its children under tsx too. Worker threads are the exception: tsx
// skips registering its loader in workers before Node 22.22.3 / 24.11.1, so
// there the worker starts from a tiny module that registers tsx first.
import process from "node:process";
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { RuntimeSpecifics } from "./specifics.ts";

// Flags that would make every child fight over one port or run other code.
const DROPPED_FLAGS = /^--(inspect|debug|prof|cpu-prof|heap-prof|eval|print|test)/;

function childExecArgv(): string[] {
  const out: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    if (DROPPED_FLAGS.test(argv[i])) continue;
    if (argv[i] === "-e" || argv[i] === "-p") {
      i++; // the code that follows is the parent's, not the child's
      continue;
    }
    out.push(argv[i]);
  }
  return out;
}

function isTsxFlag(arg: string): boolean {
  return arg === "tsx" || arg === "tsx/esm" || /[\\/]tsx[\\/]dist[\\/]/.test(arg);
}

// Set by the thread entry below, whose execArgv no longer names tsx, so that
// a thread can start threads of its own.
const TSX_API = Symbol.for("multiproc.tsxApi");

/** The URL of tsx's register API when this process runs under tsx. */
export function tsxApiUrl(): string | undefined {
  const known = (globalThis as { [TSX_API]?: string })[TSX_API];
  if (known) return known;
  for (const arg of process.execArgv) {
    const m = /^(?:file:\/\/)?(.*[\\/]tsx[\\/]dist)[\\/](?:loader\.mjs|preflight\.cjs)$/.exec(arg);
    if (m) return pathToFileURL(m[1] + "/esm/api/index.mjs").href;
    if (arg === "tsx" || arg === "tsx/esm") {
      try {
        return import.meta.resolve("tsx/esm/api");
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

function tsxRegistersInWorkers(): boolean {
  const [major, minor, patch] = process.versions.node.split(".").map(Number);
  const at = (mi: number, pa: number) => minor > mi || (minor === mi && patch >= pa);
  if (major === 22) return at(22, 3);
  if (major === 24) return at(11, 1);
  return major > 24;
}

/** Node's part of the seam. */
export const nodeSpecifics: RuntimeSpecifics = {
  processCommand(bootstrapPath) {
    return { command: process.execPath, args: [...childExecArgv(), bootstrapPath] };
  },
  threadEntry(bootstrapUrl) {
    const api = tsxApiUrl();
    if (api === undefined || tsxRegistersInWorkers()) return { entry: bootstrapUrl };
    const code = `import { register } from ${JSON.stringify(api)};\n` +
      `globalThis[Symbol.for("multiproc.tsxApi")] = ${JSON.stringify(api)};\n` +
      `register();\nawait import(${JSON.stringify(bootstrapUrl.href)});\n`;
    // The entry registers tsx itself; inheriting the parent's `--import tsx`
    // as well would load it twice (~35 ms per thread).
    return {
      entry: new URL("data:text/javascript," + encodeURIComponent(code)),
      execArgv: childExecArgv().filter((arg, i, all) => !isTsxFlag(arg) && !isTsxFlag(all[i + 1] ?? "")),
    };
  },
  mainModuleUrl() {
    const entry = process.argv[1];
    if (entry === undefined || entry === "") return undefined;
    try {
      return pathToFileURL(realpathSync(resolve(entry))).href;
    } catch {
      return pathToFileURL(resolve(entry)).href;
    }
  },
};
