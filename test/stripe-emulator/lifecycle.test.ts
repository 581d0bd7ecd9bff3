import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock } from "./clock.ts";
import { clockSubscribed } from "./contract/clock-subscribed.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";
import { DAY, monthlyPrice, subscribed } from "./helpers.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

const types = (events: Stripe.Event[]): string[] => events.map((e) => e.type);
const includes = (type: string) => (events: Stripe.Event[]) => types(events).includes(type);

test("a trial sends trial_will_end three days before and bills at its end", async () => {
  const { clock, sub, frozenTime } = await clockSubscribed(t.stripe, {
    params: { trial_period_days: 14 },
  });
  assert.equal(sub.status, "trialing");
  assert.equal(sub.trial_end, sub.created + 14 * DAY);
  await advanceClock(t.stripe, clock.id, frozenTime + 11 * DAY + 60);
  const willEnd = "customer.subscription.trial_will_end";
  assert.ok(includes(willEnd)(await t.eventsAbout(sub.id, { type: willEnd })));
  await advanceClock(t.stripe, clock.id, frozenTime + 14 * DAY + 3660);
  const s = await t.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
  assert.equal(s.status, "active");
  const inv = s.latest_invoice as Stripe.Invoice;
  assert.equal(inv.status, "paid");
  assert.equal(inv.amount_paid, 1000);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("cancel_at_period_end ends the subscription at the period end with subscription.deleted", async () => {
  const { clock, customer, sub } = await clockSubscribed(t.stripe);
  const updated = await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const end = updated.items.data[0]?.current_period_end;
  assert.equal(updated.cancel_at_period_end, true);
  assert.equal(updated.cancel_at, end);
  assert.equal(updated.status, "active");
  await advanceClock(t.stripe, clock.id, (end ?? 0) + 10);
  const ended = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(ended.status, "canceled");
  assert.equal(ended.ended_at, end);
  const events = await t.eventsAbout(customer.id, {
    until: includes("customer.subscription.deleted"),
  });
  const seen = types(events);
  assert.ok(seen.includes("customer.subscription.deleted"));
  assert.equal(seen.filter((type) => type === "invoice.created").length, 1, "no renewal invoice");
  const upd = events.find((e) => e.type === "customer.subscription.updated");
  assert.equal(
    (upd?.data.previous_attributes as Partial<Stripe.Subscription> | undefined)
      ?.cancel_at_period_end,
    false,
  );
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("cancel now and reactivating a scheduled cancellation", async () => {
  const { customer, sub } = await subscribed(t.stripe);
  await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const back = await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
  assert.equal(back.cancel_at, null);
  const canceled = await t.stripe.subscriptions.cancel(sub.id);
  assert.equal(canceled.status, "canceled");
  assert.ok(canceled.canceled_at);
  assert.equal((await t.stripe.subscriptions.list({ customer: customer.id })).data.length, 0);
  assert.equal(
    (await t.stripe.subscriptions.list({ customer: customer.id, status: "canceled" })).data.length,
    1,
  );
});

test("a price swap with always_invoice bills the proration at once", async () => {
  const { clock, sub, frozenTime } = await clockSubscribed(t.stripe, { amount: 1000 });
  const pro = await monthlyPrice(t.stripe, 3000);
  await advanceClock(t.stripe, clock.id, frozenTime + 15 * DAY);
  const item = sub.items.data[0];
  assert.ok(item);
  const swapped = await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "always_invoice",
    expand: ["latest_invoice"],
  });
  assert.equal(swapped.items.data[0]?.price.id, pro.id);
  const inv = swapped.latest_invoice as Stripe.Invoice;
  assert.equal(inv.billing_reason, "subscription_update");
  assert.equal(inv.status, "paid");
  const lines = inv.lines.data;
  assert.equal(lines.length, 2);
  assert.ok(lines.every((l) => l.parent?.subscription_item_details?.proration === true));
  assert.ok(lines.some((l) => l.amount < 0) && lines.some((l) => l.amount > 0));
  assert.ok(inv.amount_due > 0 && inv.amount_due < 2000);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("create_prorations adds the proration to the next renewal invoice; none does not", async () => {
  const { clock, sub, frozenTime } = await clockSubscribed(t.stripe, { amount: 1000 });
  const pro = await monthlyPrice(t.stripe, 3000);
  const item = sub.items.data[0];
  assert.ok(item);
  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "create_prorations",
  });
  await advanceClock(t.stripe, clock.id, frozenTime + 32 * DAY);
  const invoices = await t.stripe.invoices.list({ subscription: sub.id });
  const cycle = invoices.data.find((i) => i.billing_reason === "subscription_cycle");
  assert.equal(cycle?.lines.data.length, 3);
  assert.ok(cycle && cycle.amount_due > 3000);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("test clocks drive renewals for their customers only", async () => {
  const now = Math.floor(Date.now() / 1000);
  const clock = await t.stripe.testHelpers.testClocks.create({ frozen_time: now });
  const customer = await t.stripe.customers.create({
    email: "clock@example.com",
    test_clock: clock.id,
  });
  const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  const price = await monthlyPrice(t.stripe);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: pm.id,
  });
  assert.equal(sub.created, now);
  const unfiltered = await t.stripe.subscriptions.list({ limit: 100 });
  assert.ok(!unfiltered.data.some((s) => s.id === sub.id), "hidden without customer/test_clock");
  // Stripe answers `advancing` and gets ready in the background; advanceClock waits for ready.
  await advanceClock(t.stripe, clock.id, now + 32 * DAY);
  const invoices = await t.stripe.invoices.list({ customer: customer.id });
  assert.equal(invoices.data.length, 2);
  assert.equal(invoices.data[0]?.status, "paid");
  assert.ok(
    (await t.stripe.subscriptions.retrieve(sub.id)).items.data[0]?.current_period_start ?? 0 > now,
  );
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("zero-decimal currencies bill whole amounts", async () => {
  const { sub } = await subscribed(t.stripe, {
    amount: 1200,
    currency: "jpy",
    params: { expand: ["latest_invoice"] },
  });
  const inv = sub.latest_invoice as Stripe.Invoice;
  assert.equal(inv.currency, "jpy");
  assert.equal(inv.amount_paid, 1200);
});

test("refunding a paid invoice's payment sends charge.refunded and refund.created", async () => {
  const { sub } = await subscribed(t.stripe);
  const payments = await t.stripe.invoicePayments.list({ invoice: String(sub.latest_invoice) });
  const pi = payments.data[0]?.payment.payment_intent;
  assert.equal(typeof pi, "string");
  const refund = await t.stripe.refunds.create({ payment_intent: String(pi) });
  assert.equal(refund.status, "succeeded");
  assert.equal(refund.amount, 1000);
  const events = await t.eventsAbout(refund.charge as string, {
    until: (es) => includes("charge.refunded")(es),
  });
  const refunded = events.find((e) => e.type === "charge.refunded");
  assert.equal((refunded?.data.object as Stripe.Charge | undefined)?.refunded, true);
  const created = await t.events(
    (e) => e.type === "refund.created" && (e.data.object as Stripe.Refund).id === refund.id,
    { type: "refund.created" },
  );
  assert.equal(created.length, 1);
});

test(
  "checkout completes as a customer would and fires checkout.session.completed",
  emulatorOnly("paying a Checkout Session is the customer's browser at Stripe"),
  async () => {
    const h = t.emulator();
    const price = await monthlyPrice(t.stripe);
    const session = await t.stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price: price.id, quantity: 1 }],
      success_url: "https://app.example/done?session_id={CHECKOUT_SESSION_ID}",
      customer_email: "buyer@example.com",
      client_reference_id: "user-1",
      subscription_data: { metadata: { userId: "user-1" } },
    });
    assert.ok(session.url?.startsWith(h.emulator.url));
    await h.emulator.completeCheckoutSession(session.id);
    const done = await t.stripe.checkout.sessions.retrieve(session.id, {
      expand: ["subscription"],
    });
    assert.equal(done.status, "complete");
    const sub = done.subscription as Stripe.Subscription;
    assert.equal(sub.status, "active");
    assert.equal(sub.metadata.userId, "user-1");
    await h.emulator.idle();
    const completed = h.receiver.events().find((e) => e.type === "checkout.session.completed");
    assert.equal(
      (completed?.data.object as Stripe.Checkout.Session | undefined)?.client_reference_id,
      "user-1",
    );
    const portal = await t.stripe.billingPortal.sessions.create({
      customer: String(done.customer),
      return_url: "https://app.example",
    });
    assert.ok(portal.url.startsWith(h.emulator.url));
    assert.equal((await fetch(portal.url)).status, 200);
  },
);
