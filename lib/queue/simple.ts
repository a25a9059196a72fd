// SimpleQueue: Python's multiprocessing.SimpleQueue, a Queue with fewer
// methods. It wraps a Queue made for it (which crosses as a SimpleQueue).
import { crossing, type Destination } from "../transport/values.ts";
import { queueCrossing, simpleInner, type Queue } from "../queue.ts";

/**
 * Python's `multiprocessing.SimpleQueue`: `put`, `get`, `empty` and
 * `close`, without size limit or timeouts.
 *
 * @typeParam T The items' type.
 * @example
 * ```ts
 * import { SimpleQueue } from "multiproc";
 * const q = new SimpleQueue<number>();
 * await q.put(1);
 * console.log(q.empty(), await q.get()); // false 1
 * ```
 */
export class SimpleQueue<T = unknown> {
  readonly #q: Queue<T>;

  /** Creates a simple queue. */
  constructor() {
    this.#q = simpleInner<T>();
  }

  /**
   * Puts an item.
   *
   * @example
   * ```ts
   * import { SimpleQueue } from "multiproc";
   * await new SimpleQueue<string>().put("x");
   * ```
   */
  put(item: T): Promise<void> {
    return this.#q.put(item);
  }

  /**
   * Takes the oldest item, waiting for one; EOFError once closed and drained.
   *
   * @example
   * ```ts
   * import { SimpleQueue } from "multiproc";
   * const q = new SimpleQueue<string>();
   * await q.put("x");
   * console.log(await q.get()); // "x"
   * ```
   */
  get(): Promise<T> {
    return this.#q.get();
  }

  /**
   * Whether the queue holds no item now.
   *
   * @example
   * ```ts
   * import { SimpleQueue } from "multiproc";
   * console.log(new SimpleQueue().empty()); // true
   * ```
   */
  empty(): boolean {
    return this.#q.empty();
  }

  /**
   * Ends the queue for every holder (see Queue.close).
   *
   * @example
   * ```ts
   * import { SimpleQueue } from "multiproc";
   * new SimpleQueue().close();
   * ```
   */
  close(): void {
    this.#q.close();
  }

  /** @internal */
  get inner(): Queue<T> {
    return this.#q;
  }
}

Object.defineProperty(SimpleQueue.prototype, crossing, {
  value(this: SimpleQueue, to: Destination) {
    return queueCrossing.call(this.inner, to);
  },
});
