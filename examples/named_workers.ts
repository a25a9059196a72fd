// Four named processes, each printing its own name.
//
// Ports the first example (worker with current_process().name) of seed 002
// of the Python tutorials. The children run at the same time, so the order
// of the lines varies from run to run.
//
// Run it:
//   npx tsx examples/named_workers.ts
//   deno run -A examples/named_workers.ts
//   bun run examples/named_workers.ts
import { currentProcess, isMain, Process } from "../mod.ts";

/** Task executed by the child process. */
export function worker(): void {
  console.log(`Child process ${currentProcess().name} is running`);
}

if (isMain(import.meta)) {
  const processes: Process[] = [];
  for (let i = 0; i < 4; i++) {
    const p = new Process({ target: worker, name: `worker-${i}` });
    processes.push(p);
    p.start();
  }
  for (const p of processes) await p.join(); // wait for all child processes to finish
}
