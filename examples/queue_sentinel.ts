// A producer and a consumer sharing a Queue; the parent tells the consumer
// to stop with a sentinel once the producer is done.
//
// Ports "Queue", seed 002 of the Python tutorials:
//   def producer(q):
//       for i in range(5):
//           q.put(i)
//           print(f"Produced {i}")
//   def consumer(q):
//       while True:
//           item = q.get()
//           if item is None:  # Termination signal
//               break
//           print(f"Consumed {item}")
//   q = Queue()
//   procs = [Process(target=producer, args=(q,)), Process(target=consumer, args=(q,))]
//   for p in procs: p.start()
//   procs[0].join()   # Wait for producer to finish
//   q.put(None)       # Send termination signal
//   procs[1].join()
// Python's None is null here.
//
// Run it:
//   npx tsx examples/queue_sentinel.ts
//   deno run -A examples/queue_sentinel.ts
//   bun run examples/queue_sentinel.ts
import { isMain, Process, Queue } from "../mod.ts";

export async function producer(q: Queue<number | null>) {
  for (let i = 0; i < 5; i++) {
    await q.put(i);
    console.log(`Produced ${i}`);
  }
}

export async function consumer(q: Queue<number | null>) {
  while (true) {
    const item = await q.get();
    if (item === null) break; // Termination signal
    console.log(`Consumed ${item}`);
  }
}

if (isMain(import.meta)) {
  const q = new Queue<number | null>();
  const procs = [
    new Process({ target: producer, args: [q] }),
    new Process({ target: consumer, args: [q] }),
  ];
  for (const p of procs) p.start();
  await procs[0].join(); // Wait for producer to finish
  await q.put(null); // Send termination signal
  await procs[1].join();
}
