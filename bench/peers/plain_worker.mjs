// The task every peer pool runs in bench/pool.bench.ts, for piscina and
// tinypool (a module whose default export is the task): return the input.
export default function echo(x) {
  return x;
}
