// No orphans: a child process must die within a second of its parent, even
// when its main thread is stuck in a CPU loop or holds timers. The IPC
// "disconnect" event covers an idle main thread; for a busy one, a tiny
// watchdog thread polls the parent pid (re-parenting changes it) and kills
// this process from the side. It is plain CommonJS given as eval code so
// that it starts without tsx or type stripping, on Node, Deno and Bun.
import { Worker } from "node:worker_threads";

const WATCHDOG_SOURCE = `
const { workerData } = require("node:worker_threads");
const process = require("node:process");
setInterval(() => {
  if (process.ppid !== workerData.ppid) process.kill(process.pid, "SIGKILL");
}, workerData.interval);
`;

/**
 * Starts the watchdog thread for a child process whose parent is `ppid`.
 * Resolves once it runs: a Node worker only starts while the main thread's
 * event loop turns, so the target must not start before this resolves.
 */
export function startWatchdog(ppid: number, interval = 100): Promise<void> {
  // execArgv: [] so that it does not load the parent's loaders (tsx costs
  // ~50 ms per thread on Node 20): it is plain CommonJS.
  const worker = new Worker(WATCHDOG_SOURCE, { eval: true, execArgv: [], workerData: { ppid, interval } });
  worker.unref();
  return new Promise((resolve) => {
    worker.once("online", () => resolve());
    // Without a watchdog the disconnect handler still covers most cases;
    // never let its failure stop the child.
    worker.once("error", () => resolve());
  });
}
