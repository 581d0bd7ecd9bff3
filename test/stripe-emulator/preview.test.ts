import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, at, clockCustomer, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { type ContractTarget, contractTarget } from "./contract/target.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

/** A Starter subscription on a test clock, and a Pro price to change it to. */
async function starterSubscription() {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-01T00:00:00Z"));
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: starter.id }],
  });
  const item = sub.items.data[0];
  assert.ok(item);
  return { clock, customer, starter, pro, sub, item };
}

/** What an invoice bills, comparable between a preview and the invoice made later. */
function billed(inv: Stripe.Invoice) {
  return {
    amount_due: inv.amount_due,
    total: inv.total,
    subtotal: inv.subtotal,
    lines: inv.lines.data
      .map((l) => ({ amount: l.amount, description: l.description, period: l.period }))
      .sort((a, b) => a.amount - b.amount),
  };
}

/** Events so far, on the emulator, where every event is written before its request answers. */
async function eventCount(): Promise<number | null> {
  if (t.name !== "emulator") return null;
  return (await t.stripe.events.list({ limit: 100 })).data.length;
}

test("an upgrade's preview with always_invoice is the invoice the update then creates", async () => {
  const { clock, customer, pro, sub, item } = await starterSubscription();
  const prorationDate = at("2027-01-16T00:00:00Z");
  await advanceClock(t.stripe, clock.id, prorationDate);
  const events = await eventCount();
  const invoices = (await t.stripe.invoices.list({ customer: customer.id })).data.length;

  const preview = await t.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: {
      items: [{ id: item.id, price: pro.id }],
      proration_behavior: "always_invoice",
      proration_date: prorationDate,
    },
  });
  assert.match(preview.id ?? "", /^upcoming_in/);
  assert.deepEqual(preview.lines.data.map((l) => l.description).sort(), [
    "Remaining time on Pro after 16 Jan 2027",
    "Unused time on Starter after 16 Jan 2027",
  ]);
  assert.ok(preview.lines.data.every((l) => l.parent?.subscription_item_details?.proration));
  assert.ok(preview.amount_due > 0, "an upgrade costs the difference for the rest of the month");
  assert.equal(preview.amount_due, preview.total);

  // A preview changes nothing and sends nothing (Stripe writes events late: counted on the emulator).
  assert.equal(await eventCount(), events);
  assert.equal((await t.stripe.invoices.list({ customer: customer.id })).data.length, invoices);
  const unchanged = await t.stripe.subscriptions.retrieve(sub.id);
  assert.equal(unchanged.items.data[0]?.price.id, item.price.id);
  await assert.rejects(t.stripe.invoices.retrieve(preview.id ?? ""), { statusCode: 404 });

  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "always_invoice",
    proration_date: prorationDate,
  });
  const real = await latestInvoice(t.stripe, sub.id);
  assert.equal(real.billing_reason, "subscription_update");
  assert.deepEqual(billed(real), billed(preview));
});

test("a change left to create_prorations previews the next renewal, as the renewal then bills it", async () => {
  const { clock, pro, sub, item } = await starterSubscription();
  const prorationDate = at("2027-01-11T00:00:00Z");
  await advanceClock(t.stripe, clock.id, prorationDate);
  const details = {
    items: [{ id: item.id, price: pro.id, quantity: 2 }],
    proration_date: prorationDate,
  };

  const preview = await t.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: details,
  });
  assert.equal(preview.period_end, at("2027-02-01T00:00:00Z"));
  assert.ok((preview.next_payment_attempt ?? 0) >= at("2027-02-01T00:00:00Z"));
  const prorations = preview.lines.data.filter(
    (l) => l.parent?.subscription_item_details?.proration,
  );
  assert.equal(prorations.length, 2);
  const next = preview.lines.data.find((l) => !l.parent?.subscription_item_details?.proration);
  assert.equal(next?.amount, 6000, "the next month at 2 × Pro");
  assert.deepEqual(next?.period, {
    start: at("2027-02-01T00:00:00Z"),
    end: at("2027-03-01T00:00:00Z"),
  });

  await t.stripe.subscriptions.update(sub.id, details);
  await advanceClock(t.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.deepEqual(billed(renewal), billed(preview));
});

test("the upcoming invoice of a subscription includes pending invoice items and leaves them pending", async () => {
  const { customer, starter, sub } = await starterSubscription();
  const fee = await t.stripe.invoiceItems.create({
    customer: customer.id,
    amount: 500,
    currency: "usd",
    description: "Setup fee",
  });

  const upcoming = await t.stripe.invoices.createPreview({ subscription: sub.id });
  assert.equal(upcoming.amount_due, (starter.unit_amount ?? 0) + 500);
  const feeLine = upcoming.lines.data.find((l) => l.description === "Setup fee");
  assert.equal(feeLine?.amount, 500);
  assert.equal(feeLine?.parent?.invoice_item_details?.invoice_item, fee.id);
  assert.equal((await t.stripe.invoiceItems.retrieve(fee.id)).invoice, null);
});

test("a customer's credit balance lowers a preview's amount due as it will the invoice", async () => {
  const { customer, sub } = await starterSubscription();
  await t.stripe.customers.createBalanceTransaction(customer.id, {
    amount: -300,
    currency: "usd",
  });
  const upcoming = await t.stripe.invoices.createPreview({ subscription: sub.id });
  assert.equal(upcoming.starting_balance, -300);
  assert.equal(upcoming.total, 1000);
  assert.equal(upcoming.amount_due, 700);
});

test("a new subscription's preview bills its first period and creates nothing", async () => {
  const { customer } = await clockCustomer(t.stripe, at("2027-03-05T00:00:00Z"));
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const preview = await t.stripe.invoices.createPreview({
    customer: customer.id,
    subscription_details: { items: [{ price: pro.id, quantity: 3 }] },
  });
  assert.equal(preview.amount_due, 9000);
  assert.equal(preview.lines.data.length, 1);
  assert.deepEqual(preview.lines.data[0]?.period, {
    start: at("2027-03-05T00:00:00Z"),
    end: at("2027-04-05T00:00:00Z"),
  });
  const subs = await t.stripe.subscriptions.list({ customer: customer.id, status: "all" });
  assert.equal(subs.data.length, 0);
});

test("a preview refuses parameters it does not know and a subscription that does not exist", async () => {
  const { sub } = await starterSubscription();
  await assert.rejects(
    t.stripe.invoices.createPreview({
      subscription: sub.id,
      bogus: "x",
    } as Stripe.InvoiceCreatePreviewParams),
    { statusCode: 400, code: "parameter_unknown" },
  );
  await assert.rejects(t.stripe.invoices.createPreview({ subscription: "sub_missing" }), {
    statusCode: 404,
    code: "resource_missing",
  });
});

test("a discounted subscription's move to a yearly price previews the invoice it then gets", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-01T00:00:00Z"));
  const monthly = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const yearly = await t.stripe.prices.create({
    product: String(monthly.product),
    unit_amount: 10_000,
    currency: "usd",
    recurring: { interval: "year" },
  });
  const coupon = await t.stripe.coupons.create({ percent_off: 25, duration: "forever" });
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: monthly.id }],
    discounts: [{ coupon: coupon.id }],
  });
  const item = sub.items.data[0];
  assert.ok(item);
  const prorationDate = at("2027-01-16T00:00:00Z");
  await advanceClock(t.stripe, clock.id, prorationDate);
  const change = { items: [{ id: item.id, price: yearly.id }], proration_date: prorationDate };

  const preview = await t.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: change,
  });
  const yearLine = preview.lines.data.find((l) => l.amount === 10_000);
  assert.ok(yearLine, "the new year is billed at once");
  assert.ok(
    preview.total_discount_amounts?.some((d) => d.amount > 0),
    "the coupon applies",
  );

  await t.stripe.subscriptions.update(sub.id, change);
  const real = await latestInvoice(t.stripe, sub.id);
  assert.deepEqual(billed(real), billed(preview));
});

test("billing_cycle_anchor=now previews the restarted cycle's invoice, as the update then bills it", async () => {
  const { clock, sub, item } = await starterSubscription();
  const prorationDate = at("2027-01-21T00:00:00Z");
  await advanceClock(t.stripe, clock.id, prorationDate);
  const change = {
    items: [{ id: item.id, quantity: 2 }],
    billing_cycle_anchor: { type: "now" as const },
    proration_date: prorationDate,
  };
  const preview = await t.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: change,
  });
  const period = preview.lines.data.find((l) => l.amount === 2000)?.period;
  assert.deepEqual(period, { start: prorationDate, end: at("2027-02-21T00:00:00Z") });

  const updated = await t.stripe.subscriptions.update(sub.id, change);
  assert.equal(updated.billing_cycle_anchor, prorationDate);
  assert.deepEqual(billed(await latestInvoice(t.stripe, sub.id)), billed(preview));
});

test("a subscription ending at its period end has no upcoming invoice to preview", async () => {
  const { sub } = await starterSubscription();
  await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  await assert.rejects(t.stripe.invoices.createPreview({ subscription: sub.id }), {
    statusCode: 404,
    code: "invoice_upcoming_none",
  });
  const undone = await t.stripe.invoices.createPreview({
    subscription: sub.id,
    subscription_details: { cancel_at_period_end: false },
  });
  assert.equal(undone.amount_due, 1000, "undoing the cancellation previews the renewal");
});
