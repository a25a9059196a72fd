// The house rule that keeps multiproc one codebase for three runtimes: only
// lib/runtime and lib/child may touch node:*, Deno, Bun or `process`.
// Everything above the seam is checked here, comments aside. (Pure file
// reading: the same on every runtime and start method, and cheap.)
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { assertEquals, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

// Drops comments (and string contents, which may quote code in messages).
function code(text: string): string {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/(^|[^:])\/\/.*$/gm, "$1")
    .replace(/`(?:\\.|[^`\\])*`|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])*'/g, (s) => (s.startsWith('"node:') ? s : '""'));
}

const FORBIDDEN: Array<[RegExp, string]> = [
  [/from\s+"node:/, "imports node:*"],
  [/import\(\s*"node:/, "imports node:*"],
  [/\bDeno\s*\./, "uses Deno"],
  [/\bBun\s*\./, "uses Bun"],
  [/(^|[^.\w])process\s*\./m, "uses process"],
];

test("only lib/runtime and lib/child touch node:*, Deno, Bun or process", () => {
  const offenders: string[] = [];
  const files = [join(root, "mod.ts"), ...sources(join(root, "lib"))];
  for (const file of files) {
    const rel = relative(root, file).split("\\").join("/");
    if (rel.startsWith("lib/runtime/") || rel.startsWith("lib/child/")) continue;
    const text = code(readFileSync(file, "utf8"));
    for (const [pattern, what] of FORBIDDEN) if (pattern.test(text)) offenders.push(`${rel} ${what}`);
  }
  assertEquals(offenders, []);
});
