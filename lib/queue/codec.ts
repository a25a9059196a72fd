// Items as bytes, for the ring and for the wire to remote holders. One tag
// byte, then the payload: numbers, strings and the small constants skip
// structured clone (most queue traffic is made of them); everything else
// is our value encoding (errors as envelopes) under the runtime's
// structured-clone serializer, so an item keeps whatever structured clone
// keeps.
import { SerializationError } from "../errors.ts";
import { getHost } from "../runtime/host.ts";
import { decodeValue, encodeValue } from "../transport/values.ts";

const CLONED = 0;
const NUMBER = 1;
const STRING = 2;
const TRUE = 3;
const FALSE = 4;
const NULL = 5;
const UNDEFINED = 6;
/** Raw bytes from `sendBytes`, kept apart from values. */
export const BYTES = 7;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CONSTANTS: Record<number, unknown> = { [TRUE]: true, [FALSE]: false, [NULL]: null, [UNDEFINED]: undefined };

/**
 * An item as bytes. Throws SerializationError (naming `path`, such as
 * `item` or `item.fn`) for what cannot cross; nothing is stored then.
 */
export function encodeItem(value: unknown, path: string): Uint8Array {
  switch (typeof value) {
    case "number": {
      const out = new Uint8Array(9);
      out[0] = NUMBER;
      new DataView(out.buffer).setFloat64(1, value, true);
      return out;
    }
    case "string": {
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
  const encoded = encodeValue(value, path, false, "item");
  let body: Uint8Array;
  try {
    body = getHost().serialize(encoded);
  } catch (e) {
    throw new SerializationError(`Cannot send ${path}: ${(e as Error).message}`, path, { cause: e });
  }
  const out = new Uint8Array(1 + body.length);
  out[0] = CLONED;
  out.set(body, 1);
  return out;
}

/** Bytes given to `sendBytes`, tagged so that `recv` can tell them apart. */
export function encodeBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + bytes.length);
  out[0] = BYTES;
  out.set(bytes, 1);
  return out;
}

/** An item back from its bytes. Raw bytes come back as a Uint8Array. */
export function decodeItem(bytes: Uint8Array): unknown {
  switch (bytes[0]) {
    case NUMBER:
      return new DataView(bytes.buffer, bytes.byteOffset + 1, 8).getFloat64(0, true);
    case STRING:
      return decoder.decode(bytes.subarray(1));
    case BYTES:
      return bytes.subarray(1);
    case CLONED:
      return decodeValue(getHost().deserialize(bytes.subarray(1)));
  }
  if (bytes[0] in CONSTANTS) return CONSTANTS[bytes[0]];
  throw new Error(`multiproc: a queue item with unknown tag ${bytes[0]} (a bug in multiproc)`);
}
