// A sender and a receiver at the two ends of a Pipe.
//
// Ports "Pipe", seed 002 of the Python tutorials:
//   def sender(conn):
//       conn.send("Hello from sender!")
//       conn.close()
//   def receiver(conn):
//       msg = conn.recv()
//       print(f"Received message: {msg}")
//       conn.close()
//   parent_conn, child_conn = Pipe()
//   p1 = Process(target=sender, args=(child_conn,))
//   p2 = Process(target=receiver, args=(parent_conn,))
//   p1.start(); p2.start(); p1.join(); p2.join()
// `send` and `close` do not wait; `recv` does, so it is awaited.
//
// Run it:
//   npx tsx examples/pipe.ts
//   deno run -A examples/pipe.ts
//   bun run examples/pipe.ts
import { type Connection, isMain, Pipe, Process } from "../mod.ts";

export function sender(conn: Connection<string>) {
  conn.send("Hello from sender!");
  conn.close();
}

export async function receiver(conn: Connection<string>) {
  const msg = await conn.recv();
  console.log(`Received message: ${msg}`);
  conn.close();
}

if (isMain(import.meta)) {
  const [parentConn, childConn] = Pipe<string>();
  const p1 = new Process({ target: sender, args: [childConn] });
  const p2 = new Process({ target: receiver, args: [parentConn] });
  p1.start();
  p2.start();
  await p1.join();
  await p2.join();
}
