// Errors cross as envelopes, not as structured-clone Errors: structured clone
// keeps neither the subclass nor own properties, and Bun drops `cause`.
// The envelope carries the class name, message, stack, cause chain and own
// properties; decoding rebuilds the same class where it is known here and a
// same-named Error subclass where it is not.
import { errorClasses } from "../errors.ts";

/** An error as it travels between processes and threads. */
export interface ErrorEnvelope {
  readonly className: string;
  readonly name: string;
  readonly message: string;
  readonly stack: string;
  readonly cause?: { readonly value: unknown };
  readonly props: Record<string, unknown>;
  readonly errors?: unknown[];
}

const BUILTINS: Record<string, new (message?: string) => Error> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

// Rebuilt classes for names we do not know, one per name, so that two
// errors of the same remote class share a constructor.
const synthetic = new Map<string, new (message?: string) => Error>();

function classFor(className: string): new (message?: string) => Error {
  const known = BUILTINS[className] ?? errorClasses[className];
  if (known) return known;
  let cls = synthetic.get(className);
  if (!cls) {
    cls = { [className]: class extends Error {} }[className];
    synthetic.set(className, cls);
  }
  return cls;
}

const SKIPPED = new Set(["name", "message", "stack", "cause", "errors"]);

/**
 * Packs an error for sending. `encode` packs nested values (props, cause),
 * so that errors inside errors and special objects survive too.
 */
export function encodeError(error: Error, encode: (value: unknown) => unknown): ErrorEnvelope {
  const props: Record<string, unknown> = {};
  for (const key of Object.keys(error)) {
    if (!SKIPPED.has(key)) props[key] = encode((error as unknown as Record<string, unknown>)[key]);
  }
  return {
    className: error.constructor?.name || error.name || "Error",
    name: String(error.name),
    message: String(error.message),
    stack: typeof error.stack === "string" ? error.stack : `${error.name}: ${error.message}`,
    cause: "cause" in error ? { value: encode(error.cause) } : undefined,
    props,
    errors: error instanceof AggregateError ? error.errors.map(encode) : undefined,
  };
}

/**
 * Rebuilds an error from its envelope. Its stack is the remote stack, with
 * where it was received appended (as Python's RemoteTraceback does).
 */
export function decodeError(env: ErrorEnvelope, decode: (value: unknown) => unknown): Error {
  const error = env.errors
    ? new AggregateError(env.errors.map(decode), env.message)
    : Object.create(classFor(env.className).prototype) as Error;
  const define = (key: string, value: unknown) =>
    Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: false });
  define("message", env.message);
  if (env.name !== (Object.getPrototypeOf(error) as Error).name) define("name", env.name);
  const here = new Error().stack?.split("\n").slice(2).join("\n") ?? "";
  define("stack", `${env.stack}\n    --- received from another process or thread, at ---\n${here}`);
  if (env.cause) define("cause", decode(env.cause.value));
  for (const [key, value] of Object.entries(env.props)) {
    (error as unknown as Record<string, unknown>)[key] = decode(value);
  }
  return error;
}
