// Deno: children are `deno run <the parent's permissions> bootstrap`. The
// permissions are rebuilt from what the parent was granted, never `-A`, so a
// child can do exactly what its parent can. Partial grants (`--allow-read=dir`)
// cannot be read back from Deno, so they are not passed on.
import type { RuntimeSpecifics } from "./specifics.ts";

interface DenoPermissions {
  querySync(desc: { name: string }): { state: string };
}
interface DenoGlobal {
  execPath(): string;
  mainModule: string;
  permissions: DenoPermissions;
}

const PERMISSIONS = ["read", "write", "net", "env", "run", "ffi", "sys", "import"];

function deno(): DenoGlobal {
  return (globalThis as unknown as { Deno: DenoGlobal }).Deno;
}

/** The `--allow-*` flags for every permission this Deno process holds in full. */
export function permissionFlags(): string[] {
  const flags: string[] = [];
  for (const name of PERMISSIONS) {
    try {
      if (deno().permissions.querySync({ name }).state === "granted") flags.push(`--allow-${name}`);
    } catch {
      // A permission this Deno version does not know: nothing to pass on.
    }
  }
  return flags;
}

/** Deno's part of the seam. */
export const denoSpecifics: RuntimeSpecifics = {
  processCommand(bootstrapPath) {
    // Checked here because a refused spawn only fails later, asynchronously.
    const run = deno().permissions.querySync({ name: "run", command: deno().execPath() } as { name: string });
    if (run.state !== "granted") {
      throw new Error(`Deno may not run "${deno().execPath()}" (run Deno with --allow-run, or use the thread start method)`);
    }
    return {
      command: deno().execPath(),
      args: ["run", "--quiet", "--no-prompt", ...permissionFlags(), bootstrapPath],
    };
  },
  threadEntry(bootstrapUrl) {
    return { entry: bootstrapUrl };
  },
  mainModuleUrl() {
    return deno().mainModule;
  },
};
