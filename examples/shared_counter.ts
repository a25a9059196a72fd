// Ten processes each add one to a shared Value under its lock.
//
// Ports "Shared Memory", seed 001 of the Python tutorials:
//   def increment(shared_value):
//       with shared_value.get_lock():
//           shared_value.value += 1
//   shared_value = multiprocessing.Value('i', 0)
//   ... ten processes ...
//   print(shared_value.value)  # Should print 10
// `await lock.withLock(fn)` is Python's `with lock:` block.
//
// Run it:
//   npx tsx examples/shared_counter.ts
//   deno run -A examples/shared_counter.ts
//   bun run examples/shared_counter.ts
import { isMain, Process, Value } from "../mod.ts";

export async function increment(sharedValue: Value<"i">): Promise<void> {
  await sharedValue.getLock().withLock(() => { // synchronize access
    sharedValue.value += 1;
  });
}

if (isMain(import.meta)) {
  const sharedValue = new Value("i", 0);
  const processes = Array.from({ length: 10 }, () => new Process({ target: increment, args: [sharedValue] }));
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log(sharedValue.value); // Should print 10
}
