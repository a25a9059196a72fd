// Length-prefixed frames over a byte stream (a pipe or socket read in
// chunks): u32 little-endian length, then that many bytes. The request
// line's requests (lib/queue/wire.ts) and the answer line's answers
// (lib/child/channel.ts) are read with it.
import { getU32 } from "./le.ts";

/** Splits a stream of frames as its chunks come, keeping a partial frame for the next chunk. */
export class FrameSplitter {
  // The start of an incomplete frame, in the chunks it came in: joined
  // only once it is whole, so a big frame is copied once, not per chunk.
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #needed = 0;

  /**
   * Calls `each(buf, start, end)` for every frame completed by `chunk`, in
   * order: its body is `buf[start, end)`. `buf` may be `chunk` itself (copy
   * what must outlive the call if the chunk's memory is reused).
   */
  push(chunk: Uint8Array, each: (buf: Uint8Array, start: number, end: number) => void): void {
    let buf = chunk;
    if (this.#pending.length) {
      this.#pending.push(chunk);
      this.#pendingBytes += chunk.length;
      if (this.#pendingBytes < this.#needed) return;
      buf = new Uint8Array(this.#pendingBytes);
      let at = 0;
      for (const part of this.#pending) {
        buf.set(part, at);
        at += part.length;
      }
      this.#pending = [];
    }
    let at = 0;
    while (buf.length - at >= 4) {
      const size = getU32(buf, at);
      if (buf.length - at - 4 < size) break;
      each(buf, at + 4, at + 4 + size);
      at += 4 + size;
    }
    if (at < buf.length) {
      const rest = new Uint8Array(buf.subarray(at));
      this.#pending = [rest];
      this.#pendingBytes = rest.length;
      this.#needed = rest.length >= 4 ? 4 + getU32(rest, 0) : 4;
    }
  }
}

/** `parts` one after another in one array (the part itself when there is one). */
export function joinBytes(parts: readonly Uint8Array[], total: number = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1) return parts[0];
  const all = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    all.set(p, at);
    at += p.length;
  }
  return all;
}
