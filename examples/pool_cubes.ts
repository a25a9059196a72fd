// Cubes of 0..9 computed by a pool of four workers.
//
// Ports the Pool example of seed 003 of the Python tutorials:
//   with multiprocessing.Pool(4) as pool:
//       results = pool.map(cube, range(10))
//       print(results)
//
// Run it:
//   npx tsx examples/pool_cubes.ts
//   deno run -A examples/pool_cubes.ts
//   bun run examples/pool_cubes.ts
import { isMain, Pool } from "../mod.ts";

export function cube(val: number): number {
  return val * val * val;
}

if (isMain(import.meta)) {
  await using pool = new Pool(4);
  const results = await pool.map(cube, Array.from({ length: 10 }, (_, i) => i));
  console.log(`[${results.join(", ")}]`);
}
