// Runs every program in examples/ (except the demo) as its own OS process, on
// the runtime and start method of this run, and compares what it prints with
// what the Python seed it ports prints. Where Python's order depends on
// scheduling the lines are compared sorted; where the program forces an order
// (within one child, after a join) it is checked exactly.
import type { ChildProcess } from "node:child_process";
import { assert, assertEquals, test } from "./harness.ts";
import { startFixture } from "./fixtures/run.ts";

interface ExampleRun {
  code: number | null;
  signal: string | null;
  lines: string[];
  stderr: string;
  ms: number;
}

// A run that is still going after this long is ended and reported: no
// example takes more than a few seconds (ten on a loaded 2-core machine),
// so this only turns a hang into a failure that says so (it never decides
// a passing run).
const HANG_MS = 60_000;

/** Runs examples/<name>.ts to its end and collects its stdout lines. */
function runExample(name: string): Promise<ExampleRun> {
  const started = performance.now();
  const child: ChildProcess = startFixture(new URL(`../examples/${name}.ts`, import.meta.url));
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (d: string) => (stdout += d));
  child.stderr!.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const hang = setTimeout(() => child.kill("SIGKILL"), HANG_MS);
  return new Promise((resolve, reject) => {
    child.once("error", (e) => {
      clearTimeout(hang);
      reject(e);
    });
    child.once("close", (code: number | null, signal: string | null) => {
      clearTimeout(hang);
      const lines = stdout === "" ? [] : stdout.replace(/\n$/, "").split("\n");
      resolve({ code, signal, lines, stderr, ms: performance.now() - started });
    });
  });
}

/** Asserts a clean exit: code 0, no signal, nothing on stderr. */
function assertClean(r: ExampleRun): void {
  const output = `\nstdout:\n${r.lines.join("\n")}\nstderr:\n${r.stderr}`;
  assertEquals(r.signal, null, `ended by a signal after ${Math.round(r.ms)} ms${output}`);
  assertEquals(r.code, 0, `exit code${output}`);
  assertEquals(r.stderr, "", "stderr");
}

const sorted = (lines: string[]) => [...lines].sort();

test("square_numbers.ts: two processes print their squares, then 'All processes finished.'", async () => {
  const r = await runExample("square_numbers");
  assertClean(r);
  const squares = (id: number) => [1, 2, 3, 4, 5].map((i) => `Process ${id}: ${i} squared = ${i * i}`);
  assertEquals(r.lines.length, 11, r.lines.join("\n"));
  // Each child prints its own lines in order; the two children interleave freely.
  assertEquals(r.lines.filter((l) => l.startsWith("Process 1:")), squares(1));
  assertEquals(r.lines.filter((l) => l.startsWith("Process 2:")), squares(2));
  // Both joins precede the last line.
  assertEquals(r.lines[10], "All processes finished.");
});

test("print_numbers.ts: one process prints 0 to 9 in order", async () => {
  const r = await runExample("print_numbers");
  assertClean(r);
  assertEquals(r.lines, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
});

test("worker_numbers.ts: five unjoined processes all print 'Worker: N'", async () => {
  const r = await runExample("worker_numbers");
  assertClean(r);
  assertEquals(sorted(r.lines), [0, 1, 2, 3, 4].map((n) => `Worker: ${n}`));
});

test("named_workers.ts: four named processes each print their own name", async () => {
  const r = await runExample("named_workers");
  assertClean(r);
  assertEquals(sorted(r.lines), [0, 1, 2, 3].map((n) => `Child process worker-${n} is running`));
});

test("daemon.ts: the main prints and exits at once, ending its daemon child", async () => {
  const r = await runExample("daemon");
  assertClean(r);
  assertEquals(r.lines.filter((l) => l === "Main process exiting").length, 1, r.lines.join("\n"));
  // As in Python, the daemon may get to print once before it is ended; it
  // prints every 2 s, so a second line would mean the main waited for it.
  const background = r.lines.filter((l) => l !== "Main process exiting");
  assert(background.every((l) => l === "Running in the background"), `unexpected output: ${r.lines.join("\n")}`);
  assert(background.length <= 1, `the daemon ran for ${background.length} rounds:\n${r.lines.join("\n")}`);
  // The daemon loops forever: that the program finished at all (no signal,
  // checked above) says it was ended.
});

test("pool_squares.ts: Pool(4).map prints the squares of 0..9 as Python does", async () => {
  const r = await runExample("pool_squares");
  assertClean(r);
  assertEquals(r.lines, ["[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]"]);
});

test("pool_cubes.ts: Pool(4).map prints the cubes of 0..9 as Python does", async () => {
  const r = await runExample("pool_cubes");
  assertClean(r);
  assertEquals(r.lines, ["[0, 1, 8, 27, 64, 125, 216, 343, 512, 729]"]);
});

test("pool_tour.ts: map, applyAsync(...).get(2000) and imap print what Python prints, in order", async () => {
  const r = await runExample("pool_tour");
  assertClean(r);
  assertEquals(r.lines, ["[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]", "400", "0", "1", "4", "9", "16"]);
}, { timeout: 30_000 });

const numbered = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

test("queue_empty.ts: five items produced in order; the consumer takes a prefix of them, as Python's may", async () => {
  const r = await runExample("queue_empty");
  assertClean(r);
  assertEquals(r.lines.filter((l) => l.startsWith("Produced")), numbered("Produced", 5));
  const consumed = r.lines.filter((l) => l.startsWith("Consumed"));
  assertEquals(consumed, numbered("Consumed", consumed.length), "FIFO, from the first item");
  assertEquals(r.lines.length, 5 + consumed.length, r.lines.join("\n"));
});

test("queue_sentinel.ts: five produced, five consumed, each side in order; a null stops the consumer", async () => {
  const r = await runExample("queue_sentinel");
  assertClean(r);
  assertEquals(r.lines.filter((l) => l.startsWith("Produced")), numbered("Produced", 5));
  assertEquals(r.lines.filter((l) => l.startsWith("Consumed")), numbered("Consumed", 5));
  assertEquals(r.lines.length, 10, r.lines.join("\n"));
});

test("manager_dict_list.ts: four workers write into a manager's dict and list (Process-2..5, as in Python)", async () => {
  const r = await runExample("manager_dict_list");
  assertClean(r);
  assertEquals(r.lines.length, 2, r.lines.join("\n"));
  const names = [...r.lines[0].matchAll(/'(Process-\d+)': 'value'/g)].map((m) => m[1]).sort();
  assertEquals(names, ["Process-2", "Process-3", "Process-4", "Process-5"]);
  assert(/^\{('Process-\d': 'value'(, )?){4}\}$/.test(r.lines[0]), r.lines[0]);
  assert(/^\[\d+(, \d+){3}\]$/.test(r.lines[1]), r.lines[1]);
});

test("remote_queue.ts: a second process connects with the address and key alone, puts three jobs, takes them back", async () => {
  const r = await runExample("remote_queue");
  assertClean(r);
  assertEquals(r.lines, ["got one", "got two", "got three", "client exited with 0"]);
});

test("pipe.ts: the receiver prints what the sender sent", async () => {
  const r = await runExample("pipe");
  assertClean(r);
  assertEquals(r.lines, ["Received message: Hello from sender!"]);
});

test("shared_value_array.ts: the child's increment and doubling are seen by the parent", async () => {
  const r = await runExample("shared_value_array");
  assertClean(r);
  assertEquals(r.lines, ["1", "[2.0, 4.0, 6.0]"]);
});

test("shared_counter.ts: ten processes add one each under the Value's lock", async () => {
  const r = await runExample("shared_counter");
  assertClean(r);
  assertEquals(r.lines, ["10"]);
}, { timeout: 30_000 });

test("process_counter.ts: four processes count themselves", async () => {
  const r = await runExample("process_counter");
  assertClean(r);
  assertEquals(r.lines, ["Total number of processes: 4"]);
});

test("lock_printer.ts: four processes print one at a time, each its own item", async () => {
  const r = await runExample("lock_printer");
  assertClean(r);
  assertEquals(sorted(r.lines), ["A", "B", "C", "D"].map((item, i) => `Process Process-${i + 1} prints: ${item}`));
});
