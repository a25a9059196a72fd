// Items as bytes, for the ring and for the wire to remote holders. One tag
// byte, then the payload: numbers, strings and the small constants skip
// structured clone (most queue traffic is made of them); everything else
// is our value encoding (errors as envelopes) under the runtime's
// structured-clone serializer, so an item keeps whatever structured clone
// keeps.
import { SerializationError } from "../errors.ts";
import { getHost } from "../runtime/host.ts";
import { decodeValue, encodeValue } from "../transport/values.ts";
import type { Frame } from "./ring.ts";
import { getF64, putF64 } from "../transport/le.ts";
import { Scratch } from "./scratch.ts";

const CLONED = 0;
const NUMBER = 1;
const STRING = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;
const UNDEFINED = 6;
/** Raw bytes from `sendBytes`, kept apart from values. */
export const BYTES = 7;
// A typed array or ArrayBuffer on its own: a head of 8 bytes (tag, kind),
// then its bytes as they are. Big payloads skip the serializer's copies.
const TYPED = 8;
const TYPED_HEAD = 8;
const TYPED_MIN = 256;
const KINDS = [
  ArrayBuffer,
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as const;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONSTANTS: Record<number, unknown> = { [TRUE]: true, [FALSE]: false, [NULL]: null, [UNDEFINED]: undefined };

// Scratch memory of this thread for small items that are copied at once
// (`encodeItem(x, path, true)`): a fresh array costs microseconds on some
// runtimes. The last frame made in it, so that `ownFrame` knows to copy it.
const scratch = new Scratch();
let scratchFrame: Uint8Array | null = null;
const SCRATCH_MOST = 64 * 1024;

function output(n: number, toScratch: boolean): Uint8Array {
  if (!toScratch || n > SCRATCH_MOST) return new Uint8Array(n);
  return scratchFrame = scratch.view(n);
}

function tagOnly(tag: number, toScratch: boolean): Uint8Array {
  const out = output(1, toScratch);
  out[0] = tag;
  return out;
}

/**
 * An item as bytes. Throws SerializationError (naming `path`, such as
 * `item` or `item.fn`) for what cannot cross; nothing is stored then.
 * `toScratch`: a small item may come in this thread's scratch memory, good
 * until the next such call (for a caller that copies it at once, or calls
 * `ownFrame`).
 */
export function encodeItem(value: unknown, path: string, toScratch = false): Frame {
  switch (typeof value) {
    case "number": {
      const out = output(9, toScratch);
      out[0] = NUMBER;
      putF64(out, 1, value);
      return out;
    }
    case "string": {
      // UTF-8 cannot hold a lone surrogate: such a string takes the
      // structured-clone path, which keeps it.
      if (!(value as { isWellFormed?: () => boolean }).isWellFormed?.()) break;
      if (value.length > 65536) return [Uint8Array.of(STRING), encoder.encode(value)];
      const out = output(1 + value.length * 3, toScratch);
      out[0] = STRING;
      if (out !== scratchFrame) return out.subarray(0, 1 + encoder.encodeInto(value, out.subarray(1)).written);
      return scratchFrame = scratch.view(1 + encoder.encodeInto(value, scratch.fromOne()).written);
    }
    case "boolean":
      return tagOnly(value ? TRUE : FALSE, toScratch);
    case "undefined":
      return tagOnly(UNDEFINED, toScratch);
  }
  if (value === null) return tagOnly(NULL, toScratch);
  const typed = encodeTyped(value);
  if (typed) return typed;
  const encoded = encodeValue(value, path, false, "item");
  let body: Uint8Array;
  try {
    body = getHost().serialize(encoded);
  } catch (e) {
    throw new SerializationError(`Cannot send ${path}: ${(e as Error).message}`, path, { cause: e });
  }
  return [Uint8Array.of(CLONED), body];
}

function encodeTyped(value: unknown): Frame | null {
  const isBuffer = value instanceof ArrayBuffer;
  if (!isBuffer && !ArrayBuffer.isView(value)) return null;
  const bytes = isBuffer ? value.byteLength : (value as ArrayBufferView).byteLength;
  if (bytes < TYPED_MIN) return null;
  const kind = KINDS.findIndex((k) => (value as object).constructor === k);
  if (kind < 0 || (isBuffer && (value as ArrayBuffer & { resizable?: boolean }).resizable)) return null;
  const view = value as ArrayBufferView;
  const body = isBuffer ? new Uint8Array(value) : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const head = new Uint8Array(TYPED_HEAD);
  head[0] = TYPED;
  head[1] = kind;
  return [head, body];
}

function decodeTyped(frame: Uint8Array): unknown {
  // The frame is a fresh copy: the value is a view of it, past its head
  // (8 bytes, so that every element type is aligned).
  const kind = KINDS[frame[1]];
  if (frame.byteOffset % 8 !== 0) frame = new Uint8Array(frame); // a view must be aligned: copy
  const start = frame.byteOffset + TYPED_HEAD;
  const length = frame.byteLength - TYPED_HEAD;
  if (kind === ArrayBuffer) return frame.buffer.slice(start, start + length);
  const per = (kind as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
  return new (kind as unknown as new (b: ArrayBufferLike, o: number, n: number) => unknown)(frame.buffer, start, length / per);
}

/**
 * A frame that no longer shares memory with the caller's value (a typed
 * array's bytes are referenced, not copied, until they are written) or with
 * scratch memory: for a put that has to wait, so that changing the array
 * meanwhile, or the next put, changes nothing.
 */
export function ownFrame(frame: Frame): Frame {
  if (frame === scratchFrame) return (frame as Uint8Array).slice();
  return frame instanceof Uint8Array || frame[0][0] === CLONED ? frame : [frame[0], frame[1].slice()];
}

/** Bytes given to `sendBytes`, tagged so that `recv` can tell them apart. */
export function encodeBytes(bytes: Uint8Array): Frame {
  return [Uint8Array.of(BYTES), bytes];
}

/**
 * An item back from its bytes. Raw bytes come back as a Uint8Array.
 * `borrowed`: the bytes are scratch memory, reused after this call (what
 * the item keeps of them is copied).
 */
export function decodeItem(bytes: Uint8Array, borrowed = false): unknown {
  switch (bytes[0]) {
    case NUMBER:
      return getF64(bytes, 1);
    case STRING:
      // (a view of scratch memory over its buffer: `subarray` costs more on some runtimes)
      return decoder.decode(borrowed ? new Uint8Array(bytes.buffer, bytes.byteOffset + 1, bytes.length - 1) : bytes.subarray(1));
    case BYTES:
      return borrowed ? bytes.slice(1) : bytes.subarray(1);
    case CLONED:
      // (the deserializer copies what it keeps)
      return decodeValue(getHost().deserialize(bytes.subarray(1)));
    case TYPED:
      return decodeTyped(borrowed ? bytes.slice() : bytes);
  }
  if (bytes[0] in CONSTANTS) return CONSTANTS[bytes[0]];
  throw new Error(`multiproc: a queue item with unknown tag ${bytes[0]} (a bug in multiproc)`);
}
