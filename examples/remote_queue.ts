// A queue served by one program and used from another, as Python's
// BaseManager examples do (`QueueManager.register('get_queue', ...)`,
// `m.get_server().serve_forever()` in one terminal, `m.connect()` in another).
//
// Two terminals:
//   npx tsx examples/remote_queue.ts serve 50000 secret        (serves until Ctrl-C)
//   npx tsx examples/remote_queue.ts put 50000 secret hello
//   npx tsx examples/remote_queue.ts get 50000 secret          (prints hello)
//
// One terminal: `npx tsx examples/remote_queue.ts` serves on a free port and
// starts a second process that connects with the address and the key
// alone, puts three jobs and takes them back.
// (deno run -A examples/remote_queue.ts ..., bun run examples/remote_queue.ts ...)
import process from "node:process";
import { isMain, Manager, Process, type QueueProxy } from "../mod.ts";

/** A client that knows only where the manager is and its key. */
export async function client(port: number, authkey: string): Promise<void> {
  const remote = await Manager.connect({ host: "127.0.0.1", port }, authkey);
  const jobs = await remote.get("jobs") as QueueProxy<string>;
  for (const job of ["one", "two", "three"]) await jobs.put(job);
  for (let i = 0; i < 3; i++) console.log(`got ${await jobs.get()}`);
}

if (isMain(import.meta)) {
  const [role, port = "50000", authkey = "secret", ...words] = process.argv.slice(2);
  if (role === "serve") {
    const manager = await Manager.start({ address: { port: Number(port) }, authkey });
    await manager.register("jobs", manager.Queue<string>());
    console.log(`serving a queue at ${manager.address.host}:${manager.address.port} (Ctrl-C to stop)`);
    const alive = setInterval(() => {}, 60_000); // (serving is not, by itself, something to wait for)
    await new Promise<void>((resolve) => process.once("SIGINT", resolve));
    clearInterval(alive);
    await manager.shutdown();
  } else if (role === "put" || role === "get") {
    const remote = await Manager.connect({ host: "127.0.0.1", port: Number(port) }, authkey);
    const jobs = await remote.get("jobs") as QueueProxy<string>;
    if (role === "put") await jobs.put(words.join(" "));
    else console.log(await jobs.get());
  } else {
    await using manager = await Manager.start({ authkey: "secret" });
    await manager.register("jobs", manager.Queue<string>());
    const p = new Process({ target: client, args: [manager.address.port, "secret"] });
    p.start();
    await p.join();
    console.log(`client exited with ${p.exitCode}`);
  }
}
