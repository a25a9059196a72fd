// Four processes write into a dict and a list that a Manager holds.
//
// Ports the Manager program of seed 002 of the Python tutorials:
//   def worker(d, l):
//       d[multiprocessing.current_process().name] = 'value'
//       l.append(multiprocessing.current_process().pid)
//   with Manager() as manager:
//       shared_dict = manager.dict(); shared_list = manager.list()
//       ... four processes ...
//       print(shared_dict); print(shared_list)
//
// As in Python the manager's own process is the first one started, so the
// workers are Process-2 to Process-5.
//
// Run it:
//   npx tsx examples/manager_dict_list.ts
//   deno run -A examples/manager_dict_list.ts
//   bun run examples/manager_dict_list.ts
import process from "node:process";
import { currentProcess, type DictProxy, isMain, type ListProxy, Manager, Process } from "../mod.ts";

export async function worker(d: DictProxy<string, string>, l: ListProxy<number>): Promise<void> {
  await d.set(currentProcess().name, "value");
  await l.append(process.pid);
}

if (isMain(import.meta)) {
  await using manager = await Manager.start();
  const sharedDict = manager.dict<string, string>();
  const sharedList = manager.list<number>();
  const processes: Process[] = [];
  for (let i = 0; i < 4; i++) {
    const p = new Process({ target: worker, args: [sharedDict, sharedList] });
    processes.push(p);
    p.start();
  }
  for (const p of processes) await p.join();
  const items = await sharedDict.items();
  console.log(`{${items.map(([k, v]) => `'${k}': '${v}'`).join(", ")}}`);
  console.log(`[${(await sharedList.toArray()).join(", ")}]`);
}
