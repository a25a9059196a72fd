// Value, RawValue, SharedArray and RawArray: numbers in shared memory, as
// Python's multiprocessing.Value and Array (ctypes objects in shared
// memory). The memory is an AtomicMemory (memory.ts): this process's
// SharedArrayBuffer here and in its threads, the owner's through requests in
// a child process. A synchronized Value or SharedArray carries a lock (a
// Lock unless given one; Python's is an RLock, see LockOption), for `withLock` around compound
// updates; a single read or write of `.value` or of an element is atomic by
// itself (aligned, on every runtime here), so it does not take the lock.
import { crossing, type Crossing, type Destination, registerReviver } from "../transport/values.ts";
import { type AtomicMemory, memoryOf } from "./memory.ts";
import { Cells, coerce, describe, kindOf, newMemory, type TypeCode, type ValueOf } from "./cells.ts";

export type { TypeCode, ValueOf };
import { RemoteMemory } from "./remote_memory.ts";
import { memoryFrom, memoryState, type MemoryState } from "./crossing.ts";
import { Lock, RLock } from "../sync.ts";

const allCells = new WeakMap<object, Cells>();

function cellsOf(x: object): Cells {
  return allCells.get(x)!;
}


/**
 * Where a synchronized object's lock comes from: true (a new Lock), false
 * (none), or one you made. Python's default is an RLock; here it is a Lock,
 * because an RLock belongs to a thread, and every async task of one thread
 * would hold it at once (pass `{ lock: new RLock() }` for Python's).
 */
export type LockOption = boolean | Lock | RLock;

/** Options of Value and SharedArray. */
export interface SharedOptions {
  /** true (default): a new Lock; false: no lock (a raw object); or a Lock/RLock to share. */
  lock?: LockOption;
}

function lockFrom(option: LockOption | undefined, what: string): Lock | RLock | null {
  if (option === undefined || option === true) return new Lock();
  if (option === false) return null;
  if (option instanceof Lock || option instanceof RLock) return option;
  throw new TypeError(`${what}: lock must be true, false, a Lock or an RLock, got ${describe(option)}`);
}

interface ValueState {
  typecode: TypeCode;
  memory: MemoryState;
  lock: Lock | RLock | null;
  raw: boolean;
}

// The lock of each Value and SharedArray (null: made with lock: false).
const locks = new WeakMap<object, Lock | RLock | null>();

function lockOf(x: object, what: string): Lock | RLock {
  const lock = locks.get(x);
  if (!lock) throw new TypeError(`This ${what} was made with { lock: false }: it has no lock (as a Raw${what.replace("Shared", "")})`);
  return lock;
}

// A lock and the memory it guards, both the parent's: acquiring the lock
// fetches the memory in the same round trip (remote_memory.ts).
function guard(lock: Lock | RLock | null, x: object): void {
  const lockMemory = lock && memoryOf(lock);
  const data = cellsOf(x).memory;
  if (lockMemory instanceof RemoteMemory && data instanceof RemoteMemory) lockMemory.guard(data);
}

// A Value or SharedArray being revived takes these instead of new memory.
let arriving: { memory: AtomicMemory; lock: Lock | RLock | null } | null = null;

/**
 * A number in shared memory, without a lock: Python's `RawValue`.
 * Reads and writes of `.value` are atomic; `v.value += 1` is not (read,
 * then write): use a Value and its lock for that.
 *
 * @example
 * ```ts
 * import { RawValue } from "multiproc";
 * const v = new RawValue("d", 1.5);
 * v.value *= 2;
 * console.log(v.value); // 3
 * ```
 */
export class RawValue<C extends TypeCode = TypeCode> {
  /** The typecode, as given. */
  readonly typecode: C;

  /**
   * A new number in new shared memory.
   *
   * @param typecode One of `b B h H i I l L q Q f d` (as Python's array module).
   * @param value The initial value (default 0; a bigint for `q`/`Q`).
   */
  constructor(typecode: C, value?: ValueOf<C>) {
    const what = `${new.target.name}("${String(typecode)}")`;
    kindOf(typecode, what);
    this.typecode = typecode;
    const cells = new Cells(typecode, 1, arriving?.memory ?? newMemory(typecode, 1));
    allCells.set(this, cells);
    if (!arriving && value !== undefined) cells.set(0, coerce(typecode, value, what));
  }

  /** The value, read from shared memory. Setting it writes it; out-of-range integers wrap as in ctypes. */
  get value(): ValueOf<C> {
    return cellsOf(this).get(0) as ValueOf<C>;
  }

  set value(x: ValueOf<C>) {
    cellsOf(this).set(0, coerce(this.typecode, x, `${this.constructor.name}("${this.typecode}").value`));
  }

  /** For display: `Value("i", 3)`. */
  toString(): string {
    return `${this.constructor.name}("${this.typecode}", ${this.value})`;
  }
}

/**
 * A number in shared memory with a lock: Python's `multiprocessing.Value`.
 * Pass it to a Process or Pool; every copy reads and writes the same number.
 * `getLock()` guards compound updates such as `+= 1`.
 *
 * @example
 * ```ts
 * import { Value } from "multiproc";
 * const counter = new Value("i", 0);
 * await counter.getLock().withLock(() => {
 *   counter.value += 1;
 * });
 * console.log(counter.value); // 1
 * ```
 */
export class Value<C extends TypeCode = TypeCode> extends RawValue<C> {
  /**
   * A new number in new shared memory, with its lock.
   *
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param value The initial value (default 0; a bigint for `q`/`Q`).
   * @param options `lock`: true (a new Lock, the default), false, or a Lock/RLock to use.
   */
  constructor(typecode: C, value?: ValueOf<C>, options: SharedOptions = {}) {
    super(typecode, value);
    locks.set(this, arriving ? arriving.lock : lockFrom(options?.lock, `Value("${typecode}")`));
    if (arriving) guard(arriving.lock, this);
  }

  /**
   * The lock that guards this value (a Lock unless another was given).
   *
   * @example
   * ```ts
   * import { Value } from "multiproc";
   * const n = new Value("i", 0);
   * await n.getLock().withLock(() => { n.value += 1; });
   * console.log(n.value); // 1
   * ```
   */
  getLock(): Lock | RLock {
    return lockOf(this, "Value");
  }
}

/**
 * Numbers in shared memory without a lock: Python's `RawArray`. Index it
 * (`a[0]`, `a[1] = 2`), read `a.length`, spread it (`[...a]`).
 *
 * @example
 * ```ts
 * import { RawArray } from "multiproc";
 * const a = new RawArray("i", [1, 2, 3]);
 * a[0] = 10;
 * console.log([...a]); // [10, 2, 3]
 * ```
 */
export class RawArray<C extends TypeCode = TypeCode> {
  /** The element at an index (0 to length - 1; others throw RangeError). */
  [index: number]: ValueOf<C>;
  /** The typecode, as given. */
  declare readonly typecode: C;

  /**
   * New numbers in new shared memory.
   *
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param init The initial elements, or a length (all zero).
   */
  constructor(typecode: C, init: number | Iterable<ValueOf<C>>) {
    const what = `${new.target.name}("${String(typecode)}")`;
    kindOf(typecode, what);
    let items: Array<number | bigint> | null = null;
    let length: number;
    if (typeof init === "number") {
      if (!Number.isSafeInteger(init) || init < 0) throw new RangeError(`${what}: a length must be a whole number >= 0, got ${init}`);
      length = init;
    } else if (init !== null && typeof init === "object" && Symbol.iterator in init) {
      items = [...init].map((x, i) => coerce(typecode, x, `${what}[${i}]`));
      length = items.length;
    } else {
      throw new TypeError(`${what}: give the initial elements (an iterable) or a length, got ${describe(init)}`);
    }
    const cells = new Cells(typecode, length, arriving?.memory ?? newMemory(typecode, length));
    Object.defineProperty(this, "typecode", { value: typecode });
    if (!arriving && items) items.forEach((x, i) => cells.set(i, x));
    const proxy = new Proxy(this, ELEMENTS as ProxyHandler<this>);
    allCells.set(this, cells);
    allCells.set(proxy, cells);
    return proxy;
  }

  /** The number of elements. */
  get length(): number {
    return cellsOf(this).length;
  }

  /** The elements, read at once (Python's `a[:]`). */
  toArray(): Array<ValueOf<C>> {
    return cellsOf(this).all() as Array<ValueOf<C>>;
  }

  /** The elements in order. */
  [Symbol.iterator](): Iterator<ValueOf<C>> {
    return this.toArray()[Symbol.iterator]();
  }

  /** For display: `SharedArray("i", [1, 2])`. */
  toString(): string {
    return `${this.constructor.name}("${this.typecode}", [${this.toArray().join(", ")}])`;
  }
}

function indexOf(target: RawArray, key: string | symbol): number | null {
  if (typeof key !== "string") return null;
  const i = Number(key);
  if (!Number.isInteger(i) || String(i) !== key) return null;
  const n = cellsOf(target).length;
  if (i < 0 || i >= n) throw new RangeError(`${target.constructor.name} index ${i} out of range (length ${n})`);
  return i;
}

const ELEMENTS: ProxyHandler<RawArray> = {
  get(target, key, receiver) {
    const i = indexOf(target, key);
    return i === null ? Reflect.get(target, key, receiver) : cellsOf(target).get(i);
  },
  set(target, key, value, receiver) {
    const i = indexOf(target, key);
    if (i === null) return Reflect.set(target, key, value, receiver);
    cellsOf(target).set(i, coerce(target.typecode, value, `${target.constructor.name}("${target.typecode}")[${i}]`));
    return true;
  },
  has(target, key) {
    if (typeof key === "string" && /^(0|[1-9]\d*)$/.test(key)) return Number(key) < cellsOf(target).length;
    return Reflect.has(target, key);
  },
  ownKeys(target) {
    return [...Array.from({ length: cellsOf(target).length }, (_, i) => String(i)), ...Reflect.ownKeys(target)];
  },
  getOwnPropertyDescriptor(target, key) {
    if (typeof key === "string" && /^(0|[1-9]\d*)$/.test(key) && Number(key) < cellsOf(target).length) {
      return { value: cellsOf(target).get(Number(key)), writable: true, enumerable: true, configurable: true };
    }
    return Reflect.getOwnPropertyDescriptor(target, key);
  },
};

/**
 * Numbers in shared memory with a lock: Python's `multiprocessing.Array`,
 * exported as SharedArray so that the global `Array` stays usable.
 *
 * @example
 * ```ts
 * import { SharedArray } from "multiproc";
 * const a = new SharedArray("d", [1, 2, 3]);
 * for (let i = 0; i < a.length; i++) a[i] *= 2;
 * console.log([...a]); // [2, 4, 6]
 * ```
 */
export class SharedArray<C extends TypeCode = TypeCode> extends RawArray<C> {
  /**
   * New numbers in new shared memory, with their lock.
   *
   * @param typecode One of `b B h H i I l L q Q f d`.
   * @param init The initial elements, or a length (all zero).
   * @param options `lock`: true (a new Lock, the default), false, or a Lock/RLock to use.
   */
  constructor(typecode: C, init: number | Iterable<ValueOf<C>>, options: SharedOptions = {}) {
    super(typecode, init);
    locks.set(this, arriving ? arriving.lock : lockFrom(options?.lock, `SharedArray("${typecode}")`));
    if (arriving) guard(arriving.lock, this);
  }

  /**
   * The lock that guards these elements (a Lock unless another was given).
   *
   * @example
   * ```ts
   * import { SharedArray } from "multiproc";
   * const a = new SharedArray("i", 2);
   * await a.getLock().withLock(() => { a[0] += 1; });
   * console.log(a[0]); // 1
   * ```
   */
  getLock(): Lock | RLock {
    return lockOf(this, "SharedArray");
  }
}

// Crossing: the memory (its buffer to a thread, its name to a process) and
// the lock (which crosses as itself).
function valueCrossing(this: RawValue | RawArray, to: Destination): Crossing {
  const cells = cellsOf(this);
  const isArray = this instanceof RawArray;
  const kind = this instanceof Value ? "Value" : this instanceof SharedArray ? "SharedArray" : isArray ? "RawArray" : "RawValue";
  const lock = locks.get(this) ?? null;
  const state: ValueState & { kind: string; length: number } = {
    kind,
    typecode: this.typecode as TypeCode,
    memory: memoryState(cells.memory, to, `A ${kind}`),
    lock,
    raw: lock === null,
    length: cells.length,
  };
  return { type: "shared-value", state };
}

Object.defineProperty(RawValue.prototype, crossing, { value: valueCrossing });
Object.defineProperty(RawArray.prototype, crossing, { value: valueCrossing });

registerReviver("shared-value", (s) => {
  const state = s as ValueState & { kind: string; length: number };
  arriving = { memory: memoryFrom(state.memory), lock: state.lock };
  try {
    switch (state.kind) {
      case "Value":
        return new Value(state.typecode);
      case "RawValue":
        return new RawValue(state.typecode);
      case "SharedArray":
        return new SharedArray(state.typecode, state.length);
      default:
        return new RawArray(state.typecode, state.length);
    }
  } finally {
    arriving = null;
  }
});
