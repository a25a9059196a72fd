// Raw ceiling for bench/pool.bench.ts: a bare worker thread that answers
// each message with itself, one message per task, no library in between.
import { parentPort } from "node:worker_threads";

parentPort.on("message", (x) => parentPort.postMessage(x));
