import assert from "node:assert/strict";
import { after, test } from "node:test";
import { jobId } from "../../src/platform/jobs/definitions.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { openServices } from "../../src/services.ts";
import { finishedAttempts, stuckOnce } from "../fixtures/stuck-job.ts";
import { testConfig } from "../helpers/app.ts";
import { createTestDatabase, TEST_DATABASE_URL } from "../helpers/database.ts";
import { ROOT, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

// A worker in another process, killed mid-job: PostgreSQL only (PGlite belongs to one process).
const skip = !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL)";
const testDatabase = skip ? undefined : await createTestDatabase();
after(() => testDatabase?.drop());

test("a job whose worker was killed is retried once its heartbeat lapses, long before JOB_TIMEOUT", {
  skip,
}, async () => {
  const database = testDatabase?.database;
  assert.ok(database && testDatabase.url);
  // JOB_TIMEOUT stays at its 15 minutes: only the heartbeat brings the job back within the test.
  const env = { DATABASE_URL: testDatabase.url, JOB_HEARTBEAT: "10", LOG_LEVEL: "info" };
  const stuck = startProcess("test/fixtures/stuck-worker.ts", env, ROOT);
  await waitFor(() => stuck.output().includes("stuck worker ready"), { what: "the worker" });
  const config = await testConfig(env);
  const services = await openServices(config, createLogger(config), {
    database,
    jobs: [stuckOnce],
    worksJobs: false,
  });
  try {
    await database.db.transaction((tx) => services.jobs.enqueue(tx, stuckOnce, {}, { key: "one" }));
    const id = jobId(stuckOnce.name, "one");
    await waitFor(
      async () => (await services.jobs.boss.getJobById(stuckOnce.name, id))?.state === "active",
      { what: "the job to start" },
    );
    stuck.child.kill("SIGKILL");
    await stuck.exited;

    // A worker in this process takes over; the killed one never settled its job.
    const worker = await openServices(config, createLogger(config), {
      database,
      jobs: [stuckOnce],
      pollingIntervalSeconds: 0.5,
    });
    try {
      await worker.jobs.work(worker);
      await waitFor(() => finishedAttempts.length > 0, { timeoutMs: 60_000, what: "the retry" });
      assert.deepEqual(finishedAttempts, [1]);
    } finally {
      await worker.close();
    }
  } finally {
    await services.close();
  }
});
