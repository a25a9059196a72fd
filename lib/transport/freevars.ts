/**
 * Free-variable analysis of function source text, used to decide which
 * surrounding values a function shipped to another worker needs.
 *
 * Scoping is approximate: a name declared anywhere inside the function counts
 * as declared throughout it (see {@link freeVariables}).
 *
 * @module
 */
import { tokenize, type Token } from "./tokenize.ts";

/** Words that are never variable references. */
const RESERVED: ReadonlySet<string> = new Set(
  ("break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "yield let static implements interface package private protected public await arguments undefined")
    .split(" "),
);
/** Keywords that end a `var`/`let`/`const` declarator list at their level. */
const STATEMENT = new Set(["if", "for", "while", "do", "else", "return", "throw", "switch", "try", "break", "continue"]);
/** Names injected by tooling (tsx/esbuild keepNames) that are never free. */
const TOOLING = new Set(["__name"]);
const OPEN: Record<string, string> = { "(": ")", "[": "]", "{": "}", "${": "}" };
/** Roles of a `:` token (see {@link colonRoles}). */
const COLON_TERNARY = 1;
const COLON_CASE = 2;
const COLON_OTHER = 3;

/** Pattern frames: `bind` expects a target, `key` an object-pattern key (or shorthand target), `expr` anything else. */
type PatternState = "bind" | "key" | "expr";

interface Frame {
  /** `code`: block/paren/bracket/template; `class`: class body; `obj`/`arr`: binding patterns (params are `arr`). */
  readonly kind: "code" | "class" | "obj" | "arr";
  /** Pattern frames: what the next token means. */
  state: PatternState;
  /** Code frames: a `var`/`let`/`const` declarator list is open at this level. */
  decl: boolean;
  /** Code frames: the next token is a binding target. */
  bind: boolean;
  /** `class` keywords whose body `{` will open at this level. */
  classes: number;
  /** Class frames: inside a field initializer. */
  init: boolean;
  /** Code frames: index of the last token of the latest binding target (to spot `for (const k in ..)`). */
  boundAt: number;
}

interface Analysis {
  readonly toks: Token[];
  /** For each bracket token, the index of its partner. */
  readonly match: Int32Array;
  /** For each `:`, its role: ternary, case or other (object key / label). */
  readonly colon: Uint8Array;
  readonly stack: Frame[];
  readonly declared: Set<string>;
  readonly refs: string[];
}

const is = (t: Token | undefined, value: string): boolean =>
  t !== undefined && t.value === value && (t.type === "punct" || t.type === "name");
const isDot = (t: Token | undefined): boolean => is(t, ".") || is(t, "?.");

function frame(kind: Frame["kind"], state: PatternState = kind === "arr" ? "bind" : "expr"): Frame {
  return { kind, state, decl: false, bind: false, classes: 0, init: false, boundAt: -1 };
}

/** Pairs brackets (including template `${ }`); throws on imbalance. */
function matchBrackets(toks: Token[]): Int32Array {
  const match = new Int32Array(toks.length).fill(-1);
  const open: number[] = [];
  toks.forEach((t, i) => {
    if (t.type !== "punct") return;
    if (t.value in OPEN) open.push(i);
    else if (t.value === ")" || t.value === "]" || t.value === "}") {
      const j = open.pop();
      if (j === undefined || OPEN[toks[j].value] !== t.value) {
        throw new SyntaxError(`Unbalanced ${JSON.stringify(t.value)} at offset ${t.start}`);
      }
      match[i] = j;
      match[j] = i;
    }
  });
  if (open.length > 0) throw new SyntaxError(`Unclosed ${JSON.stringify(toks[open[0]].value)}`);
  return match;
}

/** Classifies every `:` as ternary, `case` or other (object key / label), per bracket level. */
function colonRoles(toks: Token[]): Uint8Array {
  const roles = new Uint8Array(toks.length);
  const levels = [{ q: 0, c: 0 }];
  toks.forEach((t, i) => {
    const level = levels[levels.length - 1];
    if (t.type === "punct" && t.value in OPEN) levels.push({ q: 0, c: 0 });
    else if (t.type === "punct" && (t.value === ")" || t.value === "]" || t.value === "}")) levels.pop();
    else if (is(t, "?") && t.type === "punct") level.q++;
    else if (t.type === "name" && t.value === "case" && !isDot(toks[i - 1])) level.c++;
    else if (is(t, ":") && t.type === "punct") {
      roles[i] = level.q > 0 ? COLON_TERNARY : level.c > 0 ? COLON_CASE : COLON_OTHER;
      if (level.q > 0) level.q--;
      else if (level.c > 0) level.c--;
    }
  });
  return roles;
}

/** Whether the `(` at `i` opens a parameter list: `(..) {` (not after if/while/for/switch/with) or `(..) =>`. */
function isParams(a: Analysis, i: number): boolean {
  if (!is(a.toks[i], "(")) return false;
  const after = a.toks[a.match[i] + 1];
  if (is(after, "=>")) return true;
  if (!is(after, "{")) return false;
  const prev = a.toks[i - 1];
  const control = ["if", "while", "for", "switch", "with", "await"].some((k) => is(prev, k));
  return !control || isDot(a.toks[i - 2]);
}

/** Whether the `(` at `i` opens the parameters of a method or function with a block body. */
function isMethodParams(a: Analysis, i: number): boolean {
  return isParams(a, i) && is(a.toks[a.match[i] + 1], "{");
}

/** Whether a method head (`*`? then a key, then `(..) {`) starts at `i`. */
function isMethodHead(a: Analysis, i: number): boolean {
  const { toks } = a;
  if (is(toks[i], "*")) i++;
  const t = toks[i];
  if (t === undefined) return false;
  if (is(t, "[")) return isMethodParams(a, a.match[i] + 1);
  if (t.type === "name" || t.type === "str" || t.type === "num" || t.type === "priv") return isMethodParams(a, i + 1);
  return false;
}

/** Whether the name at `i` is a property name, object key, label or method name rather than a variable. */
function isKeyLike(a: Analysis, i: number): boolean {
  const { toks } = a;
  const next = toks[i + 1];
  if (isDot(toks[i - 1])) return true;
  if (is(next, ":") && a.colon[i + 1] === COLON_OTHER) return true;
  return isMethodParams(a, i + 1);
}

function declare(a: Analysis, name: string): void {
  if (!RESERVED.has(name)) a.declared.add(name);
}

/** Handles a keyword in expression/statement position; returns the index of the last token consumed. */
function keyword(a: Analysis, i: number, f: Frame): number {
  const { toks } = a;
  const v = toks[i].value;
  if (v === "var" || v === "let" || v === "const") {
    f.decl = f.bind = true;
  } else if (v === "function") {
    let j = i + 1;
    if (is(toks[j], "*")) j++;
    if (toks[j]?.type === "name" && !is(toks[j], "(")) {
      declare(a, toks[j].value);
      return j;
    }
  } else if (v === "class") {
    f.classes++;
    if (toks[i + 1]?.type === "name" && toks[i + 1].value !== "extends") {
      declare(a, toks[i + 1].value);
      return i + 1;
    }
  } else if (STATEMENT.has(v) || (v === "in" && f.boundAt === i - 1)) {
    f.decl = f.bind = false;
  }
  return i;
}

/** Whether a contextual word (`get`, `set`, `async`, `static`, `of`) at `i` acts as a keyword. */
function isContextual(a: Analysis, i: number): boolean {
  const { toks } = a;
  const v = toks[i].value;
  const next = toks[i + 1];
  if (v === "get" || v === "set" || v === "async" || v === "static") {
    if (isMethodHead(a, i + 1)) return true;
  }
  if (v === "async" && next !== undefined && !next.nl) {
    if (is(next, "function")) return true;
    if (next.type === "name" && is(toks[i + 2], "=>")) return true;
    if (is(next, "(") && is(toks[a.match[i + 1] + 1], "=>")) return true;
  }
  if (v === "of") {
    const prev = toks[i - 1];
    return prev !== undefined && ((prev.type === "name" && !RESERVED.has(prev.value)) || is(prev, "]") || is(prev, "}"));
  }
  return false;
}

/** Handles a name in expression position: reference, declaration (arrow param), keyword or key. */
function expressionName(a: Analysis, i: number, f: Frame): number {
  const { toks } = a;
  const t = toks[i];
  if (isKeyLike(a, i)) return i;
  if (RESERVED.has(t.value)) return keyword(a, i, f);
  if (is(toks[i + 1], "=>")) {
    declare(a, t.value);
  } else if ((is(toks[i - 1], "break") || is(toks[i - 1], "continue")) && !t.nl) {
    // label
  } else if (isContextual(a, i)) {
    if (t.value === "of") f.decl = f.bind = false;
  } else {
    a.refs.push(t.value);
  }
  return i;
}

/** Handles a name while `f` expects a binding target or an object-pattern key. */
function bindingName(a: Analysis, i: number, f: Frame): void {
  const t = a.toks[i];
  if (f.kind === "obj" && f.state === "key" && is(a.toks[i + 1], ":")) return; // `key: target`
  declare(a, t.value);
  if (f.kind === "code") {
    f.bind = false;
    f.boundAt = i;
  } else f.state = "expr";
}

function inBindingPosition(f: Frame): boolean {
  if (f.kind === "code") return f.bind;
  return f.state === "bind" || (f.kind === "obj" && f.state === "key");
}

/** Pushes the frame for the opening bracket at `i`. */
function openBracket(a: Analysis, i: number, f: Frame): void {
  const v = a.toks[i].value;
  if (inBindingPosition(f) && (v === "{" || v === "[") && !(f.kind === "obj" && f.state === "key")) {
    if (f.kind === "code") {
      f.bind = false;
      f.boundAt = a.match[i];
    } else f.state = "expr";
    a.stack.push(frame(v === "{" ? "obj" : "arr", v === "{" ? "key" : "bind"));
  } else if (v === "(" && isParams(a, i)) {
    a.stack.push(frame("arr"));
  } else if (v === "{" && f.classes > 0) {
    f.classes--;
    a.stack.push(frame("class"));
  } else {
    a.stack.push(frame("code"));
  }
}

/** Handles punctuation that changes the state of the current frame. */
function punctuation(a: Analysis, i: number, f: Frame): void {
  const v = a.toks[i].value;
  if (v === ",") {
    if (f.kind === "code") f.bind = f.decl;
    else if (f.kind !== "class") f.state = f.kind === "obj" ? "key" : "bind";
  } else if (v === ";") {
    f.decl = f.bind = f.init = false;
  } else if (v === "=" && f.kind === "class") {
    f.init = true;
  } else if (v === ":" && f.kind === "obj" && f.state === "key") {
    f.state = "bind";
  }
}

/** Whether `t` can end an expression. */
function endsExpression(t: Token | undefined): boolean {
  if (t === undefined) return false;
  if (t.type === "punct") return [")", "]", "}", "++", "--"].includes(t.value);
  return t.type !== "name" || !RESERVED.has(t.value) || ["this", "super", "null", "true", "false"].includes(t.value);
}

/** Whether automatic semicolon insertion ends the statement (or class field) before the token at `i`. */
function asiBefore(a: Analysis, i: number): boolean {
  const t = a.toks[i];
  if (!t.nl || t.type === "punct" || t.type === "tpl" || t.type === "regex") return false;
  return !(t.type === "name" && (t.value === "in" || t.value === "instanceof")) && endsExpression(a.toks[i - 1]);
}

function step(a: Analysis, i: number): number {
  const t = a.toks[i];
  const f = a.stack[a.stack.length - 1];
  if ((f.init || f.decl) && asiBefore(a, i)) f.init = f.decl = f.bind = false;
  if (t.type === "punct") {
    if (t.value in OPEN) openBracket(a, i, f);
    else if ((t.value === ")" || t.value === "]" || t.value === "}") && a.stack.length > 1) a.stack.pop();
    else punctuation(a, i, f);
    return i;
  }
  if (t.type !== "name") return i;
  if (f.kind === "class") {
    if (!f.init) return i; // member name or modifier
  } else if (inBindingPosition(f) && (f.kind !== "code" || !RESERVED.has(t.value))) {
    bindingName(a, i, f);
    return i;
  }
  return expressionName(a, i, f);
}

function analyze(source: string): Analysis {
  const toks = tokenize(source);
  const a: Analysis = {
    toks,
    match: matchBrackets(toks),
    colon: colonRoles(toks),
    stack: [frame("code")],
    declared: new Set(),
    refs: [],
  };
  for (let i = 0; i < toks.length; i++) i = step(a, i);
  return a;
}

/**
 * Names a function's source text reads from its surroundings (free
 * variables), in first-use order.
 *
 * Handles parameters (with destructuring and defaults), `var`/`let`/`const`
 * (including destructuring and `for (const [a, b] of ..)`), function and
 * class declarations and named expressions, and catch parameters. Scoping is
 * approximate: a name declared anywhere inside the function counts as
 * declared throughout it, so a name that is both read from outside and
 * declared in some nested scope is not reported. `__name` (injected by
 * tsx/esbuild keepNames) is never reported: whoever evaluates such source
 * must provide it (e.g. `const __name = (f) => f`).
 *
 * @param source Output of `fn.toString()` (plain JavaScript).
 * @param isGlobal Returns true for names that resolve to globals and need not be captured.
 * @returns Free variable names, each once, in order of first use.
 * @throws {SyntaxError} If the source cannot be tokenized (unterminated literal, unbalanced brackets).
 * @example
 * ```ts
 * const scale = 2;
 * freeVariables(((xs: number[]) => xs.map((x) => x * scale + Math.PI)).toString(), (n) => n in globalThis);
 * // ["scale"]
 * ```
 */
export function freeVariables(source: string, isGlobal: (name: string) => boolean): string[] {
  const a = analyze(source);
  const seen = new Set<string>();
  for (const name of a.refs) {
    if (seen.has(name) || a.declared.has(name) || TOOLING.has(name)) continue;
    seen.add(name);
  }
  return [...seen].filter((name) => !isGlobal(name));
}

/**
 * Turns `fn.toString()` output into an expression that evaluates to that
 * function. Function expressions/declarations and arrows are returned as is
 * (use the result in expression position, e.g. `(${src})`); method shorthand
 * gets a `function` keyword (`async foo() {}` → `async function foo() {}`,
 * `*gen() {}` → `function* gen() {}`). The method name is kept when it is a
 * valid function name that the body does not read from outside (otherwise the
 * function is anonymous, so the body still sees the outer binding). A method
 * body using `super` cannot become a plain function; the result will not
 * evaluate.
 *
 * @param source Output of `fn.toString()`.
 * @returns A JavaScript expression, or null for accessors (`get x()`/`set x(v)`),
 *   classes, native/bound functions and unrecognised text.
 * @throws {SyntaxError} If the source cannot be tokenized.
 * @example
 * ```ts
 * functionExpressionSource(({ twice(x: number) { return 2 * x; } }).twice.toString());
 * // "function twice(x) { return 2 * x; }" (modulo whitespace left by type stripping)
 * ```
 */
export function functionExpressionSource(source: string): string | null {
  const src = source.trim();
  if (/\{\s*\[native code\]\s*\}$/.test(src)) return null;
  const toks = tokenize(src);
  const a: Analysis = { toks, match: matchBrackets(toks), colon: new Uint8Array(0), stack: [], declared: new Set(), refs: [] };
  const [t0, t1] = toks;
  if (t0 === undefined || is(t0, "class")) return null;
  if (is(t0, "function") || (is(t0, "async") && is(t1, "function") && !t1.nl)) return src;
  if (isArrow(a)) return src;
  if ((is(t0, "get") || is(t0, "set")) && isMethodHead(a, 1)) return null;
  let i = 0;
  let prefix = "function";
  if (is(t0, "async") && isMethodHead(a, 1)) {
    prefix = "async function";
    i = 1;
  }
  if (is(toks[i], "*")) {
    prefix += "*";
    i++;
  }
  if (!isMethodHead(a, i)) return null;
  const key = toks[i];
  const paren = is(key, "[") ? a.match[i] + 1 : i + 1;
  const keepName = key.type === "name" && isFunctionName(key.value) && !freeVariables(src, () => false).includes(key.value);
  return `${prefix} ${keepName ? key.value : ""}${src.slice(toks[paren].start)}`;
}

/** Whether the tokens of `a` form an arrow function. */
function isArrow(a: Analysis): boolean {
  const { toks, match } = a;
  let i = is(toks[0], "async") && toks[1] !== undefined && !toks[1].nl && !is(toks[1], "=>") ? 1 : 0;
  if (is(toks[i], "(")) i = match[i];
  else if (toks[i]?.type !== "name") return false;
  return is(toks[i + 1], "=>");
}

function isFunctionName(name: string): boolean {
  return !RESERVED.has(name) && name !== "eval" && /^[$_\p{ID_Start}][$\u200c\u200d\p{ID_Continue}]*$/u.test(name);
}
