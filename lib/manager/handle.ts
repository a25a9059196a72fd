// What every manager proxy holds (its reference: where the manager is, the
// key, which object) and how it calls the manager (this process's link to
// it, client.ts); how proxies cross to other processes as that reference.
import { type Crossing, decodeValue, type Destination, encodeValue } from "../transport/values.ts";
import { linkTo } from "./client.ts";
import type { ObjectKind } from "./objects.ts";
import type { ManagerAddress } from "./server.ts";

/** How a proxy travels: where its manager is, the key, and which object. */
export interface ProxyRef {
  address: ManagerAddress;
  authkey: Uint8Array;
  id: string;
  kind: ObjectKind;
  /** A value's typecode (informative). */
  typecode?: string;
}

/** A new object id (client-made, so a proxy exists before the server has answered). */
export function newId(): string {
  return [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A value as it is kept at the manager (encoded as a queue item is). */
export function out(value: unknown): unknown {
  return encodeValue(value, "value", true, "item");
}

/** A value as it came back from the manager, revived. */
export const back = (v: unknown): unknown => decodeValue(v);

/** What every proxy holds: its reference, and calls through this process's link. */
export class Handle {
  readonly ref: ProxyRef;

  constructor(ref: ProxyRef) {
    this.ref = ref;
  }

  // (this process's current link: a closed one is replaced by a new one)
  call(method: string, ...args: unknown[]): Promise<unknown> {
    return linkTo(this.ref.address, this.ref.authkey).request("call", this.ref.id, method, args);
  }
}

const handles = new WeakMap<object, Handle>();
let arriving: Handle | null = null;

/** The next proxy made takes `ref` (makeProxy). */
export function arrive(ref: ProxyRef): void {
  arriving = new Handle(ref);
}

/** A proxy's handle (throws for anything else). */
export function handleOf(proxy: object): Handle {
  const h = handles.get(proxy);
  if (!h) throw new TypeError("not a manager proxy (make proxies with manager.dict(), manager.list(), ...)");
  return h;
}

/** How every proxy crosses: as its reference. */
export function proxyCrossing(this: object, _to: Destination): Crossing {
  const { ref } = handleOf(this);
  return { type: "manager-proxy", state: ref };
}

// Every proxy class is made through this: from an arriving handle, or a new object.
/** Called by each proxy's constructor: takes the handle being made. */
export function adopt(proxy: object): Handle {
  if (!arriving) throw new TypeError("Proxies come from a Manager: manager.dict(), manager.list(), ...");
  const h = arriving;
  arriving = null;
  handles.set(proxy, h);
  return h;
}
