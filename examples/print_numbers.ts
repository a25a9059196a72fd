// One process printing the numbers 0 to 9, joined.
//
// Ports "Creating Processes" (print_numbers), seed 001 of the Python
// tutorials. Python runs this at module top level; here it sits behind the
// isMain guard, which Python needs too under its spawn start method.
//
// Run it:
//   npx tsx examples/print_numbers.ts
//   deno run -A examples/print_numbers.ts
//   bun run examples/print_numbers.ts
import { isMain, Process } from "../mod.ts";

/** Prints 0..9, one per line. */
export function printNumbers(): void {
  for (let i = 0; i < 10; i++) console.log(i);
}

if (isMain(import.meta)) {
  const p1 = new Process({ target: printNumbers });
  p1.start();
  await p1.join(); // wait for the process to complete
}
