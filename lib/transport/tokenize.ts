/**
 * A small JavaScript tokenizer for function source text (`fn.toString()`
 * output). It understands comments, strings, template literals with nested
 * substitutions, regex literals vs division, numbers, private names and
 * unicode identifiers. It does not parse; see `freevars.ts` for the analysis.
 *
 * @module
 */

/** Kinds of tokens produced by {@link tokenize}. */
export type TokenType = "name" | "num" | "str" | "tpl" | "regex" | "punct" | "priv";

/** One significant token of JavaScript source text. */
export interface Token {
  /** Token kind; template parts: a head or middle is the punct `${`, a tail or a whole template is `tpl`. */
  readonly type: TokenType;
  /** Token text; for names, with `\u` escapes decoded. */
  readonly value: string;
  /** Offset of the token's first character in the source. */
  readonly start: number;
  /** True when a line terminator (possibly inside a comment) precedes the token. */
  readonly nl: boolean;
}

const ID_PART = String.raw`\\u[0-9a-fA-F]{4}|\\u\{[0-9a-fA-F]+\}`;
const IDENT = new RegExp(`(?:[$_\\p{ID_Start}]|${ID_PART})(?:[$\\u200c\\u200d\\p{ID_Continue}]|${ID_PART})*`, "uy");
const NUMBER =
  /(?:0[xX][\da-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?[\d_]+)?)n?/y;
const PUNCT =
  />>>=|\.\.\.|===|!==|\*\*=|<<=|>>=|>>>|&&=|\|\|=|\?\?=|=>|\?\.(?!\d)|\?\?|&&|\|\||\+\+|--|\*\*|<<|>>|[-+*/%&|^<>=!]=|[-{}()[\];,<>+*/%&|^!~?:=.@]/y;
const SPACE = /(?:\s|\/\/[^\n\r\u2028\u2029]*|\/\*[\s\S]*?\*\/)*/y;
const FLAGS = /[$\p{ID_Continue}]*/uy;
const NEWLINE = /[\n\r\u2028\u2029]/;
/** Keywords after which a `/` starts a regex literal rather than a division. */
const REGEX_AFTER = new Set([
  "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw", "yield", "await",
  "instanceof",
]);
const CONTROL = new Set(["if", "while", "for", "with"]);

function fail(message: string, at: number): never {
  throw new SyntaxError(`${message} at offset ${at}`);
}

function decodeName(raw: string): string {
  if (!raw.includes("\\")) return raw;
  return raw.replace(/\\u\{([0-9a-fA-F]+)\}|\\u([0-9a-fA-F]{4})/g, (_m, a: string | undefined, b: string | undefined) =>
    String.fromCodePoint(parseInt(a ?? b ?? "0", 16)));
}

/** Returns the end offset of a '..' or ".." string starting at `i`. */
function scanString(src: string, i: number): number {
  const quote = src[i];
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === quote) return j + 1;
    else if (c === "\n" || c === "\r") break;
  }
  return fail("Unterminated string literal", i);
}

/** Scans template characters from `i` (just after "`" or "}"); returns the end and whether a `${` ended it. */
function scanTemplate(src: string, i: number): { end: number; head: boolean } {
  for (let j = i; j < src.length; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === "`") return { end: j + 1, head: false };
    else if (c === "$" && src[j + 1] === "{") return { end: j + 2, head: true };
  }
  return fail("Unterminated template literal", i);
}

/** Returns the end offset of a regex literal (body and flags) starting at `i`. */
function scanRegex(src: string, i: number): number {
  let inClass = false;
  for (let j = i + 1; j < src.length; j++) {
    const c = src[j];
    if (c === "\\") j++;
    else if (c === "[") inClass = true;
    else if (c === "]") inClass = false;
    else if (c === "/" && !inClass) {
      FLAGS.lastIndex = j + 1;
      FLAGS.exec(src);
      return FLAGS.lastIndex;
    } else if (NEWLINE.test(c)) break;
  }
  return fail("Unterminated regular expression", i);
}

/** Decides whether a `/` after `prev` starts a regex literal. */
function regexAllowed(prev: Token | undefined, prevIsProperty: boolean, controlParen: boolean): boolean {
  if (prev === undefined) return true;
  switch (prev.type) {
    case "name":
      return !prevIsProperty && REGEX_AFTER.has(prev.value);
    case "punct":
      if (prev.value === ")") return controlParen;
      return prev.value !== "]" && prev.value !== "++" && prev.value !== "--";
    default:
      return false;
  }
}

interface Lexer {
  readonly src: string;
  readonly out: Token[];
  /** Open brackets: "{", "(", "(if" (a control-statement paren), "[", "${". */
  readonly braces: string[];
  /** Whether the last `)` closed a control-statement paren (`if (..) /re/`). */
  controlParen: boolean;
  i: number;
}

/**
 * Splits JavaScript source text into significant tokens (comments and
 * whitespace dropped).
 *
 * @param src JavaScript source text, e.g. the output of `fn.toString()`.
 * @returns The tokens in source order.
 * @throws {SyntaxError} On unterminated comments or literals, unbalanced
 *   template braces, or characters that cannot start a token.
 * @example
 * ```ts
 * tokenize("a / 2 + /x/g.test(s)").map((t) => t.type);
 * // ["name", "punct", "num", "punct", "regex", "punct", "name", "punct", "name", "punct"]
 * ```
 */
export function tokenize(src: string): Token[] {
  const lx: Lexer = { src, out: [], braces: [], controlParen: false, i: 0 };
  while (true) {
    SPACE.lastIndex = lx.i;
    SPACE.exec(src);
    const nl = NEWLINE.test(src.slice(lx.i, SPACE.lastIndex));
    lx.i = SPACE.lastIndex;
    if (lx.i >= src.length) break;
    lexToken(lx, nl);
  }
  if (lx.braces.includes("${")) fail("Unterminated template literal", src.length);
  return lx.out;
}

function push(lx: Lexer, type: TokenType, value: string, start: number, nl: boolean, end: number): void {
  lx.out.push({ type, value, start, nl });
  lx.i = end;
}

function isDot(t: Token | undefined): boolean {
  return t !== undefined && t.type === "punct" && (t.value === "." || t.value === "?.");
}

/** Reads the one token starting at `lx.i`. */
function lexToken(lx: Lexer, nl: boolean): void {
  const { src, out, braces, i } = lx;
  const c = src[i];
  const prev = out[out.length - 1];
  const prevIsProperty = isDot(out[out.length - 2]);
  if (c === "/" && src[i + 1] === "*") fail("Unterminated comment", i);
  if (c === "'" || c === '"') {
    const end = scanString(src, i);
    return push(lx, "str", src.slice(i, end), i, nl, end);
  }
  if (c === "`" || (c === "}" && braces[braces.length - 1] === "${")) {
    if (c === "}") {
      braces.pop();
      out.push({ type: "punct", value: "}", start: i, nl });
    }
    const { end, head } = scanTemplate(src, i + 1);
    if (head) braces.push("${");
    return push(lx, head ? "punct" : "tpl", head ? "${" : src.slice(i, end), i, nl && c === "`", end);
  }
  if (c === "/" && regexAllowed(prev, prevIsProperty, lx.controlParen)) {
    const end = scanRegex(src, i);
    return push(lx, "regex", src.slice(i, end), i, nl, end);
  }
  IDENT.lastIndex = c === "#" ? i + 1 : i;
  const id = IDENT.exec(src);
  if (id !== null) {
    const priv = c === "#";
    return push(lx, priv ? "priv" : "name", (priv ? "#" : "") + decodeName(id[0]), i, nl, IDENT.lastIndex);
  }
  NUMBER.lastIndex = i;
  const num = NUMBER.exec(src);
  if (num !== null) return push(lx, "num", num[0], i, nl, NUMBER.lastIndex);
  PUNCT.lastIndex = i;
  const p = PUNCT.exec(src)?.[0];
  if (p === undefined) return fail(`Unexpected character ${JSON.stringify(c)}`, i);
  if (p === "(") {
    const control = prev !== undefined && prev.type === "name" && !prevIsProperty && CONTROL.has(prev.value);
    braces.push(control ? "(if" : "(");
  } else if (p === "{" || p === "[") braces.push(p);
  else if (p === ")" || p === "}" || p === "]") {
    const open = braces.pop();
    if (p === ")") lx.controlParen = open === "(if";
  }
  push(lx, "punct", p, i, nl, PUNCT.lastIndex);
}
