// Raw baseline for bench/spawn.bench.ts on Deno and Bun: a web Worker
// (`new Worker(url, { type: "module" })`) that posts one message and closes.
self.postMessage({ ready: true });
self.close();
