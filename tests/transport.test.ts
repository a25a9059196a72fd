// How values and functions cross (lib/transport): the error envelope, the
// walk that finds what cannot cross, and how a function is resolved.
import fc from "fast-check";
import { decodeValue, encodeValue } from "../lib/transport/values.ts";
import { resolveFunction } from "../lib/transport/functions.ts";
import { EOFError, SerializationError, task } from "../mod.ts";
import { assert, assertEquals, assertThrows, test } from "./harness.ts";

const cross = (value: unknown) => decodeValue(structuredClone(encodeValue(value, "value", true)));

class CustomError extends Error {
  override name = "CustomError";
}

test("errors keep class, message, stack, cause chain and own properties", () => {
  const root = Object.assign(new TypeError("root"), { errno: -2 });
  const err = Object.assign(new RangeError("outer", { cause: root }), { code: "E_OUT", detail: { n: 1 } });
  const back = cross(err) as RangeError & { code: string; detail: { n: number } };
  assert(back instanceof RangeError);
  assertEquals(back.message, "outer");
  assertEquals(back.code, "E_OUT");
  assertEquals(back.detail, { n: 1 });
  assert(back.stack!.includes(err.stack!.split("\n")[1].trim()), "remote frames kept");
  assert(back.stack!.includes("received from another process"), "local frames appended");
  assert(back.cause instanceof TypeError);
  assertEquals((back.cause as TypeError & { errno: number }).errno, -2);
});

test("our error classes come back as themselves; unknown classes keep their name", () => {
  assert(cross(new EOFError()) instanceof EOFError);
  const custom = cross(new CustomError("x")) as Error;
  assertEquals(custom.name, "CustomError");
  assertEquals(custom.constructor.name, "CustomError");
  assert(custom instanceof Error);
  const agg = cross(new AggregateError([new Error("a"), 1], "many")) as AggregateError;
  assert(agg instanceof AggregateError);
  assertEquals(agg.errors[1], 1);
  assertEquals((agg.errors[0] as Error).message, "a");
});

test("errors nested in arrays, maps, sets and objects are rebuilt", () => {
  const value = { list: [new TypeError("t")], map: new Map([["k", new RangeError("r")]]), set: new Set([new EOFError()]) };
  const back = cross(value) as typeof value;
  assert(back.list[0] instanceof TypeError);
  assert(back.map.get("k") instanceof RangeError);
  assert([...back.set][0] instanceof EOFError);
});

test("what cannot cross is refused with its path", () => {
  const cases: Array<[unknown, string]> = [
    [{ a: [1, { cb: () => 1 }] }, "value.a[1].cb"],
    [[Symbol("s")], "value[0]"],
    [new Map([["key", Promise.resolve(1)]]), "value.key"],
    [{ "odd key": new WeakMap() }, `value["odd key"]`],
    [new Set([1, () => 2]), "value.values()[1]"],
  ];
  for (const [value, path] of cases) {
    const e = assertThrows(() => encodeValue(value, "value"), SerializationError, path) as SerializationError;
    assertEquals(e.path, path);
  }
});

test("cycles and shared references survive", () => {
  const node: { self?: unknown; err?: Error } = {};
  node.self = node;
  node.err = new Error("in a cycle");
  const back = cross(node) as typeof node;
  assert(back.self === back);
  assert(back.err instanceof Error);
});

test("property: anything structured clone keeps comes back deep-equal", () => {
  fc.assert(
    fc.property(fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withTypedArray: true }), (v) => {
      assertEquals(cross(v), v);
    }),
    { numRuns: 300 },
  );
});

const LIMIT = 10;
function usesLimit(x: number): number {
  return Math.min(x, LIMIT);
}
export function exportedUsesLimit(x: number): number {
  return Math.min(x, LIMIT);
}
const registered = task(import.meta.url, (x: number) => usesLimit(x));

test("functions resolve by source, main export or task(), or fail clearly", () => {
  assertEquals(resolveFunction((a: number) => a * 2, "fn").type, "source");
  assertEquals(resolveFunction(function named(a: number) { return Math.abs(a); }, "fn").type, "source");
  assertEquals(resolveFunction({ m(x: number) { return x; } }.m, "fn").type, "source");
  const main = resolveFunction(exportedUsesLimit, "fn");
  assertEquals(main.type, "main");
  assertEquals((main as { name: string }).name, "exportedUsesLimit");
  const ref = resolveFunction(registered, "fn");
  assertEquals(ref.type, "task");
  assertEquals((ref as { index: number }).index, 0);
  const e = assertThrows(() => resolveFunction(usesLimit, "the target"), TypeError, `"LIMIT"`);
  assert(e.message.includes(`"usesLimit"`) && e.message.includes("export it"), e.message);
  assertThrows(() => resolveFunction(Math.max, "fn"), TypeError, "native");
  assertThrows(() => resolveFunction(((x: number) => x).bind(null), "fn"), TypeError, "bound");
  assertThrows(() => resolveFunction(class A {}, "fn"), TypeError, "class");
  assertThrows(() => resolveFunction("f" as never, "the target"), TypeError, "expected a function");
  assertThrows(() => task("not a url", () => 1), TypeError, "import.meta.url");
  assertThrows(() => task(import.meta.url, 3 as never), TypeError, "must be a function");
});
