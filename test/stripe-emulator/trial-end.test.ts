import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, at, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { type ContractTarget, contractTarget } from "./contract/target.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

const START = at("2027-01-01T00:00:00Z");
const TRIAL_END = START + 7 * 86_400;

/** A 7-day trial of a customer without any payment method, on its own test clock. */
async function trialWithoutCard(missing?: "cancel" | "pause" | "create_invoice") {
  const clock = await t.stripe.testHelpers.testClocks.create({ frozen_time: START });
  const customer = await t.stripe.customers.create({
    email: `trial${Math.random()}@example.com`,
    test_clock: clock.id,
  });
  const price = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    trial_period_days: 7,
    ...(missing ? { trial_settings: { end_behavior: { missing_payment_method: missing } } } : {}),
  });
  assert.equal(sub.status, "trialing");
  return { clock, customer, price, sub };
}

/** The events of `type` about `id`, waiting on Stripe for them to be written. */
async function eventsFor(type: string, id: string): Promise<Stripe.Event[]> {
  const events = await t.eventsAbout(id, { type });
  return events.filter((e) => (e.data.object as { id?: string }).id === id);
}

test("missing_payment_method=cancel ends the subscription when the trial ends without a card", async () => {
  const { clock, sub } = await trialWithoutCard("cancel");
  assert.equal(sub.trial_settings?.end_behavior.missing_payment_method, "cancel");
  await advanceClock(t.stripe, clock.id, TRIAL_END + 2 * 3600);

  const ended = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(ended.status, "canceled");
  assert.equal(ended.ended_at, TRIAL_END);
  assert.equal((await eventsFor("customer.subscription.deleted", sub.id)).length, 1);
  const invoices = await t.stripe.invoices.list({ subscription: sub.id });
  assert.ok(
    invoices.data.every((inv) => inv.billing_reason !== "subscription_cycle"),
    "nothing is billed after the trial",
  );
});

test("missing_payment_method=pause pauses the subscription until it is resumed and billed", async () => {
  const { clock, customer, sub } = await trialWithoutCard("pause");
  await advanceClock(t.stripe, clock.id, TRIAL_END + 2 * 3600);
  const paused = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(paused.status, "paused");
  assert.equal((await eventsFor("customer.subscription.paused", sub.id)).length, 1);

  // A paused subscription does not renew.
  await advanceClock(t.stripe, clock.id, TRIAL_END + 40 * 86_400);
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "paused");
  assert.ok(
    (await t.stripe.invoices.list({ subscription: sub.id })).data.every(
      (inv) => inv.billing_reason !== "subscription_cycle",
    ),
  );

  const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  await t.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  const resumed = await t.stripe.subscriptions.resume(sub.id, {
    billing_cycle_anchor: { type: "now" },
  });
  assert.equal(resumed.status, "active");
  assert.equal(resumed.items.data[0]?.current_period_start, TRIAL_END + 40 * 86_400);
  assert.equal((await eventsFor("customer.subscription.resumed", sub.id)).length, 1);
  const inv = await latestInvoice(t.stripe, sub.id);
  assert.equal(inv.status, "paid");
  assert.equal(inv.amount_paid, 3000);

  await assert.rejects(t.stripe.subscriptions.resume(sub.id), { statusCode: 400 });
});

test("by default a trial ending without a card is invoiced and the unpaid invoice makes it past_due", async () => {
  const { clock, sub } = await trialWithoutCard();
  assert.equal(sub.trial_settings?.end_behavior.missing_payment_method, "create_invoice");
  await advanceClock(t.stripe, clock.id, TRIAL_END + 2 * 3600);

  const billed = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(billed.status, "past_due");
  const inv = await latestInvoice(t.stripe, sub.id);
  assert.equal(inv.billing_reason, "subscription_cycle");
  assert.equal(inv.status, "open");
  assert.equal(inv.amount_due, 3000);
});

test("a trial ending with a card on the customer is billed whatever missing_payment_method says", async () => {
  const { clock, customer, sub } = await trialWithoutCard("cancel");
  const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  await t.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  await advanceClock(t.stripe, clock.id, TRIAL_END + 2 * 3600);
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "active");
  assert.equal((await latestInvoice(t.stripe, sub.id)).status, "paid");
});

test("trial_settings values Stripe does not know are refused", async () => {
  const clock = await t.stripe.testHelpers.testClocks.create({ frozen_time: START });
  const customer = await t.stripe.customers.create({ test_clock: clock.id });
  const price = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  await assert.rejects(
    t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
      trial_period_days: 7,
      trial_settings: { end_behavior: { missing_payment_method: "explode" } },
    }),
    { statusCode: 400 },
  );
});

test("trial_end moved on an update extends the trial, and billing starts at the new end", async () => {
  const { clock, customer, sub } = await trialWithoutCard();
  const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  await t.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  const later = START + 14 * 86_400;
  const extended = await t.stripe.subscriptions.update(sub.id, { trial_end: later });
  assert.equal(extended.trial_end, later);
  assert.equal(extended.billing_cycle_anchor, later);
  assert.equal(extended.items.data[0]?.current_period_end, later);

  await advanceClock(t.stripe, clock.id, TRIAL_END + 2 * 3600);
  assert.equal((await t.stripe.subscriptions.retrieve(sub.id)).status, "trialing");
  await advanceClock(t.stripe, clock.id, later + 2 * 3600);
  const billed = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(billed.status, "active");
  assert.equal(billed.items.data[0]?.current_period_start, later);
  assert.equal((await latestInvoice(t.stripe, sub.id)).status, "paid");
});
