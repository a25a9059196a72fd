// Raw baseline worker for bench/spawn.bench.ts: a node:worker_threads Worker
// (the mechanism multiproc's "thread" start method uses on every runtime)
// that posts one message to its parent and ends.
import { parentPort } from "node:worker_threads";

parentPort.postMessage({ ready: true });
