// A pool call's input: checked, and read in full where the call needs it all.

/** Throws a TypeError unless `iterable` is an array, an iterable or an async iterable. */
export function checkInput(iterable: unknown, what: string): void {
  const it = iterable as Record<symbol, unknown> | null | undefined;
  if (it == null || (typeof it[Symbol.iterator] !== "function" && typeof it[Symbol.asyncIterator] !== "function")) {
    throw new TypeError(`Cannot ${what}: the input must be an array, an iterable or an async iterable, got ${it === null ? "null" : typeof it}`);
  }
}

/** Reads a sync or async iterable in full (an array is used as it is). */
export async function collect<T>(iterable: Iterable<T> | AsyncIterable<T>): Promise<T[]> {
  if (Array.isArray(iterable)) return iterable;
  const items: T[] = [];
  if (typeof (iterable as AsyncIterable<T>)[Symbol.asyncIterator] === "function") {
    for await (const item of iterable as AsyncIterable<T>) items.push(item);
  } else {
    for (const item of iterable as Iterable<T>) items.push(item);
  }
  return items;
}

/** starmap's items as argument arrays: arrays as they are, other iterables spread. */
export function asArgs(items: unknown[]): unknown[][] {
  return items.map((item, i) => {
    if (Array.isArray(item)) return item;
    if (item != null && typeof (item as Iterable<unknown>)[Symbol.iterator] === "function" && typeof item !== "string") {
      return [...item as Iterable<unknown>];
    }
    throw new TypeError(`Cannot starmap: item ${i} must be an array of arguments, got ${item === null ? "null" : typeof item}`);
  });
}

