// A thread's scratch memory for small frames that are used at once (encoded
// and copied into a ring, or copied out of one and decoded), and its views
// by length, made once for small lengths: a view made anew costs an
// allocation an item, and JSC makes views of a buffer slowly (Bun's queue
// between threads ran at 1.4-2M items/s with a view per item).

const VIEWS_UP_TO = 64;

/** Scratch memory that grows as needed, with views of its first bytes. */
export class Scratch {
  #buffer = new ArrayBuffer(256);
  #views: Uint8Array[] = [];
  #fromOne: Uint8Array | null = null;

  /** Its first `n` bytes (what was in it may be gone). Views stay good until it grows. */
  view(n: number): Uint8Array {
    if (this.#buffer.byteLength < n) {
      this.#buffer = new ArrayBuffer(Math.max(n, this.#buffer.byteLength * 2));
      this.#views = [];
      this.#fromOne = null;
    }
    return n <= VIEWS_UP_TO ? (this.#views[n] ??= new Uint8Array(this.#buffer, 0, n)) : new Uint8Array(this.#buffer, 0, n);
  }

  /** All of it from byte 1 on (after a tag byte), as it is now. */
  fromOne(): Uint8Array {
    return this.#fromOne ??= new Uint8Array(this.#buffer, 1);
  }
}
