import fc from "fast-check";
import { test, assert, assertEquals, assertThrows } from "./harness.ts";
import { freeVariables, functionExpressionSource } from "../lib/transport/freevars.ts";

const isGlobal = (n: string): boolean => n in globalThis;
const none = (_n: string): boolean => false;

// ---------------------------------------------------------------------------
// Table of representative sources: [feature, source, expected free variables]
// ---------------------------------------------------------------------------

const CASES: [string, string, string[]][] = [
  // parameters
  ["params with destructuring, defaults and rest", "function f(a, {b, c: [d]} = {}, ...rest) { return a + b + d + rest.length + e }", ["e"]],
  ["async arrow with pattern params", "async (a, {b, c: [d]} = {}, ...rest) => { return a + b + x }", ["x"]],
  ["single-param arrow", "x => x + y", ["y"]],
  ["async single-param arrow", "async x => await x + y", ["y"]],
  ["defaults inside params are references", "(a = b, {c = d} = e) => a + c", ["b", "d", "e"]],
  ["computed key in param pattern is a reference", "({ [k]: v }) => v", ["k"]],
  // declarations
  ["let/const destructuring, holes, rest, defaults", "() => { const {p, q: [r = s]} = o; let [t, , ...u] = v; return p + q + r + t + u }", ["s", "o", "v", "q"]],
  ["for-of destructuring declaration", "() => { for (const [k, w] of m) k + w + z }", ["m", "z"]],
  ["for-in and multi-declarator for", "() => { for (const k in obj) k; for (let i = 0, n = arr.length; i < n; i++) i }", ["obj", "arr"]],
  ["`in` inside an initializer keeps the declarator list open", "() => { const has = 'a' in obj, other = 1; for (const [k] in o) k; return has && other }", ["obj", "o"]],
  ["var without semicolons (ASI)", "() => { var a = 1\n const b = 2\n return a + b + c, d }", ["c", "d"]],
  ["ASI ends a declarator list", "function () { let x = 1\n x++, y++; let z = a\n , w = b\n + c; return z + w }", ["y", "a", "b", "c"]],
  ["declarator list with function initializers", "() => { const f = async x => x + y, h = async (p) => p + q; return f(1) + h(2) }", ["y", "q"]],
  ["function declaration and recursion", "function fact(n) { return n <= 1 ? 1 : n * fact(n - 1) * k }", ["k"]],
  ["nested function declaration", "function () { function inner(){ return q } return inner() }", ["q"]],
  ["named function expression", "function () { const x = function named() { return named }; return x }", []],
  ["class declaration and named class expression", "() => { class A {} const C = class Named { m() { return Named + other } }; return new A() && C }", ["other"]],
  ["catch parameter with destructuring", "function () { try { f() } catch ({ message }) { return message + e } }", ["f", "e"]],
  ["catch parameter and finally", "function () { try { f() } catch (err) { return err } finally { g } }", ["f", "g"]],
  ["optional catch binding", "() => { try { a() } catch { b() } }", ["a", "b"]],
  // tokenizer
  ["comments and strings hide names", "() => { // a b c\n /* d e */ return 'f g' + \"h\\\" i\" + j }", ["j"]],
  ["templates with nested templates and braces", "() => `a${b + `c${d}`}e${ {f: g}.f }` / h", ["b", "d", "g", "h"]],
  ["template text is not code", "() => `x ${'}'} y \\${z} ${w}`", ["w"]],
  ["regex vs division", "() => /[/]\\/x/g.test(s) ? a / b / c : 1", ["s", "a", "b", "c"]],
  ["regex after keyword and control paren", "() => { if (x) /re'/.test(y); return /a\"b/.source + typeof /c`/ + z }", ["x", "y", "z"]],
  ["regex after closing brace", "() => { if (a) {} /b'c/.test(d) }", ["a", "d"]],
  ["division after ) and ]", "() => (a) / b + c[0] / d", ["a", "b", "c", "d"]],
  ["numbers", "() => 1e3 + 0x1F + 1_000 + 10n + .5 + 1..toString() + 0b1_0 + 0o7 + 2e-3 + x", ["x"]],
  ["private names", "() => #p in obj && this.#q", ["obj"]],
  ["unicode, $ and _ identifiers", "() => { let ñ = 1, $a = 2, _b = 3; return ñ + $a + _b + ü + $c + _d + \\u0061x + 𝑓 }", ["ü", "$c", "_d", "ax", "𝑓"]],
  // non-references
  ["keywords and literals", "function () { return new.target && import.meta && this && arguments && super.x && typeof y && undefined && null && true }", ["y"]],
  ["dynamic import is not a reference", "async () => (await import(spec)).default", ["spec"]],
  ["property names after . and ?.", "() => a?.b?.[c]?.(d).e.f", ["a", "c", "d"]],
  ["keywords as property names and keys", "() => x.class + x.function + ({ class: 1, let: 2, delete() {} }) && y", ["x", "y"]],
  ["object literal keys, methods, accessors, computed keys", "() => ({ a, b: c, d() { return e }, get f() { return g }, set f(v) { h = v }, [i]: j, ...k })", ["a", "c", "e", "g", "h", "i", "j", "k"]],
  ["object methods with modifiers and contextual names", "() => ({ async am() { a }, *gm() { b }, async *agm() { c }, get() { d }, async: e, of: f })", ["a", "b", "c", "d", "e", "f"]],
  ["labels in break/continue and label statements", "() => { outer: for (;;) { if (x) break outer; continue outer; } label: { break label } }", ["x"]],
  ["case expressions are references, ternary branches too", "() => { switch (a) { case b: return c ? d : e; default: return { f: 1 } } }", ["a", "b", "c", "d", "e"]],
  ["nested ternaries", "() => a ? b ? c : d : e", ["a", "b", "c", "d", "e"]],
  ["class bodies: fields, methods, accessors, static blocks", "() => { class A extends B { static x = y; #p = z; q\n w = u; m(a1) { return a1 + this.#p + n } get v() { return 1 } static { k() } [c] = d } return new A }", ["B", "y", "z", "u", "n", "k", "c", "d"]],
  ["class field arrow initializer without semicolon", "() => class { f = () => { return a }\n g() { return b } }", ["a", "b"]],
  ["shorthand properties are references", "() => ({ alpha, beta })", ["alpha", "beta"]],
  ["destructuring assignment targets are references", "() => { let x; [y, z] = [x, w]; ({ a, b } = obj) }", ["y", "z", "w", "a", "b", "obj"]],
  ["tsx __name is not free", "function () { function inner(){ return q } __name(inner, \"inner\"); const f = __name((x) => x, \"f\"); return inner() + f }", ["q"]],
  ["contextual keywords as variables", "() => async(of) + get(set, x => x) + of", ["async", "of", "get", "set"]],
  ["async/await and generators", "async function* g() { yield await x; for await (const y of z) y }", ["x", "z"]],
  ["spread and tagged templates", "() => tag`a${b}` + f(...args)", ["tag", "b", "f", "args"]],
  ["arrow returning object literal", "() => ({ key: value, other })", ["value", "other"]],
  ["first-use order and dedupe", "() => c + a + b + a + c", ["c", "a", "b"]],
];

for (const [feature, source, expected] of CASES) {
  test(`freeVariables: ${feature}`, () => {
    assertEquals(freeVariables(source, none), expected, source);
  });
}

test("freeVariables: isGlobal filters globals", () => {
  assertEquals(freeVariables("() => Math.max(x, JSON.stringify(y), console, z)", isGlobal), ["x", "y", "z"]);
  assertEquals(freeVariables("() => Math.max(x)", none), ["Math", "x"]);
});

test("freeVariables: malformed source throws SyntaxError", () => {
  assertThrows(() => freeVariables("() => 'abc", none), SyntaxError, "string");
  assertThrows(() => freeVariables("() => `a${b", none), SyntaxError);
  assertThrows(() => freeVariables("() => { /* x", none), SyntaxError, "comment");
  assertThrows(() => freeVariables("() => { (a }", none), SyntaxError);
});

// ---------------------------------------------------------------------------
// functionExpressionSource
// ---------------------------------------------------------------------------

const SHAPES: [string, string | null][] = [
  ["function f(a) { return a }", "function f(a) { return a }"],
  ["async function f() {}", "async function f() {}"],
  ["function* g() {}", "function* g() {}"],
  ["x => x", "x => x"],
  ["async (a) => a", "async (a) => a"],
  ["async x=>x", "async x=>x"],
  ["m(x) { return x }", "function m(x) { return x }"],
  ["m (x) {\n    return x;\n  }", "function m(x) {\n    return x;\n  }"],
  ["async am() {}", "async function am() {}"],
  ["*gm() {}", "function* gm() {}"],
  ["async *ag() {}", "async function* ag() {}"],
  ["async*ag(){}", "async function* ag(){}"],
  ["get() { return 1 }", "function get() { return 1 }"],
  ["async() {}", "function async() {}"],
  ["[Symbol.iterator]() {}", "function () {}"],
  ["\"q x\"() {}", "function () {}"],
  ["delete() {}", "function () {}"],
  ["m() { return m }", "function () { return m }"],
  ["get g() { return 1 }", null],
  ["set s(v) {}", null],
  ["class K {}", null],
  ["class extends Base {}", null],
  ["function push() { [native code] }", null],
  ["function () { [native code] }", null],
];

test("functionExpressionSource: shapes", () => {
  for (const [source, expected] of SHAPES) {
    assertEquals(functionExpressionSource(source), expected, source);
  }
});

// ---------------------------------------------------------------------------
// Real fn.toString() output (transformed by tsx / Node type stripping / Deno / Bun)
// ---------------------------------------------------------------------------

// Values are computed so that no transpiler can inline them as constants.
const factor = Math.max(2, Number("3"));
const table: Record<string, number> = { "4": 1 };
let limit = Number("10");
limit += 0;

function typedWorker(values: number[], opts: { scale?: number } = {}): number[] {
  function inner(v: number): number {
    return v * factor * (opts.scale ?? 1);
  }
  const tag = (s: string): string => `${s}:${limit}`;
  return values.map(inner).filter((v: number) => v in table || tag("x").length > v / 10);
}

const methods = {
  scale(x: number): number {
    return x * factor;
  },
  async addLimit(n: number): Promise<number> {
    return (await Promise.resolve(n)) + limit;
  },
  *range(n: number): Generator<number> {
    for (let i = 0; i < n; i++) yield i * factor;
  },
  get current(): number {
    return factor;
  },
};

class Shape {
  static area(w: number, h: number): number {
    return w * h * factor;
  }
}

const asyncArrow = async ({ a, b: [c] }: { a: number; b: number[] }): Promise<number> =>
  a + (await Promise.resolve(c)) + limit;

type Rebuilt = (...args: unknown[]) => unknown;

/** Rebuilds a function from its source the way a transport would, giving it its free variables. */
function rebuild(fn: { toString(): string }, scope: Record<string, unknown>): Rebuilt {
  const src = functionExpressionSource(fn.toString());
  assert(src !== null, `not transportable: ${fn.toString()}`);
  const names = freeVariables(fn.toString(), isGlobal);
  for (const name of names) assert(name in scope, `unexpected free variable ${name} in ${fn.toString()}`);
  const shim = (f: unknown): unknown => f; // what tsx's keepNames helper does, minus naming
  const make = new Function("__name", ...names, `return (${src});`) as (...args: unknown[]) => Rebuilt;
  return make(shim, ...names.map((n) => scope[n]));
}

const SCOPE: Record<string, unknown> = { factor, table, limit };

test("real toString: typed function with nested named function", () => {
  const source = typedWorker.toString();
  assertEquals(freeVariables(source, isGlobal), ["factor", "limit", "table"], source);
  const copy = rebuild(typedWorker, SCOPE);
  assertEquals(copy([1, 2, 4]), typedWorker([1, 2, 4]));
});

test("real toString: arrows and function expressions", () => {
  const arrow = (xs: number[]): number => xs.reduce((acc, x) => acc + x * factor, limit);
  const expr = function named(n: number): number {
    return n <= 0 ? 0 : factor + named(n - 1);
  };
  assertEquals(freeVariables(arrow.toString(), isGlobal), ["factor", "limit"]);
  assertEquals(freeVariables(asyncArrow.toString(), isGlobal), ["limit"]);
  assertEquals(freeVariables(expr.toString(), isGlobal), ["factor"]);
  assertEquals(rebuild(arrow, SCOPE)([1, 2]), arrow([1, 2]));
  assertEquals(rebuild(expr, SCOPE)(3), expr(3));
});

test("real toString: async arrow rebuilt and awaited", async () => {
  assertEquals(await rebuild(asyncArrow, SCOPE)({ a: 1, b: [2] }), 13);
});

test("real toString: object methods and static methods", async () => {
  assertEquals(freeVariables(methods.scale.toString(), isGlobal), ["factor"]);
  assertEquals(rebuild(methods.scale, SCOPE)(5), 5 * factor);
  assertEquals(await rebuild(methods.addLimit, SCOPE)(1), 1 + limit);
  assertEquals([...(rebuild(methods.range, SCOPE)(3) as Iterable<number>)], [0, factor, 2 * factor]);
  assertEquals(rebuild(Shape.area, SCOPE)(2, 3), 6 * factor);
  const scaleSrc = functionExpressionSource(methods.scale.toString());
  assert(scaleSrc !== null && /^function\s+scale\s*\(/.test(scaleSrc), String(scaleSrc));
  const getter = Object.getOwnPropertyDescriptor(methods, "current")?.get;
  assert(getter !== undefined);
  assertEquals(functionExpressionSource(getter.toString()), null);
  assertEquals(functionExpressionSource(Shape.toString()), null);
  assertEquals(functionExpressionSource([].push.toString()), null);
  assertEquals(functionExpressionSource(typedWorker.bind(null).toString()), null);
});

// ---------------------------------------------------------------------------
// Property: generated programs (declarations + references) vs. expected free set
// ---------------------------------------------------------------------------

/** Generated code with the names it references and declares, in textual order. */
interface Src {
  readonly code: string;
  readonly refs: readonly string[];
  readonly decls: readonly string[];
}

// Declarations draw from the first half of NAMES, references from all of it, so programs have free names.
const NAMES = ["alpha", "beta", "gamma", "x1", "$d", "ñu", "delta", "_e", "𝑓", "omega", "zeta", "$"];
const lit = (code: string): Src => ({ code, refs: [], decls: [] });
const cat = (...parts: (string | Src)[]): Src => {
  const items = parts.map((p) => (typeof p === "string" ? lit(p) : p));
  return {
    code: items.map((p) => p.code).join(""),
    refs: items.flatMap((p) => p.refs),
    decls: items.flatMap((p) => p.decls),
  };
};
const list = (items: readonly Src[], sep: string): Src => cat(...items.flatMap((s, i) => (i === 0 ? [s] : [sep, s])));
const nameArb = fc.constantFrom(...NAMES);
const ref = nameArb.map((n): Src => ({ code: n, refs: [n], decls: [] }));
const decl = fc.constantFrom(...NAMES.slice(0, 6)).map((n): Src => ({ code: n, refs: [], decls: [n] }));
const key = nameArb.map(lit);
const leaf: fc.Arbitrary<Src> = fc.oneof(
  { arbitrary: ref, weight: 4 },
  fc.constantFrom("1", "0x1F", "1_000", "10n", ".5", "1e3").map(lit),
  nameArb.map((n) => lit(`"${n} \\" ${n}"`)),
  nameArb.map((n) => lit(`'${n}'`)),
  nameArb.map((n) => lit(`/${n}[/]\\/'"\`/g`)),
  nameArb.map((n) => lit(`\`${n} \\\${${n}}\``)),
  nameArb.map((n) => lit(`this.${n}`)),
);

const { expr, pattern, stmt } = fc.letrec<{ expr: Src; pattern: Src; stmt: Src }>((tie) => {
  const e = tie("expr");
  const p = tie("pattern");
  const s = tie("stmt");
  const block = fc.array(s, { maxLength: 3 }).map((ss) => cat("{ ", list(ss, " "), " }"));
  const d = { maxDepth: 3, depthIdentifier: "program", withCrossShrink: true } as const;
  return {
    expr: fc.oneof(
      d,
      leaf,
      fc.tuple(e, fc.constantFrom("+", "/", "*", "&&"), e).map(([a, op, b]) => cat("(", a, `) ${op} (`, b, ")")),
      fc.tuple(e, e, e).map(([a, b, c]) => cat("(", a, " ? ", b, " : ", c, ")")),
      fc.tuple(ref, fc.array(e, { maxLength: 2 })).map(([f, args]) => cat(f, "(", list(args, ", "), ")")),
      fc.tuple(e, key).map(([a, k]) => cat("(", a, ").", k, " ?.", k)),
      fc.tuple(key, e, ref, e, e, key, e).map(([k, v, sh, ck, cv, m, body]) =>
        cat("({ ", k, ": ", v, ", ", sh, ", [", ck, "]: ", cv, ", ", m, "() { return ", body, " } })")),
      fc.tuple(fc.array(p, { maxLength: 2 }), e).map(([ps, body]) => cat("((", list(ps, ", "), ") => (", body, "))")),
      fc.tuple(decl, e).map(([x, body]) => cat("(", x, " => ", body, ")")),
      fc.tuple(e, e).map(([a, b]) => cat("`t${", a, "}u${ {k: ", b, "}.k }`")),
      fc.tuple(decl, p, block).map(([n, ps, b]) => cat("(function ", n, "(", ps, ") ", b, ")")),
      fc.tuple(e, nameArb).map(([a, n]) => cat(a, ` /* ${n} */ // ${n}\n`)),
    ),
    pattern: fc.oneof(
      d,
      decl,
      fc.tuple(decl, key, p, decl, e, e, p).map(([a, k, b, c, dv, ck, cp]) =>
        cat("{ ", a, ", ", k, ": ", b, ", ", c, " = ", dv, ", [", ck, "]: ", cp, " }")),
      fc.tuple(p, p, e, decl).map(([a, b, dv, r]) => cat("[", a, ", , ", b, " = ", dv, ", ...", r, "]")),
    ),
    stmt: fc.oneof(
      d,
      fc.tuple(fc.constantFrom("const", "let", "var"), p, e).map(([k, a, v]) => cat(`${k} `, a, " = ", v, ";")),
      fc.tuple(p, e, p, e).map(([a, v, b, w]) => cat("let ", a, " = ", v, ", ", b, " = ", w, "\n")),
      e.map((x) => cat("(", x, ");")),
      fc.tuple(decl, p, block).map(([n, ps, b]) => cat("function ", n, "(", ps, ") ", b)),
      fc.tuple(e, block, block).map(([c, a, b]) => cat("if (", c, ") ", a, " else ", b)),
      fc.tuple(p, e, block).map(([a, it, b]) => cat("for (const ", a, " of ", it, ") ", b)),
      fc.tuple(block, p, block).map(([a, c, b]) => cat("try ", a, " catch (", c, ") ", b)),
      fc.tuple(decl, ref, key, e, key, p, block).map(([n, base, f, v, m, ps, b]) =>
        cat("class ", n, " extends ", base, " { ", f, " = ", v, "; ", m, "(", ps, ") ", b, " }")),
      fc.tuple(key, block).map(([l, b]) => cat(l, ": for (;;) { break ", l, "; continue ", l, "; ", b, " }")),
      fc.tuple(e, e, block).map(([x, c, b]) => cat("switch (", x, ") { case ", c, ": ", b, " default: break }")),
      e.map((x) => cat("return ", x, ";")),
    ),
  };
});

const program = fc
  .tuple(fc.constantFrom("function (", "async function* gen(", "(", "async ("), fc.array(pattern, { maxLength: 2 }), fc.array(stmt, { maxLength: 4 }))
  .map(([head, params, body]): Src => {
    const arrow = head === "(" || head === "async (";
    const named = head.startsWith("async function*") ? ["gen"] : [];
    const src = cat(head, list(params, ", "), arrow ? ") => { " : ") { ", list(body, "\n"), " }");
    return { ...src, decls: [...src.decls, ...named] };
  });

test("property: free set of generated programs equals referenced-but-undeclared names", () => {
  fc.assert(
    fc.property(program, (p) => {
      const declared = new Set(p.decls);
      const expected = [...new Set(p.refs)].filter((n) => !declared.has(n));
      assertEquals(freeVariables(p.code, none), expected, p.code);
    }),
    { numRuns: 400 },
  );
});

test("property: generated expressions are tokenized without error and references are found", () => {
  fc.assert(
    fc.property(expr, (x) => {
      const src = `() => (${x.code})`;
      const declared = new Set(x.decls);
      assertEquals(freeVariables(src, none), [...new Set(x.refs)].filter((n) => !declared.has(n)), src);
    }),
    { numRuns: 300 },
  );
});
