// A short tour of multiproc, run by `npm run demo`: the runtime and its start
// methods, children under both start methods, exit codes, a pool, and timings.
//
// Run it: npx tsx examples/demo.ts | deno run -A examples/demo.ts | bun run examples/demo.ts
import process from "node:process";
import { cpuCount, currentProcess, getAllStartMethods, getContext, getStartMethod, isMain } from "../mod.ts";
import { parentProcess, Pool, Process, runtime, WorkerLostError } from "../mod.ts";

/** Says hello from the child, naming its parent. */
export function hello(): void {
  const me = currentProcess();
  console.log(`  ${me.name} (pid ${me.pid}) says hello to ${parentProcess()?.name}`);
}

/** Fails: the child prints the error to stderr, as a traceback, and exits with 1. */
export function fail(): void {
  throw new Error("this error is expected: it shows exitCode 1");
}

/** Never ends by itself: a child lives until its target's promise settles. */
export function runForever(): Promise<never> {
  return new Promise(() => setInterval(() => {}, 1000));
}

/** CPU-bound: counts the primes below n, the slow way. */
export function countPrimes(n: number): number {
  let count = 0;
  for (let k = 2; k < n; k++) {
    let prime = true;
    for (let d = 2; d * d <= k; d++) if (k % d === 0) (prime = false);
    if (prime) count++;
  }
  return count;
}

/** Ends its worker, as a crash would. */
export function crash(): never {
  process.exit(7);
}

/** Starts `p` and waits for it, at most `timeout` ms. */
async function run(p: Process, timeout?: number): Promise<Process> {
  p.start();
  await p.join(timeout);
  return p;
}

const since = (t: number) => `${(performance.now() - t).toFixed(0)} ms`;

if (isMain(import.meta)) {
  const t0 = performance.now();
  console.log(`multiproc on ${runtime} with ${cpuCount()} CPUs; start methods: ${getAllStartMethods().join(", ")}`);
  console.log(`default start method: "${getStartMethod()}" (MULTIPROC_START_METHOD overrides it)\n`);

  for (const method of getAllStartMethods()) {
    const ctx = getContext(method); // ctx.Process always uses this start method
    const t = performance.now();
    const children = [1, 2, 3].map((i) => new ctx.Process({ target: hello, name: `${method}-${i}` }));
    for (const p of children) p.start();
    for (const p of children) await p.join();
    console.log(`3 children under "${method}" started and joined in ${since(t)}\n`);
  }

  console.log("exit codes, as Python's exitcode:");
  const sum = (a: number, b: number) => console.log(`  an inline arrow ran in a child: ${a} + ${b} = ${a + b}`);
  const ok = await run(new Process({ target: sum, args: [2, 3] }));
  console.log(`  returned           -> exitCode ${ok.exitCode}`);
  const bad = await run(new Process({ target: fail }));
  console.log(`  threw an error     -> exitCode ${bad.exitCode} (its traceback went to stderr)`);
  const forever = await run(new Process({ target: runForever }), 200); // timeouts are in milliseconds
  console.log(`  after join(200)    -> exitCode ${forever.exitCode}, isAlive() ${forever.isAlive()}`);
  forever.terminate();
  await forever.join();
  console.log(`  after terminate()  -> exitCode ${forever.exitCode}`);

  console.log("\na pool of 2 workers:");
  {
    await using pool = new Pool(2);
    const inputs = Array(8).fill(150_000);
    countPrimes(inputs[0]); // warm up the JIT, so that the inline timing is fair
    let t = performance.now();
    inputs.map(countPrimes);
    const serial = performance.now() - t;
    t = performance.now();
    const counts = await pool.map(countPrimes, inputs, 1);
    const parallel = performance.now() - t;
    console.log(`  map(countPrimes) x8 -> ${counts[0]} primes each; ${serial.toFixed(0)} ms inline, ` +
      `${parallel.toFixed(0)} ms on the pool (${(serial / parallel).toFixed(2)}x)`);
    const error = await pool.apply(crash).catch((e) => e);
    console.log(`  a worker that dies  -> ${error instanceof WorkerLostError ? "WorkerLostError" : error}, exit code ${error.exitCode}`);
    console.log(`  and the pool goes on: ${await pool.apply((a: number, b: number) => a * b, [6, 7])}`);
  }
  console.log(`\ndone in ${since(t0)}`);
}
