import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { Type } from "typebox";
import { type AuditContext, currentActor, withActor } from "../../src/audit/index.ts";
import type { JobDeps } from "../../src/platform/feature.ts";
import { defineJob } from "../../src/platform/jobs/definitions.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

// A job's transitions are recorded as the system job of its queue (src/services.ts), one by one
// or in batches, unless its handler names an actor of its own.

const seen = new Map<string, AuditContext>();
const oneByOne = defineJob({
  name: "test.actor-one",
  payload: Type.Object({ tag: Type.String(), explicit: Type.Boolean() }),
  async handler(payload, _deps: JobDeps) {
    const reconcile = { actor: { kind: "system", job: "billing.reconcile" }, reason: "reconcile" };
    seen.set(
      payload.tag,
      payload.explicit ? withActor(reconcile as AuditContext, currentActor) : currentActor(),
    );
  },
});
const batched = defineJob({
  name: "test.actor-batch",
  payload: Type.Object({ tag: Type.String() }),
  batch: {
    size: 5,
    async handler(jobs, _deps: JobDeps) {
      for (const { payload } of jobs) seen.set(payload.tag, currentActor());
      return jobs.map(() => undefined);
    },
  },
});

let t: TestApp;
before(async () => {
  t = await startTestApp({ jobs: [oneByOne, batched] });
});
after(() => t?.close());

const done = (name: string, tag: string) =>
  t.services.jobs.boss
    .getSpy(name)
    .waitForJob((data: { tag?: string }) => data.tag === tag, "completed");

test("a job runs as its queue; a handler's explicit actor holds inside it", async () => {
  const [plain, explicit, inBatch] = [randomUUID(), randomUUID(), randomUUID()];
  const finished = [
    done(oneByOne.name, plain),
    done(oneByOne.name, explicit),
    done(batched.name, inBatch),
  ];
  await t.services.database.db.transaction(async (tx) => {
    await t.services.jobs.enqueue(tx, oneByOne, { tag: plain, explicit: false }, { key: plain });
    await t.services.jobs.enqueue(
      tx,
      oneByOne,
      { tag: explicit, explicit: true },
      { key: explicit },
    );
    await t.services.jobs.enqueue(tx, batched, { tag: inBatch }, { key: inBatch });
  });
  await Promise.all(finished);
  assert.deepEqual(seen.get(plain), { actor: { kind: "system", job: "test.actor-one" } });
  assert.deepEqual(seen.get(explicit), {
    actor: { kind: "system", job: "billing.reconcile" },
    reason: "reconcile",
  });
  assert.deepEqual(seen.get(inBatch), { actor: { kind: "system", job: "test.actor-batch" } });
});
