// The examples in the API docs type-check (`deno check --doc`) and run
// (`deno test --doc`) over mod.ts and lib/,
// every one of them (none is marked `ignore`). Doc tests are Deno's tool,
// so this runs under Deno only, and once (deno/process: the examples start
// real processes there); elsewhere it says so and skips.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, runtimeName, startMethod, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
// The examples take ~1.5 min (each is a module of its own), so they run
// once, in the deno/process configuration, where they start real processes.
const skip = runtimeName === "deno" && startMethod === "process"
  ? false
  : "doc examples run with `deno test --doc`, once, under deno/process";

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sources(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

test("no doc example is left out of the doc tests", () => {
  const ignored = [join(root, "mod.ts"), ...sources(join(root, "lib"))]
    .filter((file) => /```ts ignore/.test(readFileSync(file, "utf8")))
    .map((file) => file.slice(root.length));
  assertEquals(ignored, []);
});

// Runs deno with `args` in the project; a failure throws with `what`
// and what deno printed (`pick`: the lines of stdout worth showing).
function deno(args: string[], what: string, pick = (stdout: string) => stdout): string {
  try {
    return execFileSync(join(root, "node_modules", ".bin", "deno"), args, {
      cwd: root,
      encoding: "utf8",
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 300_000,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`${what} failed:\n${pick(e.stdout ?? "")}\n${e.stderr ?? ""}`);
  }
}

test("deno test --doc: every example in the API docs type-checks and runs", () => {
  // (checked in one program: `deno test --doc` checking each example on
  // its own took ~15 s more of the ~70)
  deno(["check", "--doc", "--quiet", "mod.ts", "lib/"], "deno check --doc");
  const out = deno(
    ["test", "--doc", "--no-check", "-A", "--quiet", "mod.ts", "lib/"],
    "deno test --doc",
    (stdout) => stdout.split("\n").filter((l) => /FAILED|error/i.test(l)).join("\n"),
  );
  const summary = /ok \| (\d+) passed \| (\d+) failed/.exec(out);
  assert(summary !== null, `no summary in:\n${out.slice(-500)}`);
  assertEquals(Number(summary![2]), 0);
  assert(Number(summary![1]) >= 140, `only ${summary![1]} examples ran`);
}, { skip, timeout: 300_000 });
