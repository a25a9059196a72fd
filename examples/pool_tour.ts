// map, applyAsync and imap on a pool of four workers, each task pretending
// to take a second.
//
// Ports "3. Process Pool" of seed 002 of the Python tutorials:
//   with Pool(processes=4) as pool:
//       results = pool.map(square, range(10))
//       print(results)  # [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
//       result = pool.apply_async(square, (20,))
//       print(result.get(timeout=2))  # 400
//       for res in pool.imap(square, range(5)):
//           print(res)
// Timeouts are in milliseconds here: get(2000) is Python's get(timeout=2).
//
// Run it:
//   npx tsx examples/pool_tour.ts
//   deno run -A examples/pool_tour.ts
//   bun run examples/pool_tour.ts
import { isMain, Pool } from "../mod.ts";

export async function square(x: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, 1000)); // simulate a time-consuming operation
  return x * x;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

if (isMain(import.meta)) {
  await using pool = new Pool({ processes: 4 }); // a pool with 4 worker processes
  // map
  const results = await pool.map(square, range(10));
  console.log(`[${results.join(", ")}]`); // [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]
  // applyAsync (asynchronous)
  const result = pool.applyAsync(square, [20]);
  console.log(await result.get(2000)); // 400
  // imap (lazy evaluation)
  for await (const res of pool.imap(square, range(5))) {
    console.log(res);
  }
}
