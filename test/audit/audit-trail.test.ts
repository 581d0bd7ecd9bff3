import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { asc, eq, sql } from "drizzle-orm";
import { auditLog } from "../../src/audit/audit-tables.ts";
import { handleStripeEvents } from "../../src/billing/index.ts";
import { createPlan, type PlanBody, planBody } from "../../src/billing/plans-service.ts";
import { applySubscription, fetchSubscription } from "../../src/billing/subscription-projection.ts";
import { processStoredEvent } from "../../src/webhooks/webhook-ledger.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";

// Every billing transition appears once in the audit trail, written in its transaction, with the
// actor that caused it. The app starts without its worker: the routes' own writes come first and
// are the user's; the webhooks that then report the same changes must add nothing.

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ worker: false });
});
after(() => t?.close());

const rowsOf = (userId: string) =>
  t.services.database.db
    .select()
    .from(auditLog)
    .where(eq(auditLog.userId, userId))
    .orderBy(asc(auditLog.id));

/** A request as the customer, with our own request id (the API keeps a sane X-Request-Id). */
async function call(c: Customer, method: "POST" | "DELETE", url: string, id: string, body = {}) {
  const res = await t.app.inject({
    method,
    url,
    headers: { authorization: `Bearer ${c.token}`, "x-request-id": id },
    ...(method === "POST" ? { payload: body } : {}),
  });
  assert.ok(res.statusCode < 300, `${url}: ${res.statusCode} ${res.body}`);
  return res.json();
}

async function trialPlan(days: number): Promise<PlanBody> {
  const product = await t.stripe.products.create({
    name: `Trial ${randomBytes(3).toString("hex")}`,
  });
  const price = await t.stripe.prices.create({
    product: product.id,
    unit_amount: 2900,
    currency: "usd",
    recurring: { interval: "month" },
  });
  const plan = await createPlan(t.services.database.db, t.stripe, {
    name: product.name,
    priceId: price.id,
    features: [],
    settings: { trialDays: days },
  });
  return planBody(plan);
}

/** Each stored event handled again, as `webhooks:replay` does. */
async function replayAll() {
  const handle: Parameters<typeof processStoredEvent>[1] = (events, batch) =>
    handleStripeEvents(t.services, events, batch);
  const { db } = t.services.database;
  for (const { id } of await db.select({ id: stripeEvents.id }).from(stripeEvents)) {
    await processStoredEvent({ db }, handle, id, true);
  }
}

describe("the audit trail of billing transitions", () => {
  let buyer: Customer;
  let trialist: Customer;
  let basic: PlanBody;
  let pro: PlanBody;

  test("the customer's own requests: each transition once, as the user, with the request id", async () => {
    buyer = await t.signUp();
    basic = await t.plan({ amount: 1000, name: `Basic ${randomBytes(3).toString("hex")}` });
    pro = await t.plan({ amount: 3000, name: `Pro ${randomBytes(3).toString("hex")}` });
    const created = await call(buyer, "POST", "/api/subscriptions/create/", "req-create", {
      plan_id: basic.id,
      payment_method_id: "pm_card_visa",
    });
    const subId: string = created.subscription.stripe_subscription_id;
    await call(buyer, "POST", "/api/subscriptions/cancel/", "req-cancel");
    await call(buyer, "POST", "/api/subscriptions/reactivate/", "req-reactivate");
    await call(buyer, "POST", "/api/subscriptions/change/", "req-upgrade", { plan_id: pro.id });
    await call(buyer, "POST", "/api/subscriptions/change/", "req-downgrade", {
      plan_id: basic.id,
    });
    await call(buyer, "DELETE", "/api/subscriptions/change/", "req-drop");

    const rows = await rowsOf(buyer.userId);
    assert.deepEqual(
      rows.map((r) => [r.kind, r.actorKind, r.actorId, r.requestId]),
      [
        ["customer.linked", "user", buyer.userId, "req-create"],
        ["subscription.created", "user", buyer.userId, "req-create"],
        ["subscription.cancel_scheduled", "user", buyer.userId, "req-cancel"],
        ["subscription.reactivated", "user", buyer.userId, "req-reactivate"],
        ["subscription.plan_changed", "user", buyer.userId, "req-upgrade"],
        ["plan_change.applied", "user", buyer.userId, "req-upgrade"],
        ["plan_change.scheduled", "user", buyer.userId, "req-downgrade"],
        ["plan_change.cancelled", "user", buyer.userId, "req-drop"],
      ],
    );
    const [linked, made, canceling, back, moved, applied, scheduled, dropped] = rows;
    assert.deepEqual(linked?.before, {});
    assert.match(String(linked?.after.stripe_customer_id), /^cus_/);
    assert.equal(made?.subjectId, subId);
    assert.deepEqual(made?.before, {});
    assert.equal(made?.after.status, "active");
    assert.equal(made?.after.plan_id, basic.id);
    assert.equal(canceling?.before.cancel_at_period_end, false);
    assert.equal(canceling?.after.cancel_at_period_end, true);
    assert.equal(back?.after.cancel_at_period_end, false);
    assert.deepEqual([moved?.before, moved?.after], [{ plan_id: basic.id }, { plan_id: pro.id }]);
    assert.equal(applied?.after.plan_id, pro.id);
    assert.equal(scheduled?.after.status, "scheduled");
    assert.equal(scheduled?.subjectId, dropped?.subjectId);
    assert.deepEqual(
      [dropped?.before, dropped?.after],
      [{ status: "scheduled" }, { status: "canceled" }],
    );
  });

  test("a trial taken through the API: created and trial.started, as the user", async () => {
    trialist = await t.signUp();
    const plan = await trialPlan(14);
    await call(trialist, "POST", "/api/subscriptions/create/", "req-trial", {
      plan_id: plan.id,
      payment_method_id: "pm_card_visa",
    });
    const rows = await rowsOf(trialist.userId);
    assert.deepEqual(
      rows.map((r) => [r.kind, r.actorKind, r.requestId]),
      [
        ["customer.linked", "user", "req-trial"],
        ["subscription.created", "user", "req-trial"],
        ["trial.started", "user", "req-trial"],
      ],
    );
    assert.equal(rows[2]?.after.status, "trialing");
    assert.ok(rows[2]?.after.trial_end);
  });

  test("the webhooks reporting those changes add only what they alone learn: the payments", async () => {
    const before = await rowsOf(buyer.userId);
    await t.services.jobs.work(t.services);
    await t.settle();
    const added = (await rowsOf(buyer.userId)).slice(before.length);
    assert.deepEqual(
      added.map((r) => [r.kind, r.actorKind]),
      [
        ["payment.recorded", "stripe_event"],
        ["payment.recorded", "stripe_event"],
      ],
    );
    for (const r of added) {
      assert.match(r.actorId ?? "", /^evt_/);
      assert.match(r.subjectId ?? "", /^in_/);
      assert.equal(r.requestId, null);
    }
    assert.deepEqual(
      added.map((r) => r.after.amount).sort(),
      ["10.00", "20.00"],
      "the first period, then the upgrade's proration",
    );
    assert.equal((await rowsOf(trialist.userId)).length, 3, "the trial's webhooks add nothing");
  });

  test("renewal failure, trial end and refund come from Stripe's events, each once", async () => {
    const subId = (await t.subscriptionsOf(buyer.userId))[0]?.stripeSubscriptionId ?? "";
    const firstPayment = await latestPaymentIntent(t.stripe, subId);
    const customerId = (await t.stripe.customers.list({ email: buyer.email })).data[0]?.id ?? "";
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customerId,
    });
    await t.stripe.subscriptions.update(subId, { default_payment_method: failing.id });
    const before = (await rowsOf(buyer.userId)).length;
    await t.advance(31 * DAY + 2 * 3600);
    await t.stripe.refunds.create({ payment_intent: firstPayment, amount: 500 });
    await t.settle();

    const added = (await rowsOf(buyer.userId)).slice(before);
    const once = (kind: string) => {
      const found = added.filter((r) => r.kind === kind);
      assert.equal(found.length, 1, `${kind}: ${JSON.stringify(added.map((r) => r.kind))}`);
      assert.equal(found[0]?.actorKind, "stripe_event");
      return found[0];
    };
    const pastDue = once("subscription.status_changed");
    assert.deepEqual(
      [pastDue?.before, pastDue?.after],
      [{ status: "active" }, { status: "past_due" }],
    );
    assert.equal(once("payment.failed")?.after.attempt, 1);
    assert.equal(once("subscription.renewed")?.subjectId, subId);
    const refund = once("payment.refunded");
    assert.match(refund?.subjectId ?? "", /^re_/);
    assert.equal(refund?.after.amount, "5.00");

    const trial = (await rowsOf(trialist.userId)).slice(3);
    const kinds = trial.map((r) => r.kind);
    assert.equal(kinds.filter((k) => k === "trial.ended").length, 1, JSON.stringify(kinds));
    const ended = trial.find((r) => r.kind === "subscription.status_changed");
    assert.deepEqual([ended?.before, ended?.after], [{ status: "trialing" }, { status: "active" }]);
  });

  test("an upgrade awaiting 3-D Secure: asked by the user, applied by the invoice's payment", async () => {
    const customer = await t.signUp();
    await call(customer, "POST", "/api/subscriptions/create/", "req-sca-create", {
      plan_id: basic.id,
      payment_method_id: "pm_card_visa",
    });
    await t.settle();
    const sub = (await t.subscriptionsOf(customer.userId))[0]?.stripeSubscriptionId ?? "";
    const stripeCustomer = (await t.stripe.customers.list({ email: customer.email })).data[0];
    const card = await t.stripe.paymentMethods.attach("pm_card_authenticationRequired", {
      customer: stripeCustomer?.id ?? "",
    });
    await t.stripe.subscriptions.update(sub, { default_payment_method: card.id });
    await t.settle();
    const before = (await rowsOf(customer.userId)).length;
    const asked = await call(customer, "POST", "/api/subscriptions/change/", "req-sca", {
      plan_id: pro.id,
    });
    assert.equal(asked.status, "requires_action");
    await t.settle();
    await t.emulator.confirmPaymentIntent(await latestPaymentIntent(t.stripe, sub));
    await t.settle();
    const added = (await rowsOf(customer.userId)).slice(before);
    const pick = (kind: string) => added.filter((r) => r.kind === kind);
    assert.deepEqual(
      pick("plan_change.awaiting_payment").map((r) => [r.actorKind, r.requestId, r.after.plan_id]),
      [["user", "req-sca", pro.id]],
    );
    const applied = pick("plan_change.applied");
    assert.deepEqual(
      applied.map((r) => [r.actorKind, r.before, r.after]),
      [["stripe_event", { status: "awaiting_payment" }, { status: "applied" }]],
    );
    assert.equal(applied[0]?.subjectId, pick("plan_change.awaiting_payment")[0]?.subjectId);
    assert.deepEqual(
      pick("subscription.plan_changed").map((r) => [r.actorKind, r.before, r.after]),
      [["stripe_event", { plan_id: basic.id }, { plan_id: pro.id }]],
    );
    assert.equal(pick("payment.recorded").length, 1);
  });

  test("a cancellation now: the status change to canceled, once", async () => {
    const customer = await t.signUp();
    await call(customer, "POST", "/api/subscriptions/create/", "req-short-create", {
      plan_id: basic.id,
      payment_method_id: "pm_card_visa",
    });
    await call(customer, "POST", "/api/subscriptions/cancel/", "req-end", {
      cancel_immediately: true,
    });
    await t.settle();
    const ended = (await rowsOf(customer.userId)).filter(
      (r) => r.kind === "subscription.status_changed",
    );
    assert.equal(ended.length, 1);
    assert.deepEqual([ended[0]?.before.status, ended[0]?.after.status], ["active", "canceled"]);
    assert.ok(ended[0]?.after.ended_at);
    // The request's own write, unless the webhook reporting it was written first.
    assert.ok(["user", "stripe_event"].includes(ended[0]?.actorKind ?? ""));
  });

  test("every event handled again records nothing", async () => {
    const count = async () =>
      (await t.services.database.db.select({ id: auditLog.id }).from(auditLog)).length;
    const before = await count();
    await replayAll();
    assert.equal(await count(), before);
  });

  test("writers of a new subscription at once record its creation once", async () => {
    // No webhook joins in: the three writes below are the only ones.
    t.emulator.holdDeliveries(true);
    const racer = await t.signUp();
    const customer = await t.stripe.customers.create({
      email: racer.email,
      metadata: { user_id: racer.userId },
    });
    const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    const sub = await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: basic.stripe_price_id }],
      default_payment_method: pm.id,
      metadata: { user_id: racer.userId },
    });
    const deps = { db: t.services.database.db, stripe: t.stripe };
    const snapshots = await Promise.all([1, 2, 3].map(() => fetchSubscription(deps, sub.id)));
    // On PostgreSQL the three transactions overlap (each on its own connection); PGlite runs them
    // one after the other.
    await Promise.all(
      snapshots.map((snapshot) => deps.db.transaction((tx) => applySubscription(tx, snapshot))),
    );
    assert.deepEqual(
      (await rowsOf(racer.userId)).map((r) => [r.kind, r.subjectId]),
      [["subscription.created", sub.id]],
    );
  });

  test("the table is append-only: UPDATE, DELETE and TRUNCATE are refused", async () => {
    const { db } = t.services.database;
    const refused = (op: string) => (err: Error) => {
      const cause = err.cause instanceof Error ? err.cause.message : "";
      assert.match(cause, new RegExp(`audit_log is append-only: ${op} refused`));
      return true;
    };
    await assert.rejects(
      db.execute(sql`update audit_log set reason = 'edited'`),
      refused("UPDATE"),
    );
    await assert.rejects(db.execute(sql`delete from audit_log`), refused("DELETE"));
    await assert.rejects(db.execute(sql`truncate audit_log`), refused("TRUNCATE"));
    assert.ok((await rowsOf(buyer.userId)).every((r) => r.reason === null));
  });
});
