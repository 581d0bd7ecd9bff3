import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { DAY, type Harness, harness, monthlyPrice, subscribed } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

test("a trial sends trial_will_end three days before and bills at its end", async () => {
  const { sub } = await subscribed(h.stripe, { params: { trial_period_days: 14 } });
  assert.equal(sub.status, "trialing");
  assert.equal(sub.trial_end, sub.created + 14 * DAY);
  await h.emulator.advanceTime(11 * DAY + 60);
  await h.emulator.idle();
  assert.ok(h.receiver.types().includes("customer.subscription.trial_will_end"));
  await h.emulator.advanceTime(3 * DAY + 3600);
  const s = await h.stripe.subscriptions.retrieve(sub.id, { expand: ["latest_invoice"] });
  assert.equal(s.status, "active");
  const inv = s.latest_invoice as Stripe.Invoice;
  assert.equal(inv.status, "paid");
  assert.equal(inv.amount_paid, 1000);
});

test("cancel_at_period_end ends the subscription at the period end with subscription.deleted", async () => {
  const { sub } = await subscribed(h.stripe);
  const updated = await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const end = updated.items.data[0]?.current_period_end;
  assert.equal(updated.cancel_at_period_end, true);
  assert.equal(updated.cancel_at, end);
  assert.equal(updated.status, "active");
  await h.emulator.advanceTime((end ?? 0) - sub.created + 10);
  const ended = await h.stripe.subscriptions.retrieve(sub.id);
  assert.equal(ended.status, "canceled");
  assert.equal(ended.ended_at, end);
  await h.emulator.idle();
  const types = h.receiver.types();
  assert.ok(types.includes("customer.subscription.deleted"));
  assert.equal(types.filter((t) => t === "invoice.created").length, 1, "no renewal invoice");
  const upd = h.receiver.events().find((e) => e.type === "customer.subscription.updated");
  assert.equal(
    (upd?.data.previous_attributes as Partial<Stripe.Subscription> | undefined)
      ?.cancel_at_period_end,
    false,
  );
});

test("cancel now and reactivating a scheduled cancellation", async () => {
  const { customer, sub } = await subscribed(h.stripe);
  await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const back = await h.stripe.subscriptions.update(sub.id, { cancel_at_period_end: false });
  assert.equal(back.cancel_at, null);
  const canceled = await h.stripe.subscriptions.cancel(sub.id);
  assert.equal(canceled.status, "canceled");
  assert.ok(canceled.canceled_at);
  assert.equal((await h.stripe.subscriptions.list({ customer: customer.id })).data.length, 0);
  assert.equal(
    (await h.stripe.subscriptions.list({ customer: customer.id, status: "canceled" })).data.length,
    1,
  );
});

test("a price swap with always_invoice bills the proration at once", async () => {
  const { sub } = await subscribed(h.stripe, { amount: 1000 });
  const pro = await monthlyPrice(h.stripe, 3000);
  await h.emulator.advanceTime(15 * DAY);
  const item = sub.items.data[0];
  assert.ok(item);
  const swapped = await h.stripe.subscriptions.update(sub.id, {
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
});

test("create_prorations adds the proration to the next renewal invoice; none does not", async () => {
  const { sub } = await subscribed(h.stripe, { amount: 1000 });
  const pro = await monthlyPrice(h.stripe, 3000);
  const item = sub.items.data[0];
  assert.ok(item);
  await h.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "create_prorations",
  });
  await h.emulator.advanceTime(32 * DAY);
  const invoices = await h.stripe.invoices.list({ subscription: sub.id });
  const cycle = invoices.data.find((i) => i.billing_reason === "subscription_cycle");
  assert.equal(cycle?.lines.data.length, 3);
  assert.ok(cycle && cycle.amount_due > 3000);
});

test("test clocks drive renewals for their customers only", async () => {
  const now = Math.floor(Date.now() / 1000);
  const clock = await h.stripe.testHelpers.testClocks.create({ frozen_time: now });
  const customer = await h.stripe.customers.create({
    email: "clock@example.com",
    test_clock: clock.id,
  });
  const pm = await h.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  const price = await monthlyPrice(h.stripe);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    default_payment_method: pm.id,
  });
  assert.equal(sub.created, now);
  assert.equal(
    (await h.stripe.subscriptions.list()).data.length,
    0,
    "hidden without customer/test_clock",
  );
  const advanced = await h.stripe.testHelpers.testClocks.advance(clock.id, {
    frozen_time: now + 32 * DAY,
  });
  assert.equal(advanced.status, "ready");
  const invoices = await h.stripe.invoices.list({ customer: customer.id });
  assert.equal(invoices.data.length, 2);
  assert.equal(invoices.data[0]?.status, "paid");
  assert.ok(
    (await h.stripe.subscriptions.retrieve(sub.id)).items.data[0]?.current_period_start ?? 0 > now,
  );
  await h.stripe.testHelpers.testClocks.del(clock.id);
});

test("zero-decimal currencies bill whole amounts", async () => {
  const { sub } = await subscribed(h.stripe, {
    amount: 1200,
    currency: "jpy",
    params: { expand: ["latest_invoice"] },
  });
  const inv = sub.latest_invoice as Stripe.Invoice;
  assert.equal(inv.currency, "jpy");
  assert.equal(inv.amount_paid, 1200);
});

test("refunding a paid invoice's payment sends charge.refunded and refund.created", async () => {
  const { sub } = await subscribed(h.stripe);
  const payments = await h.stripe.invoicePayments.list({ invoice: String(sub.latest_invoice) });
  const pi = payments.data[0]?.payment.payment_intent;
  assert.equal(typeof pi, "string");
  const refund = await h.stripe.refunds.create({ payment_intent: String(pi) });
  assert.equal(refund.status, "succeeded");
  assert.equal(refund.amount, 1000);
  await h.emulator.idle();
  const refunded = h.receiver.events().find((e) => e.type === "charge.refunded");
  assert.equal((refunded?.data.object as Stripe.Charge | undefined)?.refunded, true);
  assert.ok(h.receiver.types().includes("refund.created"));
});

test("checkout completes as a customer would and fires checkout.session.completed", async () => {
  const price = await monthlyPrice(h.stripe);
  const session = await h.stripe.checkout.sessions.create({
    mode: "subscription",
    line_items: [{ price: price.id, quantity: 1 }],
    success_url: "https://app.example/done?session_id={CHECKOUT_SESSION_ID}",
    customer_email: "buyer@example.com",
    client_reference_id: "user-1",
    subscription_data: { metadata: { userId: "user-1" } },
  });
  assert.ok(session.url?.startsWith(h.emulator.url));
  await h.emulator.completeCheckoutSession(session.id);
  const done = await h.stripe.checkout.sessions.retrieve(session.id, { expand: ["subscription"] });
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
  const portal = await h.stripe.billingPortal.sessions.create({
    customer: String(done.customer),
    return_url: "https://app.example",
  });
  assert.ok(portal.url.startsWith(h.emulator.url));
  assert.equal((await fetch(portal.url)).status, 200);
});
