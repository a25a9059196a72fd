// Raw baseline child for bench/spawn.bench.ts: the least a child process can
// do to be heard by its parent. It sends one message over the runtime's IPC
// channel (set up by the parent's `stdio: [..., "ipc"]`) and then lets go of
// the channel so that it exits on its own. Plain JS, no imports beyond
// node:process, so that every runtime starts it without a TypeScript loader.
import process from "node:process";

process.send({ ready: true }, () => process.disconnect());
