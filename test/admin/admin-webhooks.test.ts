import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, test } from "node:test";
import { createFaults } from "../../stripe-emulator/faults.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";
import { ADMIN_ENV, type AdminCall, auditRows, staffCaller } from "./ops-helpers.ts";

// The webhook ledger for staff: events by type and status, one event's attempts and errors, and
// replay of one or every failed event through the processing job, after which it is processed.

const faults = createFaults();
let t: BillingTestApp;
let call: AdminCall;
before(async () => {
  // WEBHOOK_RETRY_LIMIT 1 (the helper's): an event fails for good after two attempts.
  t = await startBillingApp({ stages: [faults.stage], env: ADMIN_ENV });
  ({ call } = await staffCaller(t));
});
after(() => t?.close());
beforeEach(() => faults.clear());

/** Failed events handed out already. */
const seen = new Set<string>();

/**
 * A refund whose `charge.refunded` event fails for good: Stripe answers every read of the charge
 * with a 500 until `faults.clear()`. Answers the event's id and the buyer's.
 */
async function failedRefundEvent() {
  const buyer = await t.signUp();
  const plan = await t.plan({ amount: 1700 });
  assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
  await t.settle();
  const [paid] = await t.paymentsOf(buyer.userId);
  assert.ok(paid?.stripeChargeId);
  faults.inject({ method: "GET", path: /^\/v1\/charges\//, fault: "500", times: 1_000 });
  await t.stripe.refunds.create({ charge: paid.stripeChargeId });
  const event = await waitFor(
    async () => {
      const res = await call(
        "GET",
        "/api/admin/webhooks/events/?type=charge.refunded&status=failed",
      );
      return res.body.results.find((e: { id: string }) => !seen.has(e.id));
    },
    { what: "the charge.refunded event to fail", timeoutMs: 30_000 },
  );
  seen.add(event.id);
  // The event is marked failed by the last attempt's handler; pg-boss marks its job failed a
  // moment later, after the handler has thrown.
  await waitFor(
    async () => {
      const res = await call("GET", `/api/admin/webhooks/events/${event.id}/`);
      return res.body.jobs.some((j: { state: string }) => j.state === "failed");
    },
    { what: "the event's job to be failed", timeoutMs: 30_000 },
  );
  return { eventId: event.id as string, buyer };
}

const refundRows = async (userId: string) =>
  (await t.paymentsOf(userId)).filter((p) => p.status === "refunded").length;

async function statusOf(id: string): Promise<string> {
  const res = await call("GET", `/api/admin/webhooks/events/${id}/`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.status;
}

describe("admin webhooks", () => {
  test("a failed event shows its attempts, error and jobs; replayed, it is processed and its refund recorded once", async () => {
    const { eventId, buyer } = await failedRefundEvent();
    const detail = await call("GET", `/api/admin/webhooks/events/${eventId}/`);
    assert.equal(detail.body.status, "failed");
    assert.equal(detail.body.attempts, 2);
    assert.match(detail.body.last_error, /internal error/i);
    assert.equal(detail.body.type, "charge.refunded");
    assert.equal(detail.body.payload.id, eventId);
    assert.ok(detail.body.jobs.some((j: { state: string }) => j.state === "failed"));
    assert.equal(await refundRows(buyer.userId), 0);

    faults.clear();
    const key = randomUUID();
    const replay = await call("POST", `/api/admin/webhooks/events/${eventId}/replay/`, { key });
    assert.equal(replay.status, 202, JSON.stringify(replay.body));
    assert.deepEqual(replay.body, {
      id: eventId,
      type: "charge.refunded",
      status: "pending",
      previous_status: "failed",
    });
    await waitFor(async () => (await statusOf(eventId)) === "processed", {
      what: "the replayed event to be processed",
    });
    assert.equal(await refundRows(buyer.userId), 1);

    // The same request again: the stored answer, and nothing queued or recorded twice.
    const again = await call("POST", `/api/admin/webhooks/events/${eventId}/replay/`, { key });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, replay.body);
    assert.equal(await statusOf(eventId), "processed");
    const audits = await auditRows(t.services.database.db, "admin.webhook_replayed", eventId);
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.actorKind, "admin");
    assert.deepEqual(audits[0]?.before, { status: "failed" });

    // Its dead letter is gone: the event is not listed as work left undone.
    const dead = await call("GET", "/api/admin/jobs/?queue=webhooks.process");
    assert.ok(
      !dead.body.results.some(
        (j: { payload: { eventId?: string } }) => j.payload.eventId === eventId,
      ),
    );
    await t.settle();
    assert.equal(await refundRows(buyer.userId), 1);
  });

  test("replay-failed replays every failed event; a retry without a key finds none left", async () => {
    const a = await failedRefundEvent();
    const b = await failedRefundEvent();
    faults.clear();
    const res = await call("POST", "/api/admin/webhooks/events/replay-failed/");
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const ids = res.body.replayed.map((r: { id: string }) => r.id);
    assert.ok(ids.includes(a.eventId) && ids.includes(b.eventId), ids.join(", "));
    assert.equal(res.body.remaining, 0);
    for (const id of [a.eventId, b.eventId]) {
      await waitFor(async () => (await statusOf(id)) === "processed", { what: `${id} processed` });
    }
    const again = await call("POST", "/api/admin/webhooks/events/replay-failed/");
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, { replayed: [], remaining: 0 });
    assert.equal(await refundRows(a.buyer.userId), 1);
    assert.equal(await refundRows(b.buyer.userId), 1);
  });

  test("the list filters by type and status and pages; unknown events are a 404", async () => {
    const res = await call("GET", "/api/admin/webhooks/events/?type=invoice.paid");
    assert.equal(res.status, 200);
    assert.ok(res.body.results.every((e: { type: string }) => e.type === "invoice.paid"));
    const bad = await call("GET", "/api/admin/webhooks/events/?status=done");
    assert.equal(bad.status, 400);
    const missing = await call("GET", "/api/admin/webhooks/events/evt_nope/");
    assert.equal(missing.status, 404);
    const replay = await call("POST", "/api/admin/webhooks/events/evt_nope/replay/");
    assert.equal(replay.status, 404);
    assert.deepEqual(replay.body, { error: "Event not found." });
  });
});
