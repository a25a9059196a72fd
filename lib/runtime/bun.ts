// Bun: children are `bun bootstrap`; Bun runs TypeScript in processes and
// workers alike, so the bootstrap is its own entry everywhere.
import process from "node:process";
import { pathToFileURL } from "node:url";
import type { RuntimeSpecifics } from "./specifics.ts";

/** Bun's part of the seam. */
export const bunSpecifics: RuntimeSpecifics = {
  processCommand(bootstrapPath) {
    return { command: process.execPath, args: [bootstrapPath] };
  },
  threadEntry(bootstrapUrl) {
    return { entry: bootstrapUrl };
  },
  mainModuleUrl() {
    const main = (globalThis as unknown as { Bun: { main: string } }).Bun.main;
    return main ? pathToFileURL(main).href : undefined;
  },
};
