/**
 * Python's synchronisation primitives for processes and threads: Lock,
 * RLock, Semaphore, BoundedSemaphore, Event, Condition and Barrier.
 *
 * Each lives in a little shared memory owned by the process that made it:
 * that process and its worker threads use it directly (Atomics on a
 * SharedArrayBuffer), a child process through requests to the owner. Pass
 * one to a Process or Pool in its `args`: it arrives connected to the same
 * memory, so `withLock` excludes every other holder, wherever it runs.
 *
 * Anything that may wait returns a promise; inside a child process or a
 * worker, the `...Sync` twins (`acquireSync`, `waitSync`, `withLockSync`)
 * block the thread instead. They are refused in the main thread of the top
 * process, which serves its children's requests.
 *
 * @example Mutual exclusion
 * ```ts
 * import { Lock } from "multiproc";
 * const lock = new Lock();
 * let inside = 0;
 * await Promise.all([1, 2, 3].map(() =>
 *   lock.withLock(async () => {
 *     inside++;
 *     await new Promise((r) => setTimeout(r, 5));
 *     if (inside !== 1) throw new Error("two inside at once");
 *     inside--;
 *   })
 * ));
 * ```
 *
 * @module
 */
import { memoryFrom } from "./shared/crossing.ts";
import { registerReviver } from "./transport/values.ts";
import { reviving, type SyncState } from "./sync/common.ts";
import { Barrier, crossedAction } from "./sync/barrier.ts";
import type { FunctionRef } from "./transport/functions.ts";
import { Condition } from "./sync/condition.ts";
import { Event } from "./sync/event.ts";
import { Lock } from "./sync/lock.ts";
import { RLock } from "./sync/rlock.ts";
import { BoundedSemaphore, Semaphore } from "./sync/semaphore.ts";

export { BrokenBarrierError } from "./errors.ts";
export type { AcquireOptions, SyncAcquireOptions } from "./sync/common.ts";
export { Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore };

// One reviver for the family: the copy that arrives takes the crossed
// memory (a Condition's lock arrives revived already, in `state.lock`).
registerReviver("sync", (s) => {
  const state = s as SyncState;
  return reviving(memoryFrom(state.memory), () => {
    switch (state.kind) {
      case "Lock":
        return new Lock();
      case "RLock":
        return new RLock();
      case "Semaphore":
        return new Semaphore();
      case "BoundedSemaphore":
        return new BoundedSemaphore();
      case "Event":
        return new Event();
      case "Condition":
        return new Condition(state.lock as Lock | RLock);
      case "Barrier":
        return new Barrier(
          state.parties as number,
          state.action ? crossedAction(state.action as FunctionRef) : undefined,
          state.timeout as number | undefined,
        );
    }
    throw new TypeError(`Cannot receive a synchronisation object of kind ${String(state.kind)} (a bug in multiproc)`);
  });
});
