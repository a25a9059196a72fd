// The Host: everything multiproc asks of the process it runs in. Built once,
// on first use, from the detected runtime's specifics.
import process from "node:process";
import os from "node:os";
import { readFileSync, writeSync } from "node:fs";
import { Worker } from "node:worker_threads";
import v8 from "node:v8";
import { fileURLToPath } from "node:url";
import type { ChildHandle, ChildSpec, Host, RuntimeName } from "./types.ts";
import type { RuntimeSpecifics } from "./specifics.ts";
import { detectRuntime } from "./detect.ts";
import { nodeSpecifics } from "./node.ts";
import { denoSpecifics } from "./deno.ts";
import { bunSpecifics } from "./bun.ts";
import { ProcessChild, ThreadChild } from "./children.ts";
import { ackLineIfMade, makeAckLine } from "./ack_line.ts";
import { makeOsMemory, type OsMemory, osMemoryMissing } from "./os_memory.ts";

const SPECIFICS: Record<RuntimeName, RuntimeSpecifics> = {
  node: nodeSpecifics,
  deno: denoSpecifics,
  bun: bunSpecifics,
};

// The bootstrap sits beside this folder, with this file's own extension, so
// the same code works from the .ts sources and from compiled .js.
const ext = import.meta.url.endsWith(".js") ? ".js" : ".ts";
const bootstrapUrl = new URL(`../child/bootstrap${ext}`, import.meta.url);
// Serves a Node child process's state line (types.ts StateLineEnd).
const stateThreadUrl = new URL(`../child/state_thread${ext}`, import.meta.url);

function startThread(specifics: RuntimeSpecifics, url: URL, data: unknown, transfer: readonly Transferable[]): Worker {
  const { entry, execArgv } = specifics.threadEntry(url);
  const options = { workerData: data, transferList: transfer, ...(execArgv ? { execArgv } : {}) };
  return new Worker(entry, options as ConstructorParameters<typeof Worker>[1]);
}

function spawnChild(runtime: RuntimeName, specifics: RuntimeSpecifics, spec: ChildSpec): ChildHandle {
  if (spec.method === "thread") {
    const { entry, execArgv } = specifics.threadEntry(bootstrapUrl);
    return new ThreadChild(entry, spec.init, spec.name, execArgv);
  }
  const { command, args } = specifics.processCommand(fileURLToPath(bootstrapUrl));
  // Node cannot map shared memory into a child: its operations go to a
  // thread of this process over a line of their own (Deno and Bun map it).
  const stateThread = runtime === "node" && host?.env("MULTIPROC_STATE_LINE") !== "0"
    ? { url: stateThreadUrl, start: (url: URL, data: unknown, transfer: readonly Transferable[]) => startThread(specifics, url, data, transfer) }
    : undefined;
  // Answers to a child's async requests go on a line of their own where the
  // child can read one as it comes (Bun's child cannot: they go over IPC).
  const answerLine = runtime !== "bun" && host?.env("MULTIPROC_ANSWER_LINE") !== "0";
  // A Node child that takes items a queue of this process lent it says so
  // on a pipe nobody waits on (ack_line.ts).
  const ackFd = runtime === "node" && host?.env("MULTIPROC_ACK_LINE") !== "0" ? makeAckLine()?.writeFd : undefined;
  return new ProcessChild(command, args, spec.init, { stateThread, answerLine, ackFd });
}

function makeHost(runtime: RuntimeName): Host {
  const specifics = SPECIFICS[runtime];
  let osMemory: OsMemory | undefined | null = null;
  const host: Host = {
    runtime,
    pid: process.pid,
    cpuCount: () => os.availableParallelism?.() ?? os.cpus().length,
    mainModuleUrl: () => specifics.mainModuleUrl(),
    env(name) {
      try {
        return process.env[name];
      } catch {
        return undefined; // Deno without --allow-env
      }
    },
    readTextFile(url) {
      try {
        return readFileSync(new URL(url), "utf8");
      } catch {
        return undefined;
      }
    },
    writeStderr(text) {
      writeSync(2, text);
    },
    signalNumber(name) {
      return (os.constants.signals as Record<string, number>)[name] ?? 0;
    },
    onExit(fn) {
      process.on("exit", fn);
    },
    afterTurn(fn) {
      setImmediate(fn);
    },
    spawn: (spec) => spawnChild(runtime, specifics, spec),
    osMemory: () => osMemory === null ? (osMemory = makeOsMemory(runtime, host.env)) : osMemory,
    osMemoryMissing: () => osMemoryMissing(runtime, host.env),
    ackLine: ackLineIfMade,
    serialize: (value) => v8.serialize(value),
    deserialize: (bytes) => v8.deserialize(bytes as Buffer),
  };
  return host;
}

let host: Host | undefined;

/** The Host for this process, created on first use. */
export function getHost(): Host {
  return (host ??= makeHost(detectRuntime()));
}
