// A producer and a consumer sharing a Queue; the consumer takes items while
// the queue is not empty.
//
// Ports "Inter-Process Communication", seed 001 of the Python tutorials:
//   def producer(q):
//       for i in range(5):
//           q.put(i)
//           print("Produced", i)
//   def consumer(q):
//       while not q.empty():
//           item = q.get()
//           print("Consumed", item)
//   q = multiprocessing.Queue()
//   p1 = multiprocessing.Process(target=producer, args=(q,))
//   p2 = multiprocessing.Process(target=consumer, args=(q,))
//   p1.start(); p2.start(); p1.join(); p2.join()
// As in Python, the consumer starts at the same time as the producer and
// stops the first time it finds the queue empty: it may consume all five
// items, some of them, or none. `q.get()` waits, so it is awaited.
//
// Run it:
//   npx tsx examples/queue_empty.ts
//   deno run -A examples/queue_empty.ts
//   bun run examples/queue_empty.ts
import { isMain, Process, Queue } from "../mod.ts";

export async function producer(q: Queue<number>) {
  for (let i = 0; i < 5; i++) {
    await q.put(i);
    console.log("Produced", i);
  }
}

export async function consumer(q: Queue<number>) {
  while (!q.empty()) {
    const item = await q.get();
    console.log("Consumed", item);
  }
}

if (isMain(import.meta)) {
  const q = new Queue<number>();
  const p1 = new Process({ target: producer, args: [q] });
  const p2 = new Process({ target: consumer, args: [q] });
  p1.start();
  p2.start();
  await p1.join();
  await p2.join();
}
