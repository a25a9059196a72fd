// Raw baseline for bench/queue.bench.ts: a bare child process that answers
// each IPC message with itself, no library in between. Plain JS, so that
// every runtime starts it without a TypeScript loader.
import process from "node:process";

process.on("message", (x) => process.send(x));
