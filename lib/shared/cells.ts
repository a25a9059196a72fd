// The numbers behind Value and SharedArray: Python's array typecodes, what
// each stores, and element reads and writes on an atomic memory (a typed
// view of a local buffer, byte requests for a parent's memory).
import { type AtomicMemory, LocalMemory } from "./memory.ts";
import { allocateMemory } from "./os_segments.ts";

/** The typecodes of Python's `array` module that Value and SharedArray take. */
export type TypeCode = "b" | "B" | "h" | "H" | "i" | "I" | "l" | "L" | "q" | "Q" | "f" | "d";

/** What an element of typecode `C` reads as: bigint for `q` and `Q`, number otherwise. */
export type ValueOf<C extends TypeCode> = C extends "q" | "Q" ? bigint : number;

type View =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array
  | BigInt64Array
  | BigUint64Array;

interface Kind {
  size: number;
  make: (buffer: ArrayBufferLike, offset: number, length: number) => View;
  name: string;
}

// "l" and "L" are C longs, whose size varies by platform (8 bytes on 64-bit
// Linux and macOS, 4 on Windows); here they are 32 bits everywhere, so that
// they hold plain numbers exactly. "q"/"Q" are the 64-bit ones (bigint).
const KINDS: Record<TypeCode, Kind> = {
  b: { size: 1, make: (b, o, n) => new Int8Array(b, o, n), name: "signed char" },
  B: { size: 1, make: (b, o, n) => new Uint8Array(b, o, n), name: "unsigned char" },
  h: { size: 2, make: (b, o, n) => new Int16Array(b, o, n), name: "short" },
  H: { size: 2, make: (b, o, n) => new Uint16Array(b, o, n), name: "unsigned short" },
  i: { size: 4, make: (b, o, n) => new Int32Array(b, o, n), name: "int" },
  I: { size: 4, make: (b, o, n) => new Uint32Array(b, o, n), name: "unsigned int" },
  l: { size: 4, make: (b, o, n) => new Int32Array(b, o, n), name: "long (32-bit here)" },
  L: { size: 4, make: (b, o, n) => new Uint32Array(b, o, n), name: "unsigned long (32-bit here)" },
  q: { size: 8, make: (b, o, n) => new BigInt64Array(b, o, n), name: "long long" },
  Q: { size: 8, make: (b, o, n) => new BigUint64Array(b, o, n), name: "unsigned long long" },
  f: { size: 4, make: (b, o, n) => new Float32Array(b, o, n), name: "float" },
  d: { size: 8, make: (b, o, n) => new Float64Array(b, o, n), name: "double" },
};

export function kindOf(typecode: unknown, what: string): Kind {
  if (typeof typecode !== "string" || !Object.hasOwn(KINDS, typecode)) {
    throw new TypeError(
      `${what}: typecode must be one of ${Object.keys(KINDS).join(" ")} (as Python's array module), got ${
        typeof typecode === "string" ? JSON.stringify(typecode) : typeof typecode
      }`,
    );
  }
  return KINDS[typecode as TypeCode];
}

const isBig = (typecode: TypeCode) => typecode === "q" || typecode === "Q";
const isFloat = (typecode: TypeCode) => typecode === "f" || typecode === "d";

/** Checks what is stored: bigint (or a safe integer) for q/Q; an integer for integer codes; any number for f/d. */
export function coerce(typecode: TypeCode, x: unknown, what: string): number | bigint {
  if (isBig(typecode)) {
    if (typeof x === "bigint") return x;
    if (typeof x === "number" && Number.isSafeInteger(x)) return BigInt(x);
    throw new TypeError(`${what}: typecode "${typecode}" holds integers (bigint), got ${describe(x)}`);
  }
  if (typeof x !== "number") throw new TypeError(`${what}: typecode "${typecode}" holds numbers, got ${describe(x)}`);
  if (!isFloat(typecode) && !Number.isInteger(x)) {
    throw new TypeError(`${what}: typecode "${typecode}" holds integers, got ${x} (round it first, as Python requires)`);
  }
  return x;
}

export function describe(x: unknown): string {
  return typeof x === "string" ? `the string ${JSON.stringify(x)}` : x === null ? "null" : typeof x === "number" ? String(x) : typeof x;
}

// Elements read and written through the memory: a view of the buffer when
// it is this process's, bytes through requests when it is the parent's.
export class Cells {
  readonly typecode: TypeCode;
  readonly length: number;
  readonly memory: AtomicMemory;
  readonly #kind: Kind;
  readonly #view: View | null;

  constructor(typecode: TypeCode, length: number, memory: AtomicMemory) {
    this.typecode = typecode;
    this.length = length;
    this.memory = memory;
    this.#kind = KINDS[typecode];
    this.#view = memory instanceof LocalMemory ? this.#kind.make(memory.buffer, memory.byteOffset, length) : null;
  }

  get(i: number): number | bigint {
    if (this.#view) return this.#view[i];
    const bytes = this.memory.read(i * this.#kind.size, this.#kind.size);
    return this.#kind.make(bytes.buffer, 0, 1)[0];
  }

  set(i: number, x: number | bigint): void {
    if (this.#view) {
      (this.#view as { [i: number]: number | bigint })[i] = x;
      return;
    }
    const one = this.#kind.make(new ArrayBuffer(this.#kind.size), 0, 1);
    (one as { [i: number]: number | bigint })[0] = x;
    this.memory.write(i * this.#kind.size, new Uint8Array(one.buffer));
  }

  /** All elements, with one read. */
  all(): Array<number | bigint> {
    if (this.#view) return [...this.#view];
    const bytes = this.memory.read(0, this.length * this.#kind.size);
    return [...this.#kind.make(bytes.buffer, 0, this.length)];
  }
}

/** New zeroed memory for `length` elements of `typecode`. */
export function newMemory(typecode: TypeCode, length: number): AtomicMemory {
  return allocateMemory(Math.max(1, length) * KINDS[typecode].size);
}
