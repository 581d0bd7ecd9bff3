import assert from "node:assert/strict";
import { test } from "node:test";
import {
  type AuditContext,
  actorOr,
  currentActor,
  withActor,
  withDefaultActor,
} from "../../src/audit/index.ts";

const job: AuditContext = { actor: { kind: "system", job: "webhooks.process_event" } };
const event: AuditContext = { actor: { kind: "stripe_event", eventId: "evt_1" } };
const heal: AuditContext = {
  actor: { kind: "system", job: "billing.reconcile" },
  reason: "reconcile",
};

test("nothing said: the actor is system 'unknown'", () => {
  assert.deepEqual(currentActor(), { actor: { kind: "system", job: "unknown" } });
});

test("an inner default replaces an outer default (the webhook job's event over its queue)", async () => {
  const seen = await withDefaultActor(job, () =>
    withDefaultActor(event, async () => {
      await Promise.resolve();
      return currentActor();
    }),
  );
  assert.deepEqual(seen, event);
  assert.deepEqual(
    withDefaultActor(job, () => currentActor()),
    job,
  );
});

test("an explicit actor holds for every default inside it (a heal run through the webhook path)", async () => {
  const seen = await withActor(heal, () =>
    withDefaultActor(job, () =>
      withDefaultActor(event, async () => {
        await new Promise((resolve) => setImmediate(resolve));
        return { current: currentActor(), resolved: actorOr(event) };
      }),
    ),
  );
  assert.deepEqual(seen, { current: heal, resolved: heal });
  assert.deepEqual(
    withDefaultActor(job, () => actorOr(event)),
    event,
  );
});

test("an explicit actor inside another replaces it", () => {
  const admin: AuditContext = { actor: { kind: "admin", userId: "u1" } };
  assert.deepEqual(
    withActor(heal, () => withActor(admin, () => currentActor())),
    admin,
  );
});
