import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { createPlan, type PlanBody, planBody } from "../../src/billing/plans-service.ts";
import { type BillingTestApp, type Customer, DAY, startBillingApp } from "../helpers/billing.ts";
import { type AdminCall, staffCaller } from "./helpers.ts";

// The subscription support actions: each goes to Stripe through the SDK (read back here from the
// emulator) and lands in our projection, as the user's own actions do.

let t: BillingTestApp;
let staffId: string;
let admin: (
  method: string,
  url: string,
  options?: { body?: unknown; key?: string },
) => Promise<AdminCall>;
before(async () => {
  t = await startBillingApp();
  const caller = await staffCaller(t.app, t.services.database.db, () => t.signUp());
  admin = caller.call;
  staffId = caller.staff.userId;
});
after(() => t?.close());

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

/** A new customer subscribed to a new plan: their Stripe subscription id. */
async function subscribed(plan?: PlanBody): Promise<{ buyer: Customer; sub: string }> {
  const buyer = await t.signUp();
  const res = await t.subscribe(buyer, (plan ?? (await t.plan())).id);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await t.settle();
  return { buyer, sub: res.body.subscription.stripe_subscription_id };
}

describe("subscriptions list and detail", () => {
  test("filters by status and plan; detail by our id or Stripe's; an unknown one is a 404", async () => {
    const plan = await t.plan();
    const { buyer, sub } = await subscribed(plan);
    const list = await admin("GET", `/api/admin/subscriptions/?status=active&plan=${plan.id}`);
    assert.equal(list.status, 200);
    assert.equal(list.body.count, 1);
    const [row] = list.body.results;
    assert.equal(row.stripe_subscription_id, sub);
    assert.equal(row.user_id, buyer.userId);
    assert.equal(row.plan.id, plan.id);
    const canceledOnly = await admin(
      "GET",
      `/api/admin/subscriptions/?status=canceled&plan=${plan.id}`,
    );
    assert.equal(canceledOnly.body.count, 0);
    const future = new Date(Date.now() + DAY * 1000).toISOString();
    const later = await admin(
      "GET",
      `/api/admin/subscriptions/?plan=${plan.id}&created_after=${encodeURIComponent(future)}`,
    );
    assert.equal(later.body.count, 0);
    const before = await admin(
      "GET",
      `/api/admin/subscriptions/?plan=${plan.id}&created_before=${encodeURIComponent(future)}`,
    );
    assert.equal(before.body.count, 1);

    const byStripe = await admin("GET", `/api/admin/subscriptions/${sub}/`);
    const byOurs = await admin("GET", `/api/admin/subscriptions/${row.id}/`);
    assert.equal(byStripe.status, 200);
    assert.deepEqual(byOurs.body, byStripe.body);
    const missing = await admin("GET", "/api/admin/subscriptions/sub_nothing/");
    assert.deepEqual([missing.status, missing.body], [404, { error: "Subscription not found." }]);
    const bad = await admin("GET", "/api/admin/subscriptions/?created_after=yesterday");
    assert.equal(bad.status, 400);
  });
});

describe("subscription actions", () => {
  test("cancel at period end: Stripe schedules it and the projection shows it", async () => {
    const { sub } = await subscribed();
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/cancel/`, {
      body: { at_period_end: true },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.cancel_at_period_end, true);
    assert.equal(res.body.status, "active");
    assert.equal((await t.stripe.subscriptions.retrieve(sub)).cancel_at_period_end, true);
    await t.settle();
    const detail = await admin("GET", `/api/admin/subscriptions/${sub}/`);
    assert.equal(detail.body.cancel_at_period_end, true);

    // The transition is audited once, as the staff user's, with the admin request's id.
    const user = await admin("GET", `/api/admin/users/${detail.body.user_id}/`);
    const byAdmin = user.body.audit.filter(
      (a: { actor_kind: string; subject_id: string }) =>
        a.actor_kind === "admin" && a.subject_id === sub,
    );
    assert.equal(byAdmin.length, 1, JSON.stringify(user.body.audit));
    assert.equal(byAdmin[0].actor_id, staffId);
    assert.equal(byAdmin[0].request_id, res.headers["x-request-id"]);
    assert.equal(byAdmin[0].after.cancel_at_period_end, true);
  });

  test("cancel now: canceled at Stripe and here; cancelling again is a 404", async () => {
    const { buyer, sub } = await subscribed();
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/cancel/`, {
      body: { at_period_end: false },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "canceled");
    assert.equal((await t.stripe.subscriptions.retrieve(sub)).status, "canceled");
    await t.settle();
    const [row] = await t.subscriptionsOf(buyer.userId);
    assert.equal(row?.status, "canceled");
    const again = await admin("POST", `/api/admin/subscriptions/${sub}/cancel/`, {
      body: { at_period_end: false },
    });
    assert.equal(again.status, 404);
  });

  test("extend a trial by days or to a date: Stripe's trial_end moves and so does ours", async () => {
    const { sub } = await subscribed(await trialPlan(7));
    const before = await t.stripe.subscriptions.retrieve(sub);
    assert.equal(before.status, "trialing");
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/extend-trial/`, {
      body: { days: 10 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const after = await t.stripe.subscriptions.retrieve(sub);
    assert.equal(after.trial_end, (before.trial_end ?? 0) + 10 * DAY);
    assert.equal(Date.parse(res.body.trial_end), (after.trial_end ?? 0) * 1000);
    assert.equal(res.body.status, "trialing");

    const target = new Date(((after.trial_end ?? 0) + 3 * DAY) * 1000).toISOString();
    const moved = await admin("POST", `/api/admin/subscriptions/${sub}/extend-trial/`, {
      body: { trial_end: target },
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal((await t.stripe.subscriptions.retrieve(sub)).trial_end, Date.parse(target) / 1000);

    const earlier = await admin("POST", `/api/admin/subscriptions/${sub}/extend-trial/`, {
      body: { trial_end: new Date().toISOString() },
    });
    assert.equal(earlier.status, 400);
    assert.match(earlier.body.error, /after the current one/);
    const both = await admin("POST", `/api/admin/subscriptions/${sub}/extend-trial/`, {
      body: { days: 1, trial_end: target },
    });
    assert.equal(both.status, 400);
    assert.deepEqual(both.body, { non_field_errors: ["Give exactly one of days and trial_end."] });
  });

  test("a subscription not in trial has no trial to extend", async () => {
    const { sub } = await subscribed();
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/extend-trial/`, {
      body: { days: 5 },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /Only a subscription in trial/);
  });

  test("a free period is a 100 % coupon repeating N months; retried with its key, it is granted once", async () => {
    const { sub } = await subscribed();
    const key = randomUUID();
    const url = `/api/admin/subscriptions/${sub}/grant-free-period/`;
    const first = await admin("POST", url, { body: { months: 2 }, key });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.discount.percent_off, 100);
    assert.ok(first.body.discount.ends_at, "the discount ends");
    const retry = await admin("POST", url, { body: { months: 2 }, key });
    assert.equal(retry.status, 200);
    assert.deepEqual(retry.body, first.body);
    assert.equal(retry.headers["idempotent-replayed"], "true");

    const atStripe = await t.stripe.subscriptions.retrieve(sub, {
      expand: ["discounts.source.coupon"],
    });
    assert.equal(atStripe.discounts.length, 1, "one discount at Stripe");
    const [discount] = atStripe.discounts;
    assert.ok(discount && typeof discount === "object");
    const coupon = discount.source.coupon;
    assert.ok(coupon && typeof coupon === "object");
    assert.deepEqual(
      [coupon.percent_off, coupon.duration, coupon.duration_in_months],
      [100, "repeating", 2],
    );
    const granted = (await t.stripe.coupons.list({ limit: 100 })).data.filter(
      (c) => c.metadata?.granted_for === sub,
    );
    assert.equal(granted.length, 1, "one coupon created at Stripe");

    const other = await admin("POST", url, { body: { months: 3 }, key });
    assert.equal(other.status, 409);
  });

  test("the next renewal of a free month charges nothing", async () => {
    await t.resetStripe();
    const { buyer, sub } = await subscribed(await t.plan({ amount: 1500 }));
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/grant-free-period/`, {
      body: { months: 1 },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    await t.advance(31 * DAY);
    const paid = (await t.paymentsOf(buyer.userId)).filter((p) => p.status === "succeeded");
    assert.deepEqual(
      paid.map((p) => p.amount),
      [1500],
      "the renewal invoice is free: no second charge",
    );
    assert.equal((await t.stripe.subscriptions.retrieve(sub)).status, "active");
  });

  test("a free period in months is refused on a yearly plan", async () => {
    const { sub } = await subscribed(await t.plan({ interval: "year" }));
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/grant-free-period/`, {
      body: { months: 1 },
    });
    assert.equal(res.status, 400);
    assert.match(res.body.error, /monthly plans/);
  });

  test("change plan: an upgrade takes effect at Stripe now and shows here", async () => {
    const cheap = await t.plan({ amount: 1000 });
    const dear = await t.plan({ amount: 3000 });
    const { sub } = await subscribed(cheap);
    const res = await admin("POST", `/api/admin/subscriptions/${sub}/change-plan/`, {
      body: { plan_id: dear.id },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "changed");
    assert.equal(res.body.subscription.plan.id, dear.id);
    const atStripe = await t.stripe.subscriptions.retrieve(sub);
    assert.equal(atStripe.items.data[0]?.price.id, dear.stripe_price_id);
    const same = await admin("POST", `/api/admin/subscriptions/${sub}/change-plan/`, {
      body: { plan_id: dear.id },
    });
    assert.equal(same.status, 400);
  });
});
