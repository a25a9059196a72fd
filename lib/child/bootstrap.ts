// The entry of every child: a process started by ProcessChild or a worker
// thread started by ThreadChild. Deliberately tiny: a child process starts
// its no-orphans watchdog thread first, so that the thread boots while the
// rest of multiproc (run.ts and what it imports) loads, instead of after.
import process from "node:process";
import * as nodeModule from "node:module";
import { isMainThread, workerData } from "node:worker_threads";
import { startWatchdog } from "./watchdog.ts";

// Node (22.1 and later): V8's compile cache on disk, as Node recommends
// tools to turn on, so that a child compiles multiproc and the user's
// modules (and on Node 24 strips their types) once, not once per child:
// a Node 24 child loading multiproc from source took ~0.4 s, with the
// cache ~0.15 s. In the temp dir unless NODE_COMPILE_CACHE says where;
// NODE_DISABLE_COMPILE_CACHE=1 turns it off. (Not on Deno or Bun.)
if (!("Deno" in globalThis) && !("Bun" in globalThis)) {
  (nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
}

/** The same flag as CHILD_FLAG in lib/runtime/children.ts (not imported: it would load more). */
const CHILD_FLAG = "--multiproc-child";

if (!isMainThread && typeof workerData === "object" && workerData !== null && "kind" in workerData) {
  const { isInit, run } = await import("./run.ts");
  if (isInit(workerData)) await run(workerData);
} else if (process.argv.includes(CHILD_FLAG)) {
  // The parent may already be gone; and if it goes later while the main
  // thread is idle, the closing IPC channel says so at once.
  process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
  if (!process.connected) process.kill(process.pid, "SIGKILL");
  const first = new Promise<unknown>((resolve) => process.once("message", resolve));
  // The target must not start before the watchdog runs: a Node worker only
  // starts while the main thread's event loop turns.
  const [{ isInit, run }, init] = await Promise.all([import("./run.ts"), first, startWatchdog(process.ppid)]);
  if (!isInit(init)) throw new Error(`multiproc child: unexpected first message ${JSON.stringify(init)}`);
  await run(init);
}
