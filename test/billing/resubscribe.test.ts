import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type BillingTestApp,
  type Customer,
  type Stripe,
  startBillingApp,
} from "../helpers/billing.ts";

// One live subscription per user, whatever the timing. Stripe's `created` is in whole seconds, so
// the emulator's clock is held still here: every subscription of a test shares its second, the
// case where "the newest by created" cannot tell an ended subscription from its successor.
let clockMs = Date.now();
let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ now: () => clockMs });
});
after(() => t?.close());

const ALREADY = { error: "You already have an active subscription." };

/** The customer's subscriptions that have not ended, as Stripe lists them. */
async function liveAtStripe(stripe: Stripe, customer: Customer): Promise<Stripe.Subscription[]> {
  const [row] = await t.subscriptionsOf(customer.userId);
  if (!row) return [];
  const { data } = await stripe.subscriptions.list({ customer: row.stripeCustomerId, limit: 100 });
  return data;
}

async function statusOf(customer: Customer) {
  const res = await t.http("GET", "/api/subscriptions/status/", { token: customer.token });
  assert.equal(res.status, 200);
  return res.body;
}

async function profileStatusOf(customer: Customer): Promise<string> {
  const res = await t.http("GET", "/api/auth/profile/", { token: customer.token });
  assert.equal(res.status, 200);
  return res.body.subscription_status;
}

describe("re-subscribing", () => {
  test("after cancelling now, a new subscription in the same second is current and a third create is refused", async () => {
    const starter = await t.plan({ amount: 999, name: "Starter" });
    const pro = await t.plan({ amount: 2900, name: "Pro" });
    // Each user is one draw of the old tie-break (a random uuid): ten make a miss all but certain.
    for (let i = 0; i < 10; i++) {
      const buyer = await t.signUp();
      assert.equal((await t.subscribe(buyer, starter.id)).status, 201);
      const canceled = await t.http("POST", "/api/subscriptions/cancel/", {
        token: buyer.token,
        body: { cancel_immediately: true },
      });
      assert.equal(canceled.body.subscription.status, "canceled");
      const second = await t.subscribe(buyer, pro.id);
      assert.equal(second.status, 201, JSON.stringify(second.body));

      const rows = await t.subscriptionsOf(buyer.userId);
      assert.equal(rows.length, 2);
      assert.equal(rows[0]?.stripeCreatedAt.getTime(), rows[1]?.stripeCreatedAt.getTime());

      const status = await statusOf(buyer);
      assert.deepEqual(
        [status.stripe_subscription_id, status.status, status.is_active, status.plan?.name],
        [second.body.subscription.stripe_subscription_id, "active", true, "Pro"],
      );
      assert.equal(await profileStatusOf(buyer), "active");
      const third = await t.subscribe(buyer, starter.id);
      assert.deepEqual([third.status, third.body], [400, ALREADY]);
    }
    // The webhooks of all of it change nothing.
    await t.settle();
  });

  test("a live subscription is current even when an ended one was created later", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    const first = await t.subscribe(buyer, plan.id);
    const live = first.body.subscription.stripe_subscription_id;
    const [row] = await t.subscriptionsOf(buyer.userId);
    assert.ok(row);
    // A later subscription made and ended at Stripe directly (the Dashboard, say).
    clockMs += 10_000;
    const later = await t.stripe.subscriptions.create({
      customer: row.stripeCustomerId,
      items: [{ price: (await t.stripe.subscriptions.retrieve(live)).items.data[0]?.price.id }],
    });
    await t.stripe.subscriptions.cancel(later.id);
    await t.settle();
    const rows = await t.subscriptionsOf(buyer.userId);
    assert.deepEqual(
      rows.map((r) => [r.stripeSubscriptionId, r.status]),
      [
        [live, "active"],
        [later.id, "canceled"],
      ],
    );
    const status = await statusOf(buyer);
    assert.deepEqual([status.stripe_subscription_id, status.is_active], [live, true]);
    assert.equal(await profileStatusOf(buyer), "active");
    const again = await t.subscribe(buyer, plan.id);
    assert.deepEqual([again.status, again.body], [400, ALREADY]);
  });

  test("creates racing an immediate cancel leave exactly one live subscription at Stripe", async () => {
    const plan = await t.plan();
    for (let i = 0; i < 6; i++) {
      const buyer = await t.signUp();
      assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
      const [cancel, create] = await Promise.all([
        t.http("POST", "/api/subscriptions/cancel/", {
          token: buyer.token,
          body: { cancel_immediately: true },
        }),
        t.subscribe(buyer, plan.id),
      ]);
      assert.equal(cancel.status, 200);
      // The create either saw the old subscription (refused) or came after the cancel.
      assert.ok(
        (create.status === 400 && create.body.error === ALREADY.error) || create.status === 201,
        JSON.stringify(create.body),
      );
      // Whatever the interleaving, subscribing until refused ends with exactly one live one.
      const retry = await t.subscribe(buyer, plan.id);
      assert.ok(retry.status === 201 || retry.status === 400, JSON.stringify(retry.body));
      const last = await t.subscribe(buyer, plan.id);
      assert.deepEqual([last.status, last.body], [400, ALREADY]);
      const live = await liveAtStripe(t.stripe, buyer);
      assert.equal(live.length, 1, live.map((s) => `${s.id} ${s.status}`).join(", "));
      const status = await statusOf(buyer);
      assert.deepEqual([status.stripe_subscription_id, status.is_active], [live[0]?.id, true]);
    }
    await t.settle();
  });
});

describe("the rule holds at Stripe", () => {
  let quiet: BillingTestApp;
  before(async () => {
    // No worker: the webhooks stay stored and unprocessed, so our table lags behind Stripe.
    quiet = await startBillingApp({ worker: false });
  });
  after(() => quiet?.close());

  test("a subscription live at Stripe but not yet in our table refuses the create", async () => {
    const plan = await quiet.plan();
    const buyer = await quiet.signUp();
    const first = await quiet.subscribe(buyer, plan.id);
    assert.equal(first.status, 201);
    await quiet.http("POST", "/api/subscriptions/cancel/", {
      token: buyer.token,
      body: { cancel_immediately: true },
    });
    const [row] = await quiet.subscriptionsOf(buyer.userId);
    assert.ok(row);
    const price = (await quiet.stripe.subscriptions.retrieve(row.stripeSubscriptionId)).items
      .data[0]?.price.id;
    const elsewhere = await quiet.stripe.subscriptions.create({
      customer: row.stripeCustomerId,
      items: [{ price }],
    });
    assert.equal(elsewhere.status, "active");

    const res = await quiet.subscribe(buyer, plan.id);
    assert.deepEqual([res.status, res.body], [400, ALREADY]);
    const { data: live } = await quiet.stripe.subscriptions.list({
      customer: row.stripeCustomerId,
    });
    assert.deepEqual(
      live.map((s) => s.id),
      [elsewhere.id],
    );
    // The refusal wrote what it found, so status already shows it.
    const status = await quiet.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.deepEqual(
      [status.body.stripe_subscription_id, status.body.status],
      [elsewhere.id, "active"],
    );
  });
});
