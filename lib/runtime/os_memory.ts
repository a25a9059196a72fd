// OS shared memory for child processes, through the runtime's FFI (Deno's
// `Deno.dlopen`, Bun's `bun:ffi`; Node has none): anonymous memory files
// (memfd_create) mapped MAP_SHARED, and futex waits and wakes on them.
//
// A segment has no name in /dev/shm: it lives as long as a process has it
// open or mapped, so nothing is ever left behind, whatever way the program
// ends. Another process (a child) opens it through its owner's descriptor,
// `/proc/<owner pid>/fd/<fd>`, while the owner lives; once mapped, the
// mapping stays valid after the owner is gone. Linux only.
//
// Atomics work on these mappings although the ArrayBuffer over them is not
// a SharedArrayBuffer (they compile to the same locked instructions; tested
// across processes in tests/shared.test.ts); Atomics.wait does not, hence
// the futex calls here.
import process from "node:process";
import { setImmediate } from "node:timers";
import type { RuntimeName } from "./types.ts";

/** A mapped segment. */
export interface OsSegment {
  /** The mapping, as an ArrayBuffer (not a SharedArrayBuffer). */
  readonly buffer: ArrayBuffer;
  /** Where another process (or a thread) opens it while this process lives. */
  readonly path: string;
  /** Its size in bytes. */
  readonly size: number;
}

/** The OS shared-memory service of this process (see above). */
export interface OsMemory {
  /** A new zeroed segment of `size` bytes. */
  create(size: number): OsSegment;
  /** Maps a segment another process (or this one) created, by its path. */
  attach(path: string, size: number): OsSegment;
  /** Unmaps a segment and closes its descriptor (only once nothing can touch it). */
  release(segment: OsSegment): void;
  /** Blocks while the 32-bit cell at `byteIndex` holds `expected`, `ms` at most, or until woken. */
  wait(segment: OsSegment, byteIndex: number, expected: number, ms: number): void;
  /** Wakes up to `count` waiters on the cell at `byteIndex`, in any process. */
  wake(segment: OsSegment, byteIndex: number, count: number): void;
  /** Resolves after one turn of this thread's event loop (I/O included), unclamped. */
  turn(): Promise<void>;
}

// What the two FFIs are asked for, with addresses as bigints.
interface Libc {
  memfdCreate(name: Uint8Array): number;
  open(path: Uint8Array): number;
  ftruncate(fd: number, size: number): number;
  mmap(size: number, fd: number): { address: bigint; buffer: ArrayBuffer } | null;
  munmap(address: bigint, size: number): void;
  close(fd: number): void;
  // futex(2): (address, op, value, timespec)
  futex(address: bigint, op: number, value: number, timeout: BigInt64Array | null): void;
}

const PROT_READ_WRITE = 3, MAP_SHARED = 1, MFD_CLOEXEC = 1, O_RDWR = 2, O_CLOEXEC = 0o2000000;
const SYS_FUTEX = 202, FUTEX_WAIT = 0, FUTEX_WAKE = 1;

const cString = (s: string) => new TextEncoder().encode(s + "\0");

function denoLibc(): Libc {
  // deno-lint-ignore no-explicit-any
  const Deno = (globalThis as any).Deno;
  const lib = Deno.dlopen("libc.so.6", {
    memfd_create: { parameters: ["buffer", "u32"], result: "i32" },
    open: { parameters: ["buffer", "i32"], result: "i32" },
    ftruncate: { parameters: ["i32", "i64"], result: "i32" },
    mmap: { parameters: ["pointer", "usize", "i32", "i32", "i32", "i64"], result: "pointer" },
    munmap: { parameters: ["u64", "usize"], result: "i32" },
    close: { parameters: ["i32"], result: "i32" },
    syscall: { parameters: ["i64", "u64", "i64", "i64", "buffer", "u64", "i64"], result: "i64" },
  }).symbols;
  return {
    memfdCreate: (name) => lib.memfd_create(name, MFD_CLOEXEC),
    open: (path) => lib.open(path, O_RDWR | O_CLOEXEC),
    ftruncate: (fd, size) => lib.ftruncate(fd, BigInt(size)),
    mmap(size, fd) {
      const p = lib.mmap(null, BigInt(size), PROT_READ_WRITE, MAP_SHARED, fd, 0n);
      const address = BigInt(Deno.UnsafePointer.value(p));
      if (p === null || address === 0xffffffffffffffffn) return null;
      return { address, buffer: Deno.UnsafePointerView.getArrayBuffer(p, size) };
    },
    munmap: (address, size) => void lib.munmap(address, BigInt(size)),
    close: (fd) => void lib.close(fd),
    futex: (address, op, value, timeout) => void lib.syscall(BigInt(SYS_FUTEX), address, BigInt(op), BigInt(value), timeout, 0n, 0n),
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
    mmap: { args: [T.ptr, T.u64, T.i32, T.i32, T.i32, T.i64], returns: T.u64 },
    munmap: { args: [T.u64, T.u64], returns: T.i32 },
    close: { args: [T.i32], returns: T.i32 },
    syscall: { args: [T.i64, T.u64, T.i64, T.i64, T.ptr, T.u64, T.i64], returns: T.i64 },
  }).symbols;
  return {
    memfdCreate: (name) => lib.memfd_create(name, MFD_CLOEXEC),
    open: (path) => lib.open(path, O_RDWR | O_CLOEXEC),
    ftruncate: (fd, size) => lib.ftruncate(fd, size),
    mmap(size, fd) {
      const address = BigInt(lib.mmap(null, size, PROT_READ_WRITE, MAP_SHARED, fd, 0));
      if (address === 0n || address === 0xffffffffffffffffn) return null;
      return { address, buffer: ffi.toArrayBuffer(Number(address), 0, size) };
    },
    munmap: (address, size) => void lib.munmap(address, size),
    close: (fd) => void lib.close(fd),
    futex: (address, op, value, timeout) => void lib.syscall(SYS_FUTEX, address, op, value, timeout, 0, 0),
  };
}

interface Mapped extends OsSegment {
  readonly fd: number;
  readonly address: bigint;
}

function service(libc: Libc): OsMemory {
  const timeout = new BigInt64Array(2);
  const map = (fd: number, size: number, path: string): Mapped => {
    const mapped = libc.mmap(size, fd);
    if (!mapped) {
      libc.close(fd);
      throw new Error(`multiproc: cannot map ${size} bytes of shared memory (${path}); is the address space or /proc limited?`);
    }
    return { fd, path, size, ...mapped };
  };
  return {
    create(size) {
      const fd = libc.memfdCreate(cString("multiproc"));
      if (fd < 0) throw new Error("multiproc: memfd_create failed (too many open files? raise `ulimit -n`)");
      if (libc.ftruncate(fd, size) !== 0) {
        libc.close(fd);
        throw new Error(`multiproc: cannot size shared memory to ${size} bytes`);
      }
      return map(fd, size, `/proc/${process.pid}/fd/${fd}`);
    },
    attach(path, size) {
      const fd = libc.open(cString(path));
      if (fd < 0) {
        throw new Error(`multiproc: cannot open shared memory at ${path}: the process that made it has ended`);
      }
      return map(fd, size, path);
    },
    release(segment) {
      const s = segment as Mapped;
      libc.munmap(s.address, s.size);
      libc.close(s.fd);
    },
    wait(segment, byteIndex, expected, ms) {
      const whole = Math.floor(ms / 1000);
      timeout[0] = BigInt(whole);
      timeout[1] = BigInt(Math.floor((ms - whole * 1000) * 1e6));
      libc.futex((segment as Mapped).address + BigInt(byteIndex), FUTEX_WAIT, expected, timeout);
    },
    wake(segment, byteIndex, count) {
      libc.futex((segment as Mapped).address + BigInt(byteIndex), FUTEX_WAKE, Math.min(count, 0x7fffffff), null);
    },
    turn: () => new Promise<void>((resolve) => setImmediate(resolve)),
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
    return service(runtime === "deno" ? denoLibc() : bunLibc());
  } catch {
    return undefined; // no libc.so.6 (musl): served memory, as on Node
  }
}
