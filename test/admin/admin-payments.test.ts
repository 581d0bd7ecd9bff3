import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { refundPayment } from "../../src/admin/admin-payments-service.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";
import { ADMIN_ENV, type AdminCall, auditRows, staffCaller } from "./ops-helpers.ts";

// Payments for staff: the list of every user's payments, and refunds through Stripe's Refunds API,
// recorded once when the `charge.refunded` webhook comes back (also when it comes back twice).

let t: BillingTestApp;
let call: AdminCall;
let staff: Customer;
before(async () => {
  t = await startBillingApp({ env: ADMIN_ENV });
  ({ staff, call } = await staffCaller(t));
});
after(() => t?.close());

/** A buyer with one paid subscription of `amount` cents; answers the buyer and the payment. */
async function paidBuyer(amount: number) {
  const buyer = await t.signUp();
  const plan = await t.plan({ amount });
  assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
  await t.settle();
  const list = await call("GET", `/api/admin/payments/?user=${buyer.userId}`);
  assert.equal(list.status, 200, JSON.stringify(list.body));
  assert.equal(list.body.count, 1);
  const [payment] = list.body.results;
  assert.equal(payment.status, "succeeded");
  assert.ok(payment.stripe_charge_id, "the payment names its charge");
  return { buyer, payment };
}

const rowsOf = async (userId: string) =>
  (await call("GET", `/api/admin/payments/?user=${userId}`)).body.results.map(
    (p: { status: string; amount: string; amount_refunded: string }) =>
      `${p.status}:${p.amount}:${p.amount_refunded}`,
  );

describe("admin payments", () => {
  test("the list filters by user and status, newest first, in the API's page shape", async () => {
    const { buyer, payment } = await paidBuyer(1200);
    const byStatus = await call("GET", `/api/admin/payments/?user=${buyer.userId}&status=failed`);
    assert.equal(byStatus.status, 200);
    assert.deepEqual(byStatus.body, { count: 0, next: null, previous: null, results: [] });
    const all = await call("GET", "/api/admin/payments/?status=succeeded");
    assert.ok(all.body.results.some((p: { id: string }) => p.id === payment.id));
    assert.equal(payment.user_id, buyer.userId);
    assert.equal(payment.amount, "12.00");
    const bad = await call("GET", "/api/admin/payments/?status=paid");
    assert.equal(bad.status, 400);
  });

  test("a partial refund is made at Stripe and recorded once when its webhook comes back, also twice", async () => {
    const { buyer, payment } = await paidBuyer(2500);
    const key = randomUUID();
    const res = await call("POST", `/api/admin/payments/${payment.id}/refund/`, {
      body: { amount: 1000 },
      key,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.amount, "10.00");
    assert.equal(res.body.remaining, "15.00");
    assert.match(res.body.id, /^re_/);

    // At Stripe: one refund of 1000 on the charge.
    const refunds = await t.stripe.refunds.list({ charge: payment.stripe_charge_id });
    assert.deepEqual(
      refunds.data.map((r) => [r.id, r.amount]),
      [[res.body.id, 1000]],
    );
    assert.equal((await t.stripe.charges.retrieve(payment.stripe_charge_id)).amount_refunded, 1000);

    // Locally: once the webhook is processed, one refund row, and the payment shows it.
    await t.settle();
    assert.deepEqual(await rowsOf(buyer.userId), ["refunded:10.00:0.00", "succeeded:25.00:10.00"]);

    // Stripe delivers charge.refunded again: still one refund row.
    const [event] = (
      await t.stripe.events.list({ type: "charge.refunded", limit: 100 })
    ).data.filter((e) => (e.data.object as { id: string }).id === payment.stripe_charge_id);
    assert.ok(event, "Stripe sent charge.refunded");
    await t.emulator.redeliver(event.id);
    await t.settle();
    assert.deepEqual(await rowsOf(buyer.userId), ["refunded:10.00:0.00", "succeeded:25.00:10.00"]);

    // The request is audited as the staff user; the refund itself once, by the webhook's event.
    const [audit] = await auditRows(t.services.database.db, "admin.refund_requested", res.body.id);
    assert.equal(audit?.actorKind, "admin");
    assert.equal(audit?.actorId, staff.userId);
    assert.equal(audit?.userId, buyer.userId);
    const recorded = await auditRows(t.services.database.db, "payment.refunded", res.body.id);
    assert.equal(recorded.length, 1);
    assert.equal(recorded[0]?.actorKind, "stripe_event");
  });

  test("a retried request with its Idempotency-Key gets the same answer and makes no second refund", async () => {
    const { buyer, payment } = await paidBuyer(3000);
    const key = randomUUID();
    const first = await call("POST", `/api/admin/payments/${payment.id}/refund/`, {
      body: {},
      key,
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    assert.equal(first.body.amount, "30.00");
    const again = await call("POST", `/api/admin/payments/${payment.id}/refund/`, {
      body: {},
      key,
    });
    assert.equal(again.status, 201);
    assert.deepEqual(again.body, first.body);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    const refunds = await t.stripe.refunds.list({ charge: payment.stripe_charge_id });
    assert.equal(refunds.data.length, 1);
    await t.settle();
    assert.deepEqual(await rowsOf(buyer.userId), ["refunded:30.00:0.00", "succeeded:30.00:30.00"]);
    const audits = await auditRows(t.services.database.db, "admin.refund_requested", first.body.id);
    assert.equal(audits.length, 1);
  });

  test("a request whose refund Stripe made is found again by its key, not refused or repeated", async () => {
    const { payment } = await paidBuyer(1800);
    const deps = {
      db: t.services.database.db,
      stripe: t.stripe,
      logger: t.services.logger,
    };
    const key = randomUUID();
    const first = await refundPayment(deps, { paymentId: payment.id, key });
    // The same request again (its first answer lost): the charge has nothing left to refund.
    const again = await refundPayment(deps, { paymentId: payment.id, key });
    assert.equal(again.id, first.id);
    assert.equal(again.amount, "18.00");
    const refunds = await t.stripe.refunds.list({ charge: payment.stripe_charge_id });
    assert.equal(refunds.data.length, 1);
    await t.settle();
  });

  test("refunds beyond the refundable rest are refused with a clear 400, and nothing is refunded", async () => {
    const { payment } = await paidBuyer(2000);
    const over = await call("POST", `/api/admin/payments/${payment.id}/refund/`, {
      body: { amount: 2001 },
    });
    assert.equal(over.status, 400);
    assert.match(over.body.amount[0], /less than or equal to 2000/);
    assert.equal(
      (await t.stripe.refunds.list({ charge: payment.stripe_charge_id })).data.length,
      0,
    );

    const part = await call("POST", `/api/admin/payments/${payment.id}/refund/`, {
      body: { amount: 500 },
    });
    assert.equal(part.status, 201);
    const rest = await call("POST", `/api/admin/payments/${payment.id}/refund/`, { body: {} });
    assert.equal(rest.status, 201);
    assert.equal(rest.body.amount, "15.00");
    const none = await call("POST", `/api/admin/payments/${payment.id}/refund/`, { body: {} });
    assert.equal(none.status, 400);
    assert.deepEqual(none.body, { error: "This payment is refunded in full already." });
    await t.settle();
    const refunded = await rowsOf(payment.user_id);
    assert.deepEqual(refunded.toSorted(), [
      "refunded:15.00:0.00",
      "refunded:5.00:0.00",
      "succeeded:20.00:20.00",
    ]);
  });

  test("an unknown payment is a 404, a malformed id or amount a 400", async () => {
    const missing = await call("POST", `/api/admin/payments/${randomUUID()}/refund/`, { body: {} });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "Payment not found." });
    const malformed = await call("POST", "/api/admin/payments/nope/refund/", { body: {} });
    assert.equal(malformed.status, 400);
    const negative = await call("POST", `/api/admin/payments/${randomUUID()}/refund/`, {
      body: { amount: -5 },
    });
    assert.equal(negative.status, 400);
  });
});
