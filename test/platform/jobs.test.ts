import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { sql } from "drizzle-orm";
import { Type } from "typebox";
import { queryRows } from "../../src/platform/db/client.ts";
import type { JobDeps } from "../../src/platform/feature.ts";
import { deadLetterQueue, defineJob, jobId } from "../../src/platform/jobs/definitions.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { openServices } from "../../src/services.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { TEST_DATABASE_URL } from "../helpers/database.ts";
import { waitFor } from "../helpers/wait.ts";

// A job that records each attempt in a table, and fails while `failures` says so.
const recordRun = defineJob({
  name: "test.record-run",
  payload: Type.Object({ tag: Type.String(), failAttempts: Type.Integer() }),
  retry: { limit: 2, delaySeconds: 0, backoff: false },
  async handler(payload, deps: JobDeps, job) {
    await deps.database.db.execute(
      sql`insert into test_job_runs (tag, attempt) values (${payload.tag}, ${job.retryCount})`,
    );
    if (job.retryCount < payload.failAttempts) throw new Error(`attempt ${job.retryCount} fails`);
  },
});

// The same, taking its jobs in batches: each job of a batch fails or succeeds on its own.
const batchSizes: number[] = [];
const recordBatch = defineJob({
  name: "test.record-batch",
  payload: Type.Object({ tag: Type.String(), failAttempts: Type.Integer() }),
  retry: { limit: 2, delaySeconds: 0, backoff: false },
  concurrency: 1,
  batch: {
    size: 10,
    async handler(jobs, deps: JobDeps) {
      batchSizes.push(jobs.length);
      return Promise.all(
        jobs.map(async ({ payload, job }) => {
          await deps.database.db.execute(
            sql`insert into test_job_runs (tag, attempt) values (${payload.tag}, ${job.retryCount})`,
          );
          return job.retryCount < payload.failAttempts
            ? new Error(`attempt ${job.retryCount} fails`)
            : undefined;
        }),
      );
    },
  },
});

let t: TestApp;

before(async () => {
  t = await startTestApp({ jobs: [recordRun, recordBatch] });
  await t.services.database.db.execute(
    sql`create table test_job_runs (tag text not null, attempt int not null)`,
  );
});
after(() => t.close());

async function runsOf(tag: string): Promise<number[]> {
  const rows = await queryRows<{ attempt: number }>(
    t.services.database.db,
    sql`select attempt from test_job_runs where tag = ${tag} order by attempt`,
  );
  return rows.map((r) => r.attempt);
}

function completed(tag: string) {
  return t.services.jobs.boss
    .getSpy(recordRun.name)
    .waitForJob((data: { tag?: string }) => data.tag === tag, "completed");
}

describe("a process that only enqueues (an API process with WORKER=off, a CLI command)", () => {
  test("its jobs run on the worker, which alone supervises the queues and runs the schedules", async () => {
    const producer = await openServices(t.config, createLogger(t.config), {
      database: t.services.database,
      stripe: t.services.stripe,
      jobs: [recordRun, recordBatch],
      worksJobs: false,
    });
    try {
      const tag = randomUUID();
      const done = completed(tag);
      await producer.database.db.transaction((tx) =>
        producer.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag }),
      );
      await done;
      assert.deepEqual(await runsOf(tag), [0]);

      // pg-boss's registry of the instances on this database: the worker's and the producer's.
      const roles = (await producer.jobs.boss.getInstances())
        .filter((instance) => instance.live)
        .map((instance) => ({
          supervise: instance.supervise,
          schedule: instance.schedule,
          migrate: instance.migrate,
          listens: instance.config.useListenNotify,
        }))
        .sort((a, b) => Number(b.supervise) - Number(a.supervise));
      assert.deepEqual(roles, [
        { supervise: true, schedule: true, migrate: true, listens: true },
        { supervise: false, schedule: false, migrate: false, listens: false },
      ]);
    } finally {
      await producer.close();
    }
  });
});

describe("jobs enqueued in a transaction", () => {
  test("a job enqueued in a transaction that rolls back never exists, so never runs", async () => {
    const tag = randomUUID();
    await assert.rejects(
      t.services.database.db.transaction(async (tx) => {
        await t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag });
        throw new Error("roll back");
      }),
      /roll back/,
    );
    const job = await t.services.jobs.boss.getJobById(recordRun.name, jobId(recordRun.name, tag));
    assert.equal(job, null);
    assert.deepEqual(await runsOf(tag), []);
  });

  test("a job enqueued in a committed transaction runs once", async () => {
    const tag = randomUUID();
    const done = completed(tag);
    await t.services.database.db.transaction(async (tx) => {
      await t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag });
    });
    await done;
    assert.deepEqual(await runsOf(tag), [0]);
  });

  test("batch inserts of any size reuse one prepared statement per queue", {
    skip: !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL keeps named statements)",
  }, async () => {
    const jobs = (n: number) =>
      Array.from({ length: n }, () => {
        const tag = randomUUID();
        return { payload: { tag, failAttempts: 0 }, key: tag };
      });
    const rollBack = new Error("roll back: only the statements matter");
    let statements: { name: string }[] = [];
    // One transaction holds one connection, whose prepared statements the view lists. They outlive
    // the rollback, which keeps these jobs from running during the other tests.
    await assert.rejects(
      t.services.database.db.transaction(async (tx) => {
        await t.services.jobs.enqueueMany(tx, recordBatch, jobs(1));
        await t.services.jobs.enqueueMany(tx, recordBatch, jobs(3));
        statements = await queryRows<{ name: string }>(
          tx,
          sql`select name from pg_prepared_statements where statement like ${`%'${recordBatch.name}'%`}`,
        );
        throw rollBack;
      }),
      rollBack,
    );
    assert.equal(statements.length, 1, JSON.stringify(statements));
  });

  test("enqueueing the same cause twice inserts one job", async () => {
    const tag = randomUUID();
    const done = completed(tag);
    const inserted = await t.services.database.db.transaction(async (tx) => [
      await t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag }),
      await t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag }),
    ]);
    const again = await t.services.database.db.transaction((tx) =>
      t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 0 }, { key: tag }),
    );
    assert.deepEqual([...inserted, again], [true, false, false]);
    await done;
    assert.deepEqual(await runsOf(tag), [0]);
  });

  test("a failing job is retried per its policy, then lands in the dead-letter queue", async () => {
    const tag = randomUUID();
    await t.services.database.db.transaction((tx) =>
      t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 99 }, { key: tag }),
    );
    const dead = await waitFor(
      async () => {
        const jobs = await t.services.jobs.boss.findJobs<{ tag: string }>(
          deadLetterQueue(recordRun.name),
          { data: { tag } },
        );
        return jobs[0];
      },
      { what: "the dead-lettered job" },
    );
    assert.equal(dead.data.tag, tag);
    // One first attempt plus the policy's two retries, then no more.
    assert.deepEqual(await runsOf(tag), [0, 1, 2]);
    const original = await t.services.jobs.boss.getJobById(
      recordRun.name,
      jobId(recordRun.name, tag),
    );
    assert.equal(original?.state, "failed");
    assert.equal(original?.retryCount, 2);
  });

  test("a job that fails once is retried and then succeeds without reaching the dead letters", async () => {
    const tag = randomUUID();
    const done = completed(tag);
    await t.services.database.db.transaction((tx) =>
      t.services.jobs.enqueue(tx, recordRun, { tag, failAttempts: 1 }, { key: tag }),
    );
    await done;
    assert.deepEqual(await runsOf(tag), [0, 1]);
    const dead = await t.services.jobs.boss.findJobs(deadLetterQueue(recordRun.name), {
      data: { tag },
    });
    assert.equal(dead.length, 0);
  });

  test("an invalid payload is refused before anything is written", async () => {
    await assert.rejects(
      t.services.database.db.transaction((tx) =>
        t.services.jobs.enqueue(
          tx,
          recordRun,
          // @ts-expect-error: the point is a payload that breaks the schema
          { tag: 5, failAttempts: 0 },
          { key: "bad" },
        ),
      ),
      /invalid payload/,
    );
  });

  test("a batch handler settles each job of the batch on its own", async () => {
    const [ok, flaky, broken] = [randomUUID(), randomUUID(), randomUUID()];
    const spy = t.services.jobs.boss.getSpy(recordBatch.name);
    const done = [ok, flaky].map((tag) =>
      spy.waitForJob((data: { tag?: string }) => data.tag === tag, "completed"),
    );
    batchSizes.length = 0;
    // Committed together, so the worker's next fetch takes all three in one batch.
    await t.services.database.db.transaction(async (tx) => {
      await t.services.jobs.enqueue(tx, recordBatch, { tag: ok, failAttempts: 0 }, { key: ok });
      await t.services.jobs.enqueue(
        tx,
        recordBatch,
        { tag: flaky, failAttempts: 1 },
        { key: flaky },
      );
      await t.services.jobs.enqueue(
        tx,
        recordBatch,
        { tag: broken, failAttempts: 99 },
        { key: broken },
      );
    });
    await Promise.all(done);
    await waitFor(
      async () =>
        (
          await t.services.jobs.boss.findJobs(deadLetterQueue(recordBatch.name), {
            data: { tag: broken },
          })
        )[0],
      { what: "the broken job dead-lettered" },
    );
    assert.equal(batchSizes[0], 3);
    assert.deepEqual(await runsOf(ok), [0]);
    assert.deepEqual(await runsOf(flaky), [0, 1]);
    assert.deepEqual(await runsOf(broken), [0, 1, 2]);
    const states = await Promise.all(
      [ok, flaky, broken].map(
        async (tag) =>
          (await t.services.jobs.boss.getJobById(recordBatch.name, jobId(recordBatch.name, tag)))
            ?.state,
      ),
    );
    assert.deepEqual(states, ["completed", "completed", "failed"]);
  });
});
