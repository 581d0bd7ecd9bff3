import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eventPayload, fixture, subscriptionPayload } from "../fixtures/stripe/fixtures.ts";
import { ledgerScenario } from "../fixtures/stripe/ledger.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";

// Subscription events built from Stripe's official fixtures (test/fixtures/stripe/), pointed at a
// real user, customer, price and subscription, signed and posted to the app's endpoint: the ledger
// stores them and billing's handler writes the projection. The emulator's own deliveries stay
// held, so each state asserted here was caused by the fixture event.

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
  t.emulator.holdDeliveries(true);
});
after(() => t?.close());

const s = ledgerScenario(() => t);
const periodEnd = (seconds: number | undefined) => new Date((seconds ?? 0) * 1000);

test("customer.subscription.created with the customer expanded writes Stripe's state, not the payload's", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan);
  const payload = subscriptionPayload(sub, "expanded");
  assert.equal(payload.cancel_at_period_end, true, "the fixture says a cancellation is scheduled");
  assert.equal(
    await s.deliver(eventPayload("customer.subscription.created", payload)),
    "processed",
  );

  const [row] = await t.subscriptionsOf(who.user.userId);
  assert.equal(row?.stripeSubscriptionId, sub.id);
  assert.equal(row?.stripeCustomerId, who.customer.id);
  assert.equal(row?.planId, plan.id);
  assert.equal(row?.status, "active");
  assert.equal(row?.cancelAtPeriodEnd, false, "Stripe's subscription is not being canceled");
  assert.deepEqual(row?.currentPeriodEnd, periodEnd(sub.items.data[0]?.current_period_end));
  const status = await t.http("GET", "/api/subscriptions/status/", { token: who.user.token });
  assert.equal(status.body.status, "active");
  assert.equal(status.body.plan.id, plan.id);
});

test("customer.subscription.updated rendered with an older api_version records a scheduled cancellation and its email", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan);
  const updated = await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const event = eventPayload("customer.subscription.updated", subscriptionPayload(updated), {
    apiVersion: "2024-06-20",
    previous: { cancel_at_period_end: false },
  });
  assert.equal(await s.deliver(event), "processed");

  const [row] = await t.subscriptionsOf(who.user.userId);
  assert.equal(row?.status, "active");
  assert.equal(row?.cancelAtPeriodEnd, true);
  const end = periodEnd(updated.items.data[0]?.current_period_end);
  assert.deepEqual(row?.currentPeriodEnd, end);
  const sent = await s.mails(who.user.userId, "billing.cancellation");
  assert.deepEqual(
    sent.map((m) => m.causeKey),
    [`${sub.id}:${end.toISOString()}`],
  );
  // A redelivery of the same event is stored once and changes nothing.
  assert.equal(await s.deliver(event), "processed");
  assert.equal((await s.mails(who.user.userId, "billing.cancellation")).length, 1);
});

test("customer.subscription.deleted ends the row and queues the cancellation email", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan);
  const canceled = await t.stripe.subscriptions.cancel(sub.id);
  const event = eventPayload("customer.subscription.deleted", subscriptionPayload(canceled));
  assert.equal(await s.deliver(event), "processed");

  const [row] = await t.subscriptionsOf(who.user.userId);
  assert.equal(row?.status, "canceled");
  assert.deepEqual(row?.endedAt, new Date((canceled.ended_at ?? 0) * 1000));
  assert.equal((await s.mails(who.user.userId, "billing.cancellation")).length, 1);
  const status = await t.http("GET", "/api/subscriptions/status/", { token: who.user.token });
  assert.equal(status.body.is_active, false);
});

test("customer.subscription.trial_will_end queues one reminder for the trial's end as Stripe has it", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500, name: "Trial Pro" });
  const sub = await s.subscribe(who, plan, { trial_period_days: 14 });
  const payload = subscriptionPayload(sub);
  assert.equal(payload.trial_end, 1_234_567_890, "the fixture's trial ended in 2009");
  const event = eventPayload("customer.subscription.trial_will_end", payload);
  assert.equal(await s.deliver(event), "processed");

  const [row] = await t.subscriptionsOf(who.user.userId);
  assert.equal(row?.status, "trialing");
  assert.deepEqual(row?.trialEnd, new Date((sub.trial_end ?? 0) * 1000));
  const reminders = await s.mails(who.user.userId, "billing.trial_ending");
  assert.deepEqual(
    reminders.map((m) => m.causeKey),
    [`${sub.id}:${sub.trial_end}`],
  );
  assert.match(reminders[0]?.text ?? "", /Trial Pro/);
  const trialEnd = new Date((sub.trial_end ?? 0) * 1000).toISOString().slice(0, 10);
  assert.ok(reminders[0]?.text.includes(trialEnd), reminders[0]?.text);
});

test("a trial_will_end for a trial Stripe has extended reminds of the new end, once per end", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan, { trial_period_days: 14 });
  const first = eventPayload("customer.subscription.trial_will_end", subscriptionPayload(sub));
  assert.equal(await s.deliver(first), "processed");
  const later = (sub.trial_end ?? 0) + 7 * 86_400;
  await t.stripe.subscriptions.update(sub.id, { trial_end: later, proration_behavior: "none" });
  // The first event again (a redelivery, stale now) and the new one: one reminder per trial end.
  const again = { ...first, id: `${first.id}_redelivered` };
  assert.equal(await s.deliver(again), "processed");
  const second = eventPayload("customer.subscription.trial_will_end", subscriptionPayload(sub));
  assert.equal(await s.deliver(second), "processed");
  const reminders = await s.mails(who.user.userId, "billing.trial_ending");
  assert.deepEqual(
    reminders.map((m) => m.causeKey).sort(),
    [`${sub.id}:${sub.trial_end}`, `${sub.id}:${later}`].sort(),
  );
});

test("a trial_will_end for a subscription Stripe has canceled reminds no one", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan, { trial_period_days: 14 });
  await t.stripe.subscriptions.cancel(sub.id);
  const event = eventPayload("customer.subscription.trial_will_end", subscriptionPayload(sub));
  assert.equal(await s.deliver(event), "processed");
  assert.equal((await t.subscriptionsOf(who.user.userId))[0]?.status, "canceled");
  assert.deepEqual(await s.mails(who.user.userId, "billing.trial_ending"), []);
});

test("a subscription event whose customer is null is still written: the owner is metadata.user_id", async () => {
  const who = await s.buyer();
  const plan = await t.plan({ amount: 1500 });
  const sub = await s.subscribe(who, plan);
  const event = eventPayload("customer.subscription.created", subscriptionPayload(sub, "null"));
  assert.equal(await s.deliver(event), "processed");
  const [row] = await t.subscriptionsOf(who.user.userId);
  assert.equal(row?.stripeCustomerId, who.customer.id, "the customer comes from Stripe's read");
});

test("the fixture events of types billing does not handle are stored, settled as ignored, and change nothing", async () => {
  const before = await s.footprint();
  const unhandled = [
    fixture("event"), // plan.created, exactly as published (api_version null)
    eventPayload("customer.created", fixture("customer")),
    eventPayload("price.created", fixture("price")),
    eventPayload("product.created", fixture("product")),
    eventPayload("invoice_payment.paid", fixture("invoice_payment")),
    eventPayload("refund.created", fixture("refund")),
  ];
  for (const event of unhandled) {
    const fresh = { ...event, id: `${String(event.id)}_${Math.random().toString(36).slice(2)}` };
    assert.equal(await s.deliver(fresh), "ignored", String(event.type));
  }
  assert.deepEqual(await s.footprint(), before);
});

test("checkout.session.completed for a session Stripe does not know decides nothing", async () => {
  const before = await s.footprint();
  const event = eventPayload("checkout.session.completed", fixture("checkout.session"));
  const fresh = { ...event, id: `${String(event.id)}_${Math.random().toString(36).slice(2)}` };
  assert.equal(await s.deliver(fresh), "ignored");
  assert.deepEqual(await s.footprint(), before);
});

test("checkout.session.completed links the user Stripe's session names, not the payload's", async () => {
  const buyer = await t.signUp();
  const forger = await t.signUp();
  const plan = await t.plan({ amount: 1500 });
  const session = await t.stripe.checkout.sessions.create({
    mode: "subscription",
    customer_email: buyer.email,
    client_reference_id: buyer.userId,
    line_items: [{ price: plan.stripe_price_id, quantity: 1 }],
    success_url: "http://localhost:3000/billing",
  });
  await t.emulator.completeCheckoutSession(session.id);
  const paid = await t.stripe.checkout.sessions.retrieve(session.id);
  const payload = {
    ...fixture("checkout.session"),
    id: session.id,
    client_reference_id: forger.userId,
  };
  assert.equal(await s.deliver(eventPayload("checkout.session.completed", payload)), "processed");
  const [row] = await t.subscriptionsOf(buyer.userId);
  assert.equal(row?.stripeSubscriptionId, paid.subscription);
  assert.equal(row?.status, "active");
  assert.deepEqual(await t.subscriptionsOf(forger.userId), []);
  const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
  assert.equal(status.body.status, "active");
});
