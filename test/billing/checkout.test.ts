import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq, inArray } from "drizzle-orm";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { checkoutSessions } from "../../src/billing/hosted-tables.ts";
import { handleEvent } from "../../src/billing/stripe-events.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { StripeApiError } from "../../stripe-emulator/errors.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";

/** Set to make Stripe refuse the next Checkout Session create, as it does an inactive price. */
let refuseNextCreate = false;
const refusal: Stage = async (ex, next) => {
  if (refuseNextCreate && ex.method === "POST" && ex.path === "/v1/checkout/sessions") {
    refuseNextCreate = false;
    throw new StripeApiError(400, {
      type: "invalid_request_error",
      message: "The price specified is inactive. This field only accepts active prices.",
      param: "line_items[0][price]",
    });
  }
  return next();
};

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({
    stages: [refusal],
    env: {
      FRONTEND_URL: "https://app.example.com",
      CORS_ALLOWED_ORIGINS: "https://shop.example.com",
    },
  });
});
after(() => t?.close());

const checkout = (buyer: Customer, body: Record<string, unknown>) =>
  t.http("POST", "/api/subscriptions/checkout/", { token: buyer.token, body });

async function pay(sessionId: string, card = "pm_card_visa") {
  await t.emulator.completeCheckoutSession(sessionId, card);
  await t.settle();
}

describe("POST checkout/", () => {
  test("opens a session that carries the user, with the web app's URLs", async () => {
    const plan = await t.plan({ amount: 1200 });
    const buyer = await t.signUp();
    const res = await checkout(buyer, { plan_id: plan.id });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(res.body.session_id, /^cs_test_/);
    assert.equal(typeof res.body.url, "string");
    assert.ok(Date.parse(res.body.expires_at) > Date.now());
    const session = await t.stripe.checkout.sessions.retrieve(res.body.session_id);
    assert.equal(session.client_reference_id, buyer.userId);
    assert.equal(session.success_url, "https://app.example.com/billing?checkout=success");
    assert.equal(session.cancel_url, "https://app.example.com/plans?checkout=canceled");
    assert.equal(session.metadata?.user_id, buyer.userId);
    const customer = await t.stripe.customers.retrieve(String(session.customer));
    assert.ok(!customer.deleted && customer.email === buyer.email, "the user's own customer");
  });

  test("a second request answers the same open session; another plan replaces and expires it", async () => {
    const plan = await t.plan({ amount: 1200 });
    const other = await t.plan({ amount: 2400 });
    const buyer = await t.signUp();
    const [a, b] = await Promise.all([
      checkout(buyer, { plan_id: plan.id }),
      checkout(buyer, { plan_id: plan.id }),
    ]);
    assert.equal(a.status, 200);
    assert.equal(b.body.session_id, a.body.session_id, "concurrent requests share one session");
    const again = await checkout(buyer, { plan_id: plan.id, quantity: 1 });
    assert.equal(again.body.session_id, a.body.session_id);
    const switched = await checkout(buyer, { plan_id: other.id });
    assert.equal(switched.status, 200);
    assert.notEqual(switched.body.session_id, a.body.session_id);
    const old = await t.stripe.checkout.sessions.retrieve(a.body.session_id);
    assert.equal(old.status, "expired", "the replaced session can no longer be paid");
    const rows = await t.services.database.db
      .select({ status: checkoutSessions.status })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.userId, buyer.userId));
    assert.deepEqual(rows.map((r) => r.status).sort(), ["expired", "open"]);
  });

  test("a caller's URL is taken only from an allowed origin", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    const evil = await checkout(buyer, { plan_id: plan.id, success_url: "https://evil.example/x" });
    assert.equal(evil.status, 400);
    assert.deepEqual(evil.body, { success_url: ["This URL's origin is not allowed."] });
    const ok = await checkout(buyer, {
      plan_id: plan.id,
      success_url: "https://shop.example.com/thanks",
      cancel_url: "https://app.example.com/back",
    });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const session = await t.stripe.checkout.sessions.retrieve(ok.body.session_id);
    assert.equal(session.success_url, "https://shop.example.com/thanks");
    assert.equal(session.cancel_url, "https://app.example.com/back");
  });

  test("bad input is a 400 on its field, an unknown plan a 404", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    const seats = await checkout(buyer, { plan_id: plan.id, quantity: 3 });
    assert.equal(seats.status, 400);
    assert.ok(seats.body.quantity, JSON.stringify(seats.body));
    const notUrl = await checkout(buyer, { plan_id: plan.id, cancel_url: "not a url" });
    assert.equal(notUrl.status, 400);
    assert.ok(notUrl.body.cancel_url, JSON.stringify(notUrl.body));
    const missing = await checkout(buyer, { plan_id: "00000000-0000-4000-8000-000000000000" });
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: "Plan not found." });
    const anonymous = await t.http("POST", "/api/subscriptions/checkout/", {
      body: { plan_id: plan.id },
    });
    assert.equal(anonymous.status, 401);
  });

  test("a session Stripe refuses is a 400, and the next request starts afresh", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    refuseNextCreate = true;
    const refused = await checkout(buyer, { plan_id: plan.id });
    assert.deepEqual(
      [refused.status, refused.body],
      [400, { error: "Checkout could not be started. Please try again." }],
    );
    const ok = await checkout(buyer, { plan_id: plan.id });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    const rows = await t.services.database.db
      .select({ status: checkoutSessions.status, session: checkoutSessions.stripeSessionId })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.userId, buyer.userId));
    assert.deepEqual(rows.map((r) => [r.status, r.session]).sort(), [
      ["expired", null],
      ["open", ok.body.session_id],
    ]);
  });

  test("paying the session makes the user active; then checkout is refused as create is", async () => {
    const plan = await t.plan({ amount: 1500 });
    const buyer = await t.signUp();
    const res = await checkout(buyer, { plan_id: plan.id });
    await pay(res.body.session_id);
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    assert.equal(status.body.plan.id, plan.id);
    assert.deepEqual(
      (await t.paymentsOf(buyer.userId)).map((p) => `${p.status}:${p.amount}`),
      ["succeeded:1500"],
    );
    const [row] = await t.services.database.db
      .select()
      .from(checkoutSessions)
      .where(eq(checkoutSessions.stripeSessionId, res.body.session_id));
    assert.equal(row?.status, "complete");
    assert.equal(row?.stripeSubscriptionId, status.body.stripe_subscription_id);
    const again = await checkout(buyer, { plan_id: plan.id });
    const create = await t.subscribe(buyer, plan.id);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, create.body);
    assert.deepEqual(again.body, { error: "You already have an active subscription." });
  });

  test("an expired session is closed: the next request opens a new one", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    const first = await checkout(buyer, { plan_id: plan.id });
    await t.stripe.checkout.sessions.expire(first.body.session_id);
    await t.settle();
    const [row] = await t.services.database.db
      .select({ status: checkoutSessions.status })
      .from(checkoutSessions)
      .where(eq(checkoutSessions.stripeSessionId, first.body.session_id));
    assert.equal(row?.status, "expired", "checkout.session.expired closed our row");
    const second = await checkout(buyer, { plan_id: plan.id });
    assert.equal(second.status, 200);
    assert.notEqual(second.body.session_id, first.body.session_id);
  });

  test("two users asking for the same plan get sessions of their own", async () => {
    const plan = await t.plan();
    const [a, b] = [await t.signUp(), await t.signUp()];
    const [sa, sb] = [
      await checkout(a, { plan_id: plan.id }),
      await checkout(b, { plan_id: plan.id }),
    ];
    assert.notEqual(sa.body.session_id, sb.body.session_id);
    const ra = await t.stripe.checkout.sessions.retrieve(sa.body.session_id);
    const rb = await t.stripe.checkout.sessions.retrieve(sb.body.session_id);
    assert.deepEqual([ra.client_reference_id, rb.client_reference_id], [a.userId, b.userId]);
    assert.notEqual(ra.customer, rb.customer);
  });

  test("our session's events in reverse order: active, one payment, nothing retried", async () => {
    const plan = await t.plan({ amount: 2100 });
    const buyer = await t.signUp();
    const res = await checkout(buyer, { plan_id: plan.id });
    t.emulator.holdDeliveries(true);
    let ids: string[] = [];
    try {
      const before = new Set(t.emulator.heldEvents());
      await t.emulator.completeCheckoutSession(res.body.session_id);
      ids = t.emulator.heldEvents().filter((id) => !before.has(id));
      await t.emulator.deliver([...ids].reverse());
      await t.settle();
    } finally {
      t.emulator.holdDeliveries(false);
    }
    await t.settle();
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active");
    assert.deepEqual(
      (await t.paymentsOf(buyer.userId)).map((p) => `${p.status}:${p.amount}`),
      ["succeeded:2100"],
    );
    const receipts = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.subscription_confirmation",
    );
    assert.equal(receipts.length, 1);
    const stored = await t.services.database.db
      .select({ attempts: stripeEvents.attempts })
      .from(stripeEvents)
      .where(inArray(stripeEvents.id, ids));
    assert.equal(stored.length, ids.length);
    assert.ok(
      stored.every((e) => e.attempts === 1),
      "each event was handled at its first attempt",
    );
  });

  test("the completed event handled again (a replay) changes nothing", async () => {
    const plan = await t.plan({ amount: 700 });
    const buyer = await t.signUp();
    const res = await checkout(buyer, { plan_id: plan.id });
    await pay(res.body.session_id);
    const completed = await t.stripe.events.list({ type: "checkout.session.completed", limit: 20 });
    const event = completed.data.find(
      (e) => (e.data.object as { id: string }).id === res.body.session_id,
    );
    assert.ok(event);
    const before = await t.subscriptionsOf(buyer.userId);
    assert.equal(await handleEvent(billingDepsOf(t.services), event), "processed");
    const afterReplay = await t.subscriptionsOf(buyer.userId);
    assert.equal(afterReplay.length, 1);
    assert.equal(afterReplay[0]?.id, before[0]?.id);
    assert.equal((await t.paymentsOf(buyer.userId)).length, 1);
  });
});

describe("POST portal/", () => {
  test("a user Stripe has never seen has no portal", async () => {
    const buyer = await t.signUp();
    const res = await t.http("POST", "/api/subscriptions/portal/", { token: buyer.token });
    assert.deepEqual([res.status, res.body], [404, { error: "No billing account yet." }]);
  });

  test("opens the portal for the user's own customer, back to the web app or an allowed origin", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    await t.subscribe(buyer, plan.id);
    const res = await t.http("POST", "/api/subscriptions/portal/", { token: buyer.token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const id = res.body.url.split("/").pop();
    const events = await t.stripe.events.list({
      type: "billing_portal.session.created",
      limit: 20,
    });
    const session = events.data.find((e) => (e.data.object as { id: string }).id === id)?.data
      .object as { customer: string; return_url: string } | undefined;
    const customers = await t.stripe.customers.list({ email: buyer.email });
    assert.equal(session?.customer, customers.data[0]?.id);
    assert.equal(session?.return_url, "https://app.example.com/billing");
    const evil = await t.http("POST", "/api/subscriptions/portal/", {
      token: buyer.token,
      body: { return_url: "https://evil.example/" },
    });
    assert.deepEqual(
      [evil.status, evil.body],
      [400, { return_url: ["This URL's origin is not allowed."] }],
    );
  });

  test("what the customer does in the portal shows in status and the card on file", async () => {
    const plan = await t.plan({ amount: 1000 });
    const bigger = await t.plan({ amount: 3000 });
    const buyer = await t.signUp();
    const created = await t.subscribe(buyer, plan.id);
    const subId: string = created.body.subscription.stripe_subscription_id;
    // The portal's actions are Stripe API calls on the customer's objects.
    const sub = await t.stripe.subscriptions.retrieve(subId);
    await t.stripe.subscriptions.update(subId, {
      items: [{ id: sub.items.data[0]?.id ?? "", price: bigger.stripe_price_id }],
      proration_behavior: "none",
    });
    await t.settle();
    let status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.plan.id, bigger.id);
    // Changing the number of seats in the portal is an update of the item's quantity.
    await t.stripe.subscriptions.update(subId, {
      items: [{ id: sub.items.data[0]?.id ?? "", quantity: 3 }],
      proration_behavior: "none",
    });
    await t.settle();
    status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.quantity, 3);
    await t.stripe.subscriptions.update(subId, {
      cancel_at: sub.items.data[0]?.current_period_end ?? 0,
    });
    await t.settle();
    status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.cancel_at_period_end, true);
    const card = await t.stripe.paymentMethods.attach("pm_card_mastercard", {
      customer: String(sub.customer),
    });
    await t.stripe.customers.update(String(sub.customer), {
      invoice_settings: { default_payment_method: card.id },
    });
    const shown = await t.http("GET", "/api/subscriptions/payment-method/", { token: buyer.token });
    assert.equal(shown.body.payment_method.brand, "mastercard");
  });
});

describe("REQUIRE_VERIFIED_EMAIL=on", () => {
  let v: BillingTestApp;
  before(async () => {
    v = await startBillingApp({ env: { REQUIRE_VERIFIED_EMAIL: "on" } });
  });
  after(() => v?.close());

  test("checkout answers create/'s 403 to an unverified user, and opens nothing", async () => {
    const plan = await v.plan();
    const buyer = await v.signUp();
    const refused = await v.http("POST", "/api/subscriptions/checkout/", {
      token: buyer.token,
      body: { plan_id: plan.id },
    });
    const create = await v.subscribe(buyer, plan.id);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, create.body);
    const opened = await v.stripe.checkout.sessions.list({ limit: 100 });
    assert.equal(opened.data.length, 0);
  });
});
