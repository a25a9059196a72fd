// Four processes print in turn, one at a time, holding a shared Lock.
//
// Ports "Lock", seed 002 of the Python tutorials:
//   def printer(item, lock):
//       with lock:
//           print(f"Process {multiprocessing.current_process().name} prints: {item}")
//   lock = Lock()
//   for item in ['A', 'B', 'C', 'D']:
//       Process(target=printer, args=(item, lock)).start() ...
// The processes run at the same time, so the order of the lines varies.
//
// Run it:
//   npx tsx examples/lock_printer.ts
//   deno run -A examples/lock_printer.ts
//   bun run examples/lock_printer.ts
import { currentProcess, isMain, Lock, Process } from "../mod.ts";

export async function printer(item: string, lock: Lock): Promise<void> {
  await lock.withLock(() => {
    console.log(`Process ${currentProcess().name} prints: ${item}`);
  });
}

if (isMain(import.meta)) {
  const lock = new Lock();
  const items = ["A", "B", "C", "D"];
  const processes: Process[] = [];
  for (const item of items) {
    const p = new Process({ target: printer, args: [item, lock] });
    processes.push(p);
    p.start();
  }
  for (const p of processes) await p.join();
}
