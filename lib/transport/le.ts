// Little-endian numbers in byte arrays, without a DataView over the array's
// own buffer: on V8 a small Uint8Array lives on the heap, and asking for its
// `.buffer` (which a DataView needs) moves it off the heap, at some 600 ns a
// time (measured on Node and Deno), more than the rest of a queue put. The
// numbers go through one 8-byte scratch buffer of this thread instead.
const scratch = new DataView(new ArrayBuffer(8));
const bytes = new Uint8Array(scratch.buffer);

/** Writes `x` as a little-endian f64 at `out[at]`. */
export function putF64(out: Uint8Array, at: number, x: number): void {
  scratch.setFloat64(0, x, true);
  for (let i = 0; i < 8; i++) out[at + i] = bytes[i];
}

/** Reads a little-endian f64 at `src[at]`. */
export function getF64(src: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) bytes[i] = src[at + i];
  return scratch.getFloat64(0, true);
}

/** Writes `x` as a little-endian u32 at `out[at]`. */
export function putU32(out: Uint8Array, at: number, x: number): void {
  out[at] = x & 255;
  out[at + 1] = (x >>> 8) & 255;
  out[at + 2] = (x >>> 16) & 255;
  out[at + 3] = (x >>> 24) & 255;
}

/** Reads a little-endian u32 at `src[at]`. */
export function getU32(src: Uint8Array, at: number): number {
  return (src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24)) >>> 0;
}

/** Writes `x` as a little-endian u16 at `out[at]`. */
export function putU16(out: Uint8Array, at: number, x: number): void {
  out[at] = x & 255;
  out[at + 1] = (x >>> 8) & 255;
}

/** Reads a little-endian u16 at `src[at]`. */
export function getU16(src: Uint8Array, at: number): number {
  return src[at] | (src[at + 1] << 8);
}
