// Every kind of manager proxy, made from a reference (here, or when one
// arrives from another process).
import { crossing, registerReviver } from "../transport/values.ts";
import type { ObjectKind } from "./objects.ts";
import { arrive, proxyCrossing, type ProxyRef } from "./handle.ts";
import { DictProxy, ListProxy, NamespaceProxy, ValueProxy } from "./data_proxies.ts";
import {
  BarrierProxy,
  ConditionProxy,
  EventProxy,
  JoinableQueueProxy,
  LockProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
} from "./sync_proxies.ts";

export { handleOf, newId, out, type ProxyRef } from "./handle.ts";
export {
  BarrierProxy,
  ConditionProxy,
  DictProxy,
  EventProxy,
  JoinableQueueProxy,
  ListProxy,
  LockProxy,
  NamespaceProxy,
  QueueProxy,
  RLockProxy,
  SemaphoreProxy,
  ValueProxy,
};

/**
 * Any proxy a manager makes.
 *
 * @example
 * ```ts
 * import { Manager, type ManagerProxy } from "multiproc";
 * await using manager = await Manager.start();
 * await manager.register("results", manager.list());
 * const shared: ManagerProxy = await manager.get("results");
 * console.log(shared.constructor.name); // ListProxy
 * ```
 */
export type ManagerProxy =
  | DictProxy
  | ListProxy
  | NamespaceProxy
  | ValueProxy
  | QueueProxy
  | LockProxy
  | EventProxy
  | BarrierProxy;

const CLASSES: Record<ObjectKind, new (t: never) => ManagerProxy> = {
  dict: DictProxy,
  list: ListProxy,
  namespace: NamespaceProxy,
  value: ValueProxy,
  queue: QueueProxy,
  joinable: JoinableQueueProxy,
  lock: LockProxy,
  semaphore: SemaphoreProxy,
  bsemaphore: SemaphoreProxy,
  event: EventProxy,
  rlock: RLockProxy,
  barrier: BarrierProxy,
  condition: ConditionProxy,
};

for (const cls of Object.values(CLASSES)) Object.defineProperty(cls.prototype, crossing, { value: proxyCrossing });

/** The proxy of the object `ref` names. */
export function makeProxy(ref: ProxyRef): ManagerProxy {
  arrive(ref);
  return new CLASSES[ref.kind](undefined as never);
}

registerReviver("manager-proxy", (state) => makeProxy(state as ProxyRef));
