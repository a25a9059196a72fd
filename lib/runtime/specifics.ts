// What differs between runtimes when starting a child: the command line of a
// child process, the entry module of a worker thread, and where the main module is.
// One small object per runtime (node.ts, deno.ts, bun.ts); host.ts picks one.

/** The per-runtime part of the seam. */
export interface RuntimeSpecifics {
  /** The executable and arguments that run `bootstrapPath` as a child process. */
  processCommand(bootstrapPath: string): { command: string; args: string[] };
  /**
   * The module a worker thread starts with, to end up running `bootstrapUrl`,
   * and the execArgv it gets (undefined: the parent's).
   */
  threadEntry(bootstrapUrl: URL): { entry: URL; execArgv?: string[] };
  /** The file URL of the program's entry module. */
  mainModuleUrl(): string | undefined;
}
