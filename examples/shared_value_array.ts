// A Value and an Array shared with a child, which increments one and
// doubles the other.
//
// Ports "Shared Memory", seed 002 of the Python tutorials:
//   num = Value('i', 0); arr = Array('d', [1.0, 2.0, 3.0])
//   p = Process(target=increment, args=(num, arr)); p.start(); p.join()
//   print(num.value)  # 1
//   print(arr[:])     # [2.0, 4.0, 6.0]
// Python's Array is SharedArray here (the global Array stays usable); the
// floats are printed as Python prints them.
//
// Run it:
//   npx tsx examples/shared_value_array.ts
//   deno run -A examples/shared_value_array.ts
//   bun run examples/shared_value_array.ts
import { isMain, Process, SharedArray, Value } from "../mod.ts";

export function increment(n: Value<"i">, arr: SharedArray<"d">): void {
  n.value += 1;
  for (let i = 0; i < arr.length; i++) arr[i] *= 2;
}

/** A float as Python's repr prints it: 2.0, not 2. */
const pyFloat = (x: number) => (Number.isInteger(x) ? x.toFixed(1) : String(x));

if (isMain(import.meta)) {
  const num = new Value("i", 0); // "i": signed integer
  const arr = new SharedArray("d", [1.0, 2.0, 3.0]); // "d": double precision float
  const p = new Process({ target: increment, args: [num, arr] });
  p.start();
  await p.join();
  console.log(num.value); // 1
  console.log(`[${arr.toArray().map(pyFloat).join(", ")}]`); // [2.0, 4.0, 6.0]
}
