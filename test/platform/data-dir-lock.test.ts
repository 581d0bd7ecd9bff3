import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { openDatabase, pgliteDataDir, pgliteLockFile } from "../../src/platform/db/client.ts";
import { DataDirInUse } from "../../src/platform/db/data-dir-lock.ts";
import { freshDataDir } from "../helpers/database.ts";
import { runCli, stackLines, startProcess } from "../helpers/process.ts";

// The embedded database belongs to one process: a second API, worker or CLI on
// the same DATA_DIR used to start, and one side's writes were lost.

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "billing-lock-"));
  dirs.push(dir);
  return freshDataDir(dir);
}

/** The PID of a process that has exited, as a crashed owner leaves in its lock. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await once(child, "exit");
  assert.ok(child.pid);
  return child.pid;
}

describe("the embedded database's owner", () => {
  test("a second opener (API, CLI, in-process) is refused at once with one line naming the owner's PID", async () => {
    const dir = await dataDir();
    const env = { PORT: "0", HOST: "127.0.0.1", DATA_DIR: dir, STRIPE_EMULATOR_PORT: "0" };
    const owner = startProcess("src/main.ts", env, dir);
    try {
      await owner.url;
      const pid = owner.child.pid;
      const refusal = new RegExp(
        `in use by process ${pid}: stop that process, or set DATABASE_URL to use PostgreSQL`,
      );

      const second = startProcess("src/main.ts", env, dir);
      const outcome = await Promise.race([
        second.exited,
        second.url.then(
          () => {
            second.child.kill("SIGKILL");
            return "served beside the owner";
          },
          () => second.exited,
        ),
      ]);
      assert.equal(outcome, 1);
      const lines = second.output().trim().split("\n");
      assert.equal(lines.length, 1, second.output());
      assert.match(lines[0] ?? "", refusal);
      assert.deepEqual(stackLines(second.output()), []);

      // A write from the CLI would have vanished at the API's next start.
      const deactivate = await runCli(["users:deactivate", "--email", "x@example.com"], env, dir);
      assert.equal(deactivate.code, 1);
      assert.match(deactivate.output, refusal);
      assert.equal(deactivate.output.trim().split("\n").length, 1, deactivate.output);

      await assert.rejects(
        openDatabase({ pgliteDir: pgliteDataDir(dir) }),
        (err) => err instanceof DataDirInUse && err.pid === pid,
      );

      // The owner still serves: the refusals took nothing from it.
      assert.equal((await fetch(`${await owner.url}/readyz`)).status, 200);
    } finally {
      owner.child.kill("SIGINT");
      assert.equal(await owner.exited, 0);
    }
    assert.ok(!existsSync(pgliteLockFile(pgliteDataDir(dir))), "a clean stop removes the lock");
  });

  test("a lock left by a process that died is taken over, and released on close", async () => {
    const dir = await dataDir();
    const lock = pgliteLockFile(pgliteDataDir(dir));
    await writeFile(lock, `${await deadPid()}\n`);
    const database = await openDatabase({ pgliteDir: pgliteDataDir(dir) });
    try {
      assert.equal(await readFile(lock, "utf8"), `${process.pid}\n`);
      await database.ping();
    } finally {
      await database.close();
    }
    assert.ok(!existsSync(lock));
    // And the next opener finds it free.
    const next = await runCli(["db:migrate"], { DATA_DIR: dir }, dir);
    assert.equal(next.code, 0, next.output);
  });
});
