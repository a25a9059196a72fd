// Five processes, each printing its number.
//
// Ports the first example (worker) of seed 003 of the Python tutorials. As
// in Python, the children are not joined: non-daemon children keep the
// program alive until they end. They run at the same time, so the order of
// the lines varies from run to run.
//
// Run it:
//   npx tsx examples/worker_numbers.ts
//   deno run -A examples/worker_numbers.ts
//   bun run examples/worker_numbers.ts
import { isMain, Process } from "../mod.ts";

/** Worker function. */
export function worker(num: number): void {
  console.log(`Worker: ${num}`);
}

if (isMain(import.meta)) {
  const jobs: Process[] = [];
  for (let i = 0; i < 5; i++) {
    const p = new Process({ target: worker, args: [i] });
    jobs.push(p);
    p.start();
  }
}
