// The manager's objects that wait: queues, locks, semaphores, events,
// conditions and barriers (multiproc's own, in the server's process), with
// what each call does. A wait stops when its caller's connection closes;
// a lock held by a connection that closes is let go.
import type { JoinableQueue, Queue } from "../queue.ts";
import type { LocalBackend } from "../queue/backend.ts";
import { encodeItem } from "../queue/codec.ts";
import type { Barrier, Event, Lock, Semaphore } from "../sync.ts";

/** An error a call ends with, sent back by name (KeyError, IndexError, ...). */
export class CallError extends Error {
  constructor(name: string, message: string) {
    super(message);
    this.name = name;
  }
}

/** A condition at the manager: its lock (a Lock or an RLock), and who waits to be notified. */
export interface HeldCondition {
  lock: HeldLock | HeldRLock;
  reentrant: boolean;
  waiters: Array<() => void>;
}

/** A re-entrant lock at the manager: a lock, the connection that holds it, and how many times. */
export interface HeldRLock {
  lock: Lock;
  owner: AbortSignal | null;
  count: number;
}

/** A lock at the manager, and the connection that took it last (if it has not let go since). */
export interface HeldLock {
  lock: Lock;
  owner: AbortSignal | null;
}

// Runs `letGo` when connection `signal` closes, if it then holds `l`; one
// listener per lock and connection, however often it takes the lock.
const watched = new WeakMap<object, WeakSet<AbortSignal>>();

function watchOwner(l: { owner: AbortSignal | null }, signal: AbortSignal, letGo: () => void): void {
  let set = watched.get(l);
  if (!set) watched.set(l, set = new WeakSet());
  if (set.has(signal)) return;
  set.add(signal);
  signal.addEventListener("abort", () => {
    if (l.owner === signal) letGo();
  }, { once: true });
}

/**
 * An item a call took out of a queue: sent to the caller, or put back in
 * front (`undo`) if the caller's connection is gone by then.
 */
export class Taken {
  readonly value: unknown;
  readonly undo: () => void;
  constructor(value: unknown, undo: () => void) {
    this.value = value;
    this.undo = undo;
  }
}

function takenFrom(q: Queue<unknown>, item: unknown): Taken {
  return new Taken(item, () => {
    const f = encodeItem(item, "item");
    const frame = f instanceof Uint8Array ? f : Uint8Array.from([...f[0], ...f[1]]);
    (q.backend as LocalBackend).unget([frame]);
  });
}

/** A timeout in ms, or undefined. */
export const ms = (x: unknown): number | undefined => (typeof x === "number" ? x : undefined);

// A queue's calls, waiting at the server for as long as the caller asked
// (or until its connection closes).
export const QUEUE: Record<string, (q: Queue<unknown>, a: unknown[], signal: AbortSignal) => unknown> = {
  put: (q, [item, timeout]) => q.put(item, { timeout: ms(timeout) }),
  putNowait: (q, [item]) => q.putNowait(item),
  get: async (q, [timeout], signal) => takenFrom(q, await q.get({ timeout: ms(timeout), signal })),
  getNowait: (q) => takenFrom(q, q.getNowait()),
  qsize: (q) => q.qsize(),
  empty: (q) => q.empty(),
  full: (q) => q.full(),
  close: (q) => q.close(),
};

export const JOINABLE: Record<string, (q: Queue<unknown>, a: unknown[], signal: AbortSignal) => unknown> = {
  ...QUEUE,
  taskDone: (q) => (q as JoinableQueue<unknown>).taskDone(),
  join: (q, [timeout]) => (q as JoinableQueue<unknown>).join(ms(timeout)),
};

// A lock whose taker's connection closes while it still holds it is let go
// (Python's would stay locked for ever).
export const LOCK: Record<string, (l: HeldLock, a: unknown[], signal: AbortSignal) => unknown> = {
  acquire: async (l, [block, timeout], signal) => {
    const got = await l.lock.acquire({ block: block !== false, timeout: ms(timeout), signal });
    if (got) {
      l.owner = signal;
      watchOwner(l, signal, () => {
        l.owner = null;
        try {
          l.lock.release();
        } catch {
          // (let go meanwhile)
        }
      });
    }
    return got;
  },
  release: (l) => {
    l.lock.release();
    l.owner = null;
  },
};

// An RLock belongs to the connection (the client process) that took it:
// it may take it again, only it may let go, and it is let go if that
// connection closes.
export const RLOCK: Record<string, (l: HeldRLock, a: unknown[], signal: AbortSignal) => unknown> = {
  acquire: async (l, [block, timeout], signal) => {
    if (l.owner === signal) {
      l.count++;
      return true;
    }
    const got = await l.lock.acquire({ block: block !== false, timeout: ms(timeout), signal });
    if (got) {
      l.owner = signal;
      l.count = 1;
      watchOwner(l, signal, () => {
        l.owner = null;
        l.count = 0;
        l.lock.release();
      });
    }
    return got;
  },
  release: (l, _a, signal) => {
    if (l.owner !== signal) throw new CallError("RuntimeError", "cannot release un-acquired lock (this client does not hold it)");
    if (--l.count === 0) {
      l.owner = null;
      l.lock.release();
    }
  },
};

// A condition's lock is an RLock of its own (Python's default) or the Lock
// or RLock it was made over; wait lets it go entirely, waits for a notify
// (or the time), and takes it back as deep.
const lockOf = (c: HeldCondition) => (c.reentrant ? RLOCK : LOCK) as Record<string, (l: HeldLock | HeldRLock, a: unknown[], signal: AbortSignal) => unknown>;

export const CONDITION: Record<string, (c: HeldCondition, a: unknown[], signal: AbortSignal) => unknown> = {
  acquire: (c, a, signal) => lockOf(c).acquire(c.lock, a, signal),
  release: (c, a, signal) => lockOf(c).release(c.lock, a, signal),
  wait: async (c, [timeout], signal) => {
    const l = c.lock;
    if (l.owner !== signal) throw new CallError("RuntimeError", "cannot wait on un-acquired lock (acquire the condition first)");
    const depth = "count" in l ? l.count : 1;
    l.owner = null;
    if ("count" in l) l.count = 0;
    l.lock.release();
    let wake = () => {};
    let gone = () => {};
    const notified = await new Promise<boolean>((resolve) => {
      const timer = ms(timeout) === undefined ? undefined : setTimeout(() => resolve(false), ms(timeout));
      wake = () => (clearTimeout(timer), resolve(true));
      gone = () => (clearTimeout(timer), resolve(false));
      c.waiters.push(wake);
      signal.addEventListener("abort", gone, { once: true });
    });
    signal.removeEventListener("abort", gone);
    const at = c.waiters.indexOf(wake);
    if (at >= 0) c.waiters.splice(at, 1);
    if (signal.aborted) return false;
    await lockOf(c).acquire(l, [true, undefined], signal);
    if ("count" in l) l.count = depth;
    return notified;
  },
  notify: (c, [n], signal) => {
    if (c.lock.owner !== signal) throw new CallError("RuntimeError", "cannot notify on un-acquired lock");
    const count = typeof n === "number" && n >= 0 ? n : 1;
    for (const wake of c.waiters.splice(0, count)) wake();
  },
  notifyAll: (c, _a, signal) => {
    if (c.lock.owner !== signal) throw new CallError("RuntimeError", "cannot notify on un-acquired lock");
    for (const wake of c.waiters.splice(0)) wake();
  },
};

export const BARRIER: Record<string, (b: Barrier, a: unknown[]) => unknown> = {
  wait: (b, [timeout]) => b.wait(ms(timeout)),
  abort: (b) => b.abort(),
  reset: (b) => b.reset(),
  parties: (b) => b.parties,
  nWaiting: (b) => b.nWaiting,
  broken: (b) => b.broken,
};

export const SEMAPHORE: Record<string, (s: Semaphore, a: unknown[], signal: AbortSignal) => unknown> = {
  acquire: (sem, [block, timeout], signal) => sem.acquire({ block: block !== false, timeout: ms(timeout), signal }),
  release: (sem) => sem.release(),
  getValue: (sem) => sem.getValue(),
};

export const EVENT: Record<string, (e: Event, a: unknown[]) => unknown> = {
  set: (e) => e.set(),
  clear: (e) => e.clear(),
  isSet: (e) => e.isSet(),
  wait: (e, [timeout]) => e.wait(ms(timeout)),
};
