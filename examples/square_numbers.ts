// Two processes squaring the numbers 1 to 5, then joined.
//
// Ports "Basic Multiprocessing Example" (square_numbers), seed 000 of the
// Python tutorials. Each line is printed by a child; the two children run at
// the same time, so their lines interleave differently from run to run.
//
// Run it:
//   npx tsx examples/square_numbers.ts
//   deno run -A examples/square_numbers.ts
//   bun run examples/square_numbers.ts
import { isMain, Process } from "../mod.ts";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Prints the squares of 1..5, pretending each takes 100 ms of work. */
export async function squareNumbers(processId: number): Promise<void> {
  for (let i = 1; i <= 5; i++) {
    await sleep(100); // simulate some work
    console.log(`Process ${processId}: ${i} squared = ${i * i}`);
  }
}

if (isMain(import.meta)) {
  // Create two processes
  const process1 = new Process({ target: squareNumbers, args: [1] });
  const process2 = new Process({ target: squareNumbers, args: [2] });

  // Start the processes
  process1.start();
  process2.start();

  // Wait for the processes to finish
  await process1.join();
  await process2.join();

  console.log("All processes finished.");
}
