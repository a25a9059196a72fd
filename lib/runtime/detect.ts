// Which runtime is this? Deno and Bun both also report a Node version, so
// look for their own globals first (Deno, then Bun), and only then assume Node.
import type { RuntimeName } from "./types.ts";

/** Detects the runtime from its globals, without importing anything. */
export function detectRuntime(): RuntimeName {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (typeof g.Deno === "object" && g.Deno !== null) return "deno";
  if (typeof g.Bun === "object" && g.Bun !== null) return "bun";
  return "node";
}
