// OS shared memory for child processes, through the runtime's FFI (Deno's
// `Deno.dlopen`, Bun's `bun:ffi`; Node has none): anonymous memory files
// (memfd_create) mapped MAP_SHARED, and futex waits and wakes on them.
//
// A memory file has no name in /dev/shm: it lives as long as a process has
// it open or mapped, so nothing is ever left behind, whatever way the
// program ends (nothing to sweep on the next start). Another process (a child) opens it through its owner's descriptor,
// `/proc/<owner pid>/fd/<fd>`, while the owner lives; once mapped, the
// mapping stays valid after the owner is gone. Linux only.
//
// Atomics work on these mappings although the ArrayBuffer over them is not
// a SharedArrayBuffer (they compile to the same locked instructions; tested
// across processes in tests/shared.test.ts); Atomics.wait does not, hence
// the futex calls here.
import process from "node:process";
import { Worker } from "node:worker_threads";
import type { RuntimeName } from "./types.ts";

/** A memory file: where its pieces are mapped from. */
export interface OsFile {
  /** Where another process (or a thread) opens it while its owner lives: `/proc/<pid>/fd/<fd>`. */
  readonly path: string;
}

/** A mapped window of a file. */
export interface OsSegment {
  /** The mapping, as an ArrayBuffer (not a SharedArrayBuffer). */
  readonly buffer: ArrayBuffer;
  /** The file and where in it the window starts (a multiple of PAGE_BYTES). */
  readonly file: OsFile;
  readonly offset: number;
  /** Its size in bytes. */
  readonly size: number;
}

/** Windows start at multiples of this. */
export const PAGE_BYTES = 4096;

/** The OS shared-memory service of this process (see above). */
export interface OsMemory {
  /** A new memory file of `size` bytes (sparse: pages are taken as they are first touched). */
  create(size: number): OsFile;
  /** Opens a file another process (or this one) created, by its path. */
  open(path: string): OsFile;
  /** Maps `size` bytes of `file` from `offset`. */
  map(file: OsFile, offset: number, size: number): OsSegment;
  /** Unmaps a window (only once nothing can touch it). */
  unmap(segment: OsSegment): void;
  /** Gives the pages of a window back to the OS; they read as zeros afterwards. */
  discard(file: OsFile, offset: number, size: number): void;
  /** Blocks while the 32-bit cell at `byteIndex` holds `expected`, `ms` at most, or until woken. */
  wait(segment: OsSegment, byteIndex: number, expected: number, ms: number): void;
  /** Wakes up to `count` waiters on the cell at `byteIndex`, in any process. */
  wake(segment: OsSegment, byteIndex: number, count: number): void;
  /** The address of byte `byteIndex` of a window (for the waiting thread). */
  address(segment: OsSegment, byteIndex: number): bigint;
  /** The 32-bit cell at `address` of this process (mapped by any of its threads). */
  cellAt(address: bigint): Int32Array;
  /** Wakes up to `count` waiters on the cell at `address` of this process. */
  wakeAt(address: bigint, count: number): void;
  /** Starts a waiting thread (os_wait_helper.ts) for this thread; it ends once this thread has. */
  startWaitHelper(init: Omit<HelperInit, "runtime">): void;
}

/** Cells a thread's waiting thread watches at once (futex_waitv takes 128, one is the doorbell). */
export const SLOTS: number = 127;
/** A slot's state: free, listed (waiting), or moved (the helper said so). */
export const STATE_FREE: number = 0;
export const STATE_ACTIVE: number = 1;
export const STATE_FIRED: number = 2;
/** Taken by a thread that is filling it in. */
export const STATE_CLAIMED: number = 3;

/**
 * What a waiting thread is started with: the table of waits (tableViews),
 * the doorbell's address
 * (a cell of OS shared memory rung when the table changes), and where in
 * the liveness table (lib/shared/lives.ts) to see its thread end.
 */
export interface HelperInit {
  runtime: "deno" | "bun";
  table: SharedArrayBuffer;
  doorbell: bigint;
  lives: SharedArrayBuffer;
  slotCell: number;
  exitedCell: number;
  token: number;
}

/** What the doorbell holds once its thread is ending: the waiting thread ends too. */
export const DOORBELL_STOP: number = -0x7fffffff;

/** Bytes of a table of waits. */
export const TABLE_BYTES: number = SLOTS * 16;

/** The views of a table of waits: addresses, then states, then expected values. */
export function tableViews(table: SharedArrayBuffer): { addresses: BigInt64Array; state: Int32Array; expected: Int32Array } {
  return {
    addresses: new BigInt64Array(table, 0, SLOTS),
    state: new Int32Array(table, SLOTS * 8, SLOTS),
    expected: new Int32Array(table, SLOTS * 12, SLOTS),
  };
}

// What the two FFIs are asked for, with addresses as bigints.
/** @internal The C library calls multiproc makes (exported for the waiting thread). */
export interface Libc {
  memfdCreate(name: Uint8Array): number;
  open(path: Uint8Array): number;
  ftruncate(fd: number, size: number): number;
  fallocate(fd: number, mode: number, offset: number, size: number): number;
  mmap(size: number, fd: number, offset: number): { address: bigint; buffer: ArrayBuffer } | null;
  munmap(address: bigint, size: number): void;
  close(fd: number): void;
  // futex(2): (address, op, value, timespec)
  futex(address: bigint, op: number, value: number, timeout: BigInt64Array | null): void;
  /** futex_waitv(2) on `n` entries of `list` until `until` (CLOCK_MONOTONIC); the index woken, or < 0. */
  futexWaitv(list: Uint8Array, n: number, until: BigInt64Array): number;
  clockMonotonic(into: BigInt64Array): void;
  /** One 32-bit cell at `address`, as an Int32Array. */
  view(address: bigint): Int32Array;
}

const PROT_READ_WRITE = 3, MAP_SHARED = 1, MFD_CLOEXEC = 1, O_RDWR = 2, O_CLOEXEC = 0o2000000;
const FALLOC_PUNCH_HOLE_KEEP_SIZE = 3;
const SYS_FUTEX = 202, SYS_FUTEX_WAITV = 449, FUTEX_WAIT = 0, FUTEX_WAKE = 1, CLOCK_MONOTONIC = 1;

const cString = (s: string) => new TextEncoder().encode(s + "\0");

function denoLibc(): Libc {
  // deno-lint-ignore no-explicit-any
  const Deno = (globalThis as any).Deno;
  const lib = Deno.dlopen("libc.so.6", {
    memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
    open: { parameters: ["buffer", "i32"], result: "i32" },
    ftruncate: { parameters: ["i32", "i64"], result: "i32" },
    fallocate: { parameters: ["i32", "i32", "i64", "i64"], result: "i32" },
    mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
    munmap: { parameters: ["u64", "usize"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    syscall: { parameters: ["i64", "u64", "i64", "i64", "buffer", "u64", "i64"], result: "i64" },
    clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  }).symbols;
  const waitv = Deno.dlopen("libc.so.6", {
    syscall: { parameters: ["i64", "buffer", "u32", "u32", "buffer", "i32"], result: "i64" },
  }).symbols;
  const views = new Map<bigint, Int32Array>();
  return {
    memfdCreate: (name) => lib.memfd_create(name, MFD_CLOEXEC),
    open: (path) => lib.open(path, O_RDWR | O_CLOEXEC),
    ftruncate: (fd, size) => lib.ftruncate(fd, BigInt(size)),
    fallocate: (fd, mode, offset, size) => lib.fallocate(fd, mode, BigInt(offset), BigInt(size)),
    mmap(size, fd, offset) {
      const p = lib.mmap(null, BigInt(size), PROT_READ_WRITE, MAP_SHARED, fd, BigInt(offset));
      const address = BigInt(Deno.UnsafePointer.value(p));
      if (p === null || address === 0xffffffffffffffffn) return null;
      return { address, buffer: Deno.UnsafePointerView.getArrayBuffer(p, size) };
    },
    munmap: (address, size) => void lib.munmap(address, BigInt(size)),
    close: (fd) => void lib.close(fd),
    futex: (address, op, value, timeout) => void lib.syscall(BigInt(SYS_FUTEX), address, BigInt(op), BigInt(value), timeout, 0n, 0n),
    futexWaitv: (list, n, until) => Number(waitv.syscall(BigInt(SYS_FUTEX_WAITV), list, n, 0, until, CLOCK_MONOTONIC)),
    clockMonotonic: (into) => void lib.clock_gettime(CLOCK_MONOTONIC, into),
    view(address) {
      let v = views.get(address);
      if (!v) {
        if (views.size > 4096) views.clear();
        views.set(address, v = new Int32Array(Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(address), 4)));
      }
      return v;
    },
  };
}

function bunLibc(): Libc {
  // deno-lint-ignore no-explicit-any
  const ffi = (import.meta as any).require("bun:ffi");
  const T = ffi.FFIType;
  const lib = ffi.dlopen("libc.so.6", {
    memfd_create: { args: [T.ptr, T.u32], returns: T.i32 },
    open: { args: [T.ptr, T.i32], returns: T.i32 },
    ftruncate: { args: [T.i32, T.i64], returns: T.i32 },
    fallocate: { args: [T.i32, T.i32, T.i64, T.i64], returns: T.i32 },
    mmap: { args: [T.ptr, T.u64, T.i32, T.i32, T.i32, T.i64], returns: T.u64 },
    munmap: { args: [T.u64, T.u64], returns: T.i32 },
    close: { args: [T.i32], returns: T.i32 },
    syscall: { args: [T.i64, T.u64, T.i64, T.i64, T.ptr, T.u64, T.i64], returns: T.i64 },
    clock_gettime: { args: [T.i32, T.ptr], returns: T.i32 },
  }).symbols;
  const waitv = ffi.dlopen("libc.so.6", {
    syscall: { args: [T.i64, T.ptr, T.u32, T.u32, T.ptr, T.i32], returns: T.i64 },
  }).symbols;
  const views = new Map<bigint, Int32Array>();
  return {
    memfdCreate: (name) => lib.memfd_create(name, MFD_CLOEXEC),
    open: (path) => lib.open(path, O_RDWR | O_CLOEXEC),
    ftruncate: (fd, size) => lib.ftruncate(fd, size),
    fallocate: (fd, mode, offset, size) => lib.fallocate(fd, mode, offset, size),
    mmap(size, fd, offset) {
      const address = BigInt(lib.mmap(null, size, PROT_READ_WRITE, MAP_SHARED, fd, offset));
      if (address === 0n || address === 0xffffffffffffffffn) return null;
      return { address, buffer: ffi.toArrayBuffer(Number(address), 0, size) };
    },
    munmap: (address, size) => void lib.munmap(address, size),
    close: (fd) => void lib.close(fd),
    futex: (address, op, value, timeout) => void lib.syscall(SYS_FUTEX, address, op, value, timeout, 0, 0),
    futexWaitv: (list, n, until) => Number(waitv.syscall(SYS_FUTEX_WAITV, list, n, 0, until, CLOCK_MONOTONIC)),
    clockMonotonic: (into) => void lib.clock_gettime(CLOCK_MONOTONIC, into),
    view(address) {
      let v = views.get(address);
      if (!v) {
        if (views.size > 4096) views.clear();
        views.set(address, v = new Int32Array(ffi.toArrayBuffer(Number(address), 0, 4)));
      }
      return v;
    },
  };
}

/** @internal The C library through this runtime's FFI (for the waiting thread). */
export function libcFor(runtime: "deno" | "bun"): Libc {
  return runtime === "deno" ? denoLibc() : bunLibc();
}

// The waiting thread's module, beside this one with this file's extension.
const helperUrl = new URL(`./os_wait_helper${import.meta.url.endsWith(".js") ? ".js" : ".ts"}`, import.meta.url);

interface Opened extends OsFile {
  readonly fd: number;
}

interface Mapped extends OsSegment {
  readonly address: bigint;
}

function service(libc: Libc, runtime: "deno" | "bun"): OsMemory {
  const timeout = new BigInt64Array(2);
  return {
    create(size) {
      const fd = libc.memfdCreate(cString("multiproc"));
      if (fd < 0) throw new Error("multiproc: memfd_create failed (too many open files? raise `ulimit -n`)");
      if (libc.ftruncate(fd, size) !== 0) {
        libc.close(fd);
        throw new Error(`multiproc: cannot size a shared memory file to ${size} bytes`);
      }
      return { fd, path: `/proc/${process.pid}/fd/${fd}` } as Opened;
    },
    open(path) {
      const fd = libc.open(cString(path));
      if (fd < 0) {
        throw new Error(`multiproc: cannot open shared memory at ${path}: the process that made it has ended`);
      }
      return { fd, path } as Opened;
    },
    map(file, offset, size) {
      const mapped = libc.mmap(size, (file as Opened).fd, offset);
      if (!mapped) {
        throw new Error(`multiproc: cannot map ${size} bytes of shared memory (${file.path}); is the address space limited?`);
      }
      return { file, offset, size, ...mapped } as Mapped;
    },
    unmap(segment) {
      libc.munmap((segment as Mapped).address, segment.size);
    },
    discard(file, offset, size) {
      libc.fallocate((file as Opened).fd, FALLOC_PUNCH_HOLE_KEEP_SIZE, offset, size);
    },
    wait(segment, byteIndex, expected, ms) {
      // (no timeout: wait until woken)
      const limit = ms === Infinity ? null : timeout;
      if (limit) {
        const whole = Math.floor(Math.max(0, ms) / 1000);
        limit[0] = BigInt(whole);
        limit[1] = BigInt(Math.floor((Math.max(0, ms) - whole * 1000) * 1e6));
      }
      libc.futex((segment as Mapped).address + BigInt(byteIndex), FUTEX_WAIT, expected, limit);
    },
    wake(segment, byteIndex, count) {
      libc.futex((segment as Mapped).address + BigInt(byteIndex), FUTEX_WAKE, Math.min(count, 0x7fffffff), null);
    },
    address: (segment, byteIndex) => (segment as Mapped).address + BigInt(byteIndex),
    cellAt: (address) => libc.view(address),
    wakeAt: (address, count) => libc.futex(address, FUTEX_WAKE, Math.min(count, 0x7fffffff), null),
    startWaitHelper(init) {
      const helper = new Worker(helperUrl, { workerData: { ...init, runtime } });
      helper.unref();
    },
  };
}

/** Why this process has no OS shared memory, or null when it has. */
export function osMemoryMissing(runtime: RuntimeName, env: (name: string) => string | undefined): string | null {
  if (runtime === "node") return "Node has no FFI";
  if (process.platform !== "linux") return `not on Linux (${process.platform})`;
  if (env("MULTIPROC_SHARED_MEMORY") === "served") return "MULTIPROC_SHARED_MEMORY=served";
  if (runtime === "deno") {
    // deno-lint-ignore no-explicit-any
    const Deno = (globalThis as any).Deno;
    if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") return "Deno runs without --allow-ffi";
  }
  return null;
}

/** The OS shared-memory service, or undefined where there is none (see osMemoryMissing). */
export function makeOsMemory(runtime: RuntimeName, env: (name: string) => string | undefined): OsMemory | undefined {
  if (osMemoryMissing(runtime, env) !== null) return undefined;
  try {
    const ffi = runtime === "deno" ? "deno" : "bun";
    return service(libcFor(ffi), ffi);
  } catch {
    return undefined; // no libc.so.6 (musl): served memory, as on Node
  }
}
