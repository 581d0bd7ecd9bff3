import assert from "node:assert/strict";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ROOT, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

// superviseApiThreads (src/platform/api-threads.ts) with stand-in threads: src/main.ts's own
// threads are in startup.test.ts, which has no way to make one die.
interface Line {
  thread?: number;
  msg?: string;
  code?: number;
  err?: { type: string; message: string; stack: string };
}

test("a thread that dies of an uncaught exception is logged and replaced; SIGTERM drains the rest", async () => {
  const dir = await mkdtemp(join(tmpdir(), "api-threads-"));
  const running = startProcess(
    "test/platform/api-threads-fixture/supervisor.ts",
    { CRASH_ONCE: join(dir, "crashed") },
    ROOT,
  );
  const lines = (): Line[] =>
    running
      .output()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Line);
  const ups = () => lines().filter((l) => l.msg === "up");
  await waitFor(() => ups().length >= 3, { timeoutMs: 30_000, what: "a replacement thread" });
  const failed = lines().find((l) => l.msg === "API thread failed");
  assert.equal(failed?.err?.message, "thread fixture crashed");
  assert.match(failed?.err?.stack ?? "", /thread\.ts/);
  const died = lines().find((l) => l.msg === "API thread died; starting a replacement");
  assert.equal(died?.thread, failed?.thread);
  assert.equal(died?.code, 1);
  const threads = new Set(ups().map((l) => l.thread));
  assert.equal(threads.size, 3, "the replacement is a new thread");
  assert.ok(lines().some((l) => l.msg === "API threads started"));

  running.child.kill("SIGTERM");
  assert.equal(await running.exited, 0);
  const stopped = lines().filter((l) => l.msg === "stopping on SIGTERM");
  const alive = [...threads].filter((t) => t !== failed?.thread);
  assert.deepEqual(stopped.map((l) => l.thread).sort(), alive.sort());
  assert.equal(lines().at(-1)?.msg, "stopped");
});
