// Argument checks shared by Process, Pool and their results: one wording
// for the same mistake everywhere ("Cannot <what>: ...", the bad value quoted).

/** A timeout in ms (undefined or null: wait forever), or a TypeError. */
export function checkTimeout(timeout: unknown, what: string): number | undefined {
  if (timeout === undefined || timeout === null) return undefined;
  if (typeof timeout !== "number" || Number.isNaN(timeout) || timeout < 0) {
    throw new TypeError(`Cannot ${what}: timeout must be a number of milliseconds >= 0, got ${String(timeout)}`);
  }
  return timeout;
}

/** An integer >= 1 named `name`, or a TypeError. */
export function checkPositiveInteger(value: unknown, what: string, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    const shown = typeof value === "string" ? JSON.stringify(value) : String(value);
    throw new TypeError(`Cannot ${what}: ${name} must be an integer >= 1, got ${shown}`);
  }
  return value;
}

/** An AbortSignal, or undefined when none was given, or a TypeError. */
export function checkSignal(signal: unknown, what: string): AbortSignal | undefined {
  if (signal === undefined || signal === null) return undefined;
  if (typeof signal !== "object" || typeof (signal as AbortSignal).addEventListener !== "function" || !("aborted" in signal)) {
    throw new TypeError(`Cannot ${what}: signal must be an AbortSignal`);
  }
  return signal as AbortSignal;
}
