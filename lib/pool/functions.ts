// The functions a pool's workers know, by id. Workers are sent a function's
// definition once and then only its id. An inline arrow is a new object on
// every call, so ids are kept per distinct definition too: the same source
// is not sent (and compiled by the workers) again each time.
import { type FunctionRef, resolveFunction } from "../transport/functions.ts";

/** Function ids of one pool. */
export class FunctionTable {
  #byFunction = new WeakMap<Function, number>();
  #byKey = new Map<string, number>();
  #refs: FunctionRef[] = [];

  /** The id of `fn`; throws the transport's TypeError for a function that cannot reach a worker. */
  idOf(fn: unknown, role: string): number {
    const known = typeof fn === "function" ? this.#byFunction.get(fn) : undefined;
    if (known !== undefined) return known;
    const ref = resolveFunction(fn, role);
    const key = JSON.stringify(ref);
    let id = this.#byKey.get(key);
    if (id === undefined) {
      id = this.#refs.push(ref) - 1;
      this.#byKey.set(key, id);
    }
    this.#byFunction.set(fn as Function, id);
    return id;
  }

  /** The definition workers load for `id`. */
  ref(id: number): FunctionRef {
    return this.#refs[id];
  }
}
