// Four processes count themselves in a shared Value.
//
// Ports seed 003 of the Python tutorials:
//   def count_process(shared_counter):
//       with shared_counter.get_lock():
//           shared_counter.value += 1
//   counter = multiprocessing.Value('i', 0)
//   ... four processes ...
//   print(f'Total number of processes: {counter.value}')
//
// Run it:
//   npx tsx examples/process_counter.ts
//   deno run -A examples/process_counter.ts
//   bun run examples/process_counter.ts
import { isMain, Process, Value } from "../mod.ts";

export async function countProcess(sharedCounter: Value<"i">): Promise<void> {
  await sharedCounter.getLock().withLock(() => {
    sharedCounter.value += 1;
  });
}

if (isMain(import.meta)) {
  const counter = new Value("i", 0);
  const processes = Array.from({ length: 4 }, () => new Process({ target: countProcess, args: [counter] }));
  for (const p of processes) p.start();
  for (const p of processes) await p.join();
  console.log(`Total number of processes: ${counter.value}`);
}
