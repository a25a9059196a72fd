// A bare TCP echo server on loopback, in a process of its own: the raw
// channel bench/manager.bench.ts compares manager round trips with. Prints
// its port, then echoes whatever each connection sends.
import { createServer } from "node:net";
import process from "node:process";

const server = createServer((c) => {
  c.setNoDelay(true);
  c.on("data", (b) => c.write(b));
});
server.listen(0, "127.0.0.1", () => process.stdout.write(`${server.address().port}\n`));
