// A pool of four workers squaring 0..9 with map.
//
// Ports "Using Process Pools", seed 001 of the Python tutorials:
//   with Pool(4) as pool:
//       result = pool.map(square, range(10))
//   print(result)
// `await using` is Python's `with` block. The list is printed as Python
// prints it.
//
// Run it:
//   npx tsx examples/pool_squares.ts
//   deno run -A examples/pool_squares.ts
//   bun run examples/pool_squares.ts
import { isMain, Pool } from "../mod.ts";

export function square(n: number): number {
  return n * n;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

if (isMain(import.meta)) {
  let result: number[];
  {
    await using pool = new Pool(4);
    result = await pool.map(square, range(10));
  }
  console.log(`[${result.join(", ")}]`);
}
