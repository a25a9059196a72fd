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

/**
 * An item as bytes. Throws SerializationError (naming `path`, such as
 * `item` or `item.fn`) for what cannot cross; nothing is stored then.
 */
export function encodeItem(value: unknown, path: string): Frame {
  switch (typeof value) {
    case "number": {
      const out = new Uint8Array(9);
      out[0] = NUMBER;
      putF64(out, 1, value);
      return out;
    }
    case "string": {
      // UTF-8 cannot hold a lone surrogate: such a string takes the
      // structured-clone path, which keeps it.
      if (!(value as { isWellFormed?: () => boolean }).isWellFormed?.()) break;
      if (value.length > 65536) return [Uint8Array.of(STRING), encoder.encode(value)];
      const out = new Uint8Array(1 + value.length * 3);
      out[0] = STRING;
      const { written } = encoder.encodeInto(value, out.subarray(1));
      return out.subarray(0, 1 + written);
    }
    case "boolean":
      return Uint8Array.of(value ? TRUE : FALSE);
    case "undefined":
      return Uint8Array.of(UNDEFINED);
  }
  if (value === null) return Uint8Array.of(NULL);
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
 * array's bytes are referenced, not copied, until they are written): for a
 * put that has to wait, so that changing the array meanwhile changes nothing.
 */
export function ownFrame(frame: Frame): Frame {
  return frame instanceof Uint8Array || frame[0][0] === CLONED ? frame : [frame[0], frame[1].slice()];
}

/** Bytes given to `sendBytes`, tagged so that `recv` can tell them apart. */
export function encodeBytes(bytes: Uint8Array): Frame {
  return [Uint8Array.of(BYTES), bytes];
}

/** An item back from its bytes. Raw bytes come back as a Uint8Array. */
export function decodeItem(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER:
      return getF64(bytes, 1);
    case STRING:
      return decoder.decode(bytes.subarray(1));
    case BYTES:
      return bytes.subarray(1);
    case CLONED:
      return decodeValue(getHost().deserialize(bytes.subarray(1)));
    case TYPED:
      return decodeTyped(bytes);
  }
  if (bytes[0] in CONSTANTS) return CONSTANTS[bytes[0]];
  throw new Error(`multiproc: a queue item with unknown tag ${bytes[0]} (a bug in multiproc)`);
}
