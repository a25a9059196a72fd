/**
 * multiproc: Python's `multiprocessing` for TypeScript on Node, Deno and Bun.
 *
 * Start a function in another process or worker thread, wait for it, read
 * its exit code; spread work over a pool of workers; pass messages through
 * queues and pipes; share values, arrays and locks; share dicts, lists and
 * queues through a manager, also with other programs. The names and
 * behaviour follow Python's module, in camelCase, with promises and
 * milliseconds.
 *
 * In a program, the code that starts children goes under the main-module
 * guard, `if (isMain(import.meta)) { ... }` (Python's `if __name__ ==
 * "__main__":`), so that a child importing the module to find its target
 * does not start children of its own. The examples below leave it out:
 * their targets use nothing around them, so they travel as source and no
 * child imports the module.
 *
 * @example Two processes squaring numbers
 * ```ts
 * import { Process } from "multiproc";
 *
 * export function squareNumbers(id: number) {
 *   for (let i = 1; i <= 5; i++) console.log(`Process ${id}: ${i} squared = ${i * i}`);
 * }
 *
 * const ps = [1, 2].map((id) => new Process({ target: squareNumbers, args: [id] }));
 * for (const p of ps) p.start();
 * for (const p of ps) await p.join();
 * console.log(ps.map((p) => p.exitCode)); // [ 0, 0 ]
 * ```
 *
 * @example A pool of four workers
 * ```ts
 * import { Pool } from "multiproc";
 *
 * export function cube(x: number): number {
 *   return x * x * x;
 * }
 *
 * await using pool = new Pool(4);
 * console.log(await pool.map(cube, [0, 1, 2, 3])); // [ 0, 1, 8, 27 ]
 * for await (const y of pool.imap(cube, [4, 5])) console.log(y); // 64, then 125
 * ```
 *
 * @example A manager's dict, written by a child process
 * ```ts
 * import { type DictProxy, Manager, Process } from "multiproc";
 *
 * export async function worker(d: DictProxy<string, number>) {
 *   await d.set("answer", 42);
 * }
 *
 * await using manager = await Manager.start();
 * const d = manager.dict<string, number>();
 * const p = new Process({ target: worker, args: [d] });
 * p.start();
 * await p.join();
 * console.log(await d.toObject()); // { answer: 42 }
 * ```
 *
 * @module
 */

export {
  activeChildren,
  currentProcess,
  parentProcess,
  Process,
  type ProcessOptions,
} from "./lib/process.ts";
export {
  cpuCount,
  getAllStartMethods,
  getStartMethod,
  isMain,
  runtime,
  type RuntimeName,
  setStartMethod,
  type StartMethod,
} from "./lib/context.ts";
export {
  type ApplyOptions,
  type AsyncCallbacks,
  AsyncResult,
  type MapOptions,
  Pool,
  type PoolIterable,
  type PoolOptions,
} from "./lib/pool.ts";
export { type GetOptions, JoinableQueue, type PutOptions, Queue, SimpleQueue } from "./lib/queue.ts";
export { Connection, Pipe } from "./lib/pipe.ts";
export {
  type LockOption,
  RawArray,
  RawValue,
  SharedArray,
  type SharedOptions,
  type TypeCode,
  Value,
  type ValueOf,
} from "./lib/shared/value.ts";
export { SharedMemory, type SharedMemoryOptions } from "./lib/shared/shared_memory.ts";
export {
  type AcquireOptions,
  Barrier,
  BoundedSemaphore,
  Condition,
  Event,
  Lock,
  RLock,
  Semaphore,
  type SyncAcquireOptions,
} from "./lib/sync.ts";
export {
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  JoinableQueueProxy,
  ListProxy,
  LockProxy,
  Manager,
  type ManagerAddress,
  type ManagerOptions,
  type ManagerProxy,
  NamespaceProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
} from "./lib/manager.ts";
export { getContext, type Context } from "./lib/contexts.ts";
export { task } from "./lib/transport/functions.ts";
export {
  AuthenticationError,
  BrokenBarrierError,
  EOFError,
  ProcessError,
  QueueEmpty,
  QueueFull,
  RemoteError,
  SerializationError,
  TimeoutError,
  WorkerLostError,
} from "./lib/errors.ts";
