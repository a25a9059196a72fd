// No child outlives its parent: not when the parent is killed with SIGKILL
// (so no exit hook runs), not when a child's main thread is busy, asleep or
// holding timers; and daemon children end when the parent exits normally.
// Under the thread start method the children are threads of the parent and
// die with it by construction; the same test still runs and checks it.
import process from "node:process";
import { assert, pidAlive, startMethod, test, waitFor } from "./harness.ts";
import { lineStartingWith, startFixture } from "./fixtures/run.ts";

const FIXTURE = new URL("./fixtures/orphan_parent.ts", import.meta.url);

function waitForLines(child: ReturnType<typeof startFixture>, prefix: string, count: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    let buffer = "";
    child.stdout!.on("data", (d: Buffer) => {
      buffer += d;
      const lines = buffer.split("\n");
      buffer = lines.pop()!;
      seen += lines.filter((l) => l.startsWith(prefix)).length;
      if (seen >= count) resolve();
    });
    child.once("exit", (code) => reject(new Error(`parent exited (${code}) after ${seen} ${prefix} lines`)));
  });
}

test("children die within a second of their parent's SIGKILL (busy, timer, asleep)", async () => {
  const parent = startFixture(FIXTURE);
  const running = waitForLines(parent, "RUNNING", 3);
  const pids = JSON.parse(await lineStartingWith(parent, "PIDS ")) as number[];
  await running;
  assert(pids.length === 3 && pids.every((p) => p > 0), `pids ${pids}`);
  assert(pids.every(pidAlive), "children should run before the parent is killed");
  const exited = new Promise((r) => parent.once("exit", r));
  parent.kill("SIGKILL");
  await exited;
  await waitFor(() => !pids.some(pidAlive), {
    timeout: 1000,
    interval: 10,
    message: `children still alive 1 s after the parent's SIGKILL (${startMethod})`,
  });
});

test("daemon children end when the parent exits normally", async () => {
  const parent = startFixture(FIXTURE, ["--daemon"]);
  const pids = JSON.parse(await lineStartingWith(parent, "PIDS ")) as number[];
  const code = await new Promise((r) => parent.once("exit", r));
  assert(code === 0, `parent exit code ${code}`);
  await waitFor(() => !pids.some((p) => p !== process.pid && pidAlive(p)), {
    timeout: 1000,
    interval: 10,
    message: "daemon children still alive 1 s after the parent exited",
  });
});
