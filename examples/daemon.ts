// A daemon process working in the background, ended when the main exits.
//
// Ports "Daemon Processes" (background_task), seed 001 of the Python
// tutorials. The main process does not join: it prints and exits, and the
// daemon child is terminated with it, so the program ends at once. Whether
// the child gets to print its first line before that is a race, as in Python.
//
// Run it:
//   npx tsx examples/daemon.ts
//   deno run -A examples/daemon.ts
//   bun run examples/daemon.ts
import { isMain, Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs forever, reporting every 2 s. */
export async function backgroundTask(): Promise<never> {
  for (;;) {
    console.log("Running in the background");
    await sleep(2000);
  }
}

if (isMain(import.meta)) {
  const p = new Process({ target: backgroundTask });
  p.daemon = true;
  p.start();
  console.log("Main process exiting");
}
