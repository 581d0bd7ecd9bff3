import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, at, clockCustomer, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { type Harness, harness } from "./helpers.ts";

let h: Harness;
before(async () => {
  h = await harness();
});
beforeEach(() => h.reset());
after(() => h.close());

async function ledger(customer: string): Promise<Stripe.CustomerBalanceTransaction[]> {
  const list = await h.stripe.customers.listBalanceTransactions(customer);
  return [...list.data].reverse();
}

test("a downgrade invoiced at once leaves its credit on the balance, and the renewal spends it", async () => {
  const { clock, customer } = await clockCustomer(h.stripe, at("2027-01-01T00:00:00Z"));
  const pro = await namedMonthlyPrice(h.stripe, "Pro", 3000);
  const starter = await namedMonthlyPrice(h.stripe, "Starter", 1000);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: pro.id }],
  });
  await advanceClock(h.stripe, clock.id, at("2027-01-16T00:00:00Z"));
  const item = sub.items.data[0];
  assert.ok(item);
  await h.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: starter.id }],
    proration_behavior: "always_invoice",
  });

  const credit = await latestInvoice(h.stripe, sub.id);
  assert.equal(credit.billing_reason, "subscription_update");
  assert.ok(credit.total < 0, `a downgrade's proration invoice is a credit (${credit.total})`);
  assert.equal(credit.amount_due, 0);
  assert.equal(credit.status, "paid");
  assert.equal(credit.starting_balance, 0);
  assert.equal(credit.ending_balance, credit.total);
  const credited = await h.stripe.customers.retrieve(customer.id);
  assert.ok(!credited.deleted);
  assert.equal(credited.balance, credit.total);
  const [applied] = await ledger(customer.id);
  assert.equal(applied?.type, "applied_to_invoice");
  assert.equal(applied?.amount, credit.total);
  assert.equal(applied?.invoice, credit.id);
  assert.equal(applied?.ending_balance, credit.total);
  assert.equal(applied?.currency, "usd");

  await advanceClock(h.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const upcoming = (await h.stripe.events.list({ type: "invoice.upcoming" })).data
    .map((e) => e.data.object as Stripe.Invoice)
    .find((inv) => inv.customer === customer.id);
  assert.ok(upcoming, "invoice.upcoming announced the renewal");
  assert.equal(upcoming.starting_balance, credit.total);
  assert.equal(upcoming.amount_due, Math.max(0, 1000 + credit.total));
  assert.deepEqual(upcoming.lines.data[0]?.period, {
    start: at("2027-02-01T00:00:00Z"),
    end: at("2027-03-01T00:00:00Z"),
  });
  const renewal = await latestInvoice(h.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.total, 1000);
  assert.equal(renewal.starting_balance, credit.total);
  assert.equal(renewal.amount_due, Math.max(0, 1000 + credit.total));
  assert.equal(renewal.ending_balance, Math.min(0, 1000 + credit.total));
  assert.equal(renewal.status, "paid");
  const after = await h.stripe.customers.retrieve(customer.id);
  assert.ok(!after.deleted);
  assert.equal(after.balance, renewal.ending_balance);
  const entries = await ledger(customer.id);
  assert.equal(entries.length, 2);
  assert.equal(entries[1]?.type, "applied_to_invoice");
  assert.equal(entries[1]?.invoice, renewal.id);
  assert.equal(entries[1]?.amount, (renewal.ending_balance ?? 0) - credit.total);
  await h.stripe.testHelpers.testClocks.del(clock.id);
});

test("a balance adjustment lowers the next invoice's amount due and is used up by it", async () => {
  const { clock, customer } = await clockCustomer(h.stripe, at("2027-03-10T12:00:00Z"));
  const adjustment = await h.stripe.customers.createBalanceTransaction(customer.id, {
    amount: -400,
    currency: "usd",
    description: "Goodwill credit",
  });
  assert.equal(adjustment.object, "customer_balance_transaction");
  assert.equal(adjustment.type, "adjustment");
  assert.equal(adjustment.ending_balance, -400);
  assert.equal(adjustment.description, "Goodwill credit");
  const credited = await h.stripe.customers.retrieve(customer.id);
  assert.ok(!credited.deleted);
  assert.equal(credited.balance, -400);

  const price = await namedMonthlyPrice(h.stripe, "Pro", 1000);
  const sub = await h.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
    expand: ["latest_invoice"],
  });
  const first = sub.latest_invoice as Stripe.Invoice;
  assert.equal(first.total, 1000);
  assert.equal(first.starting_balance, -400);
  assert.equal(first.ending_balance, 0);
  assert.equal(first.amount_due, 600);
  assert.equal(first.amount_paid, 600);
  const spent = await h.stripe.customers.retrieve(customer.id);
  assert.ok(!spent.deleted);
  assert.equal(spent.balance, 0);
  const entries = await ledger(customer.id);
  assert.deepEqual(
    entries.map((e) => [e.type, e.amount, e.ending_balance]),
    [
      ["adjustment", -400, -400],
      ["applied_to_invoice", 400, 0],
    ],
  );
  const one = await h.stripe.customers.retrieveBalanceTransaction(customer.id, adjustment.id);
  assert.equal(one.id, adjustment.id);
  await h.stripe.testHelpers.testClocks.del(clock.id);
});

test("a balance adjustment in another currency than the customer's is refused", async () => {
  const { clock, customer } = await clockCustomer(h.stripe, at("2027-03-10T12:00:00Z"));
  await h.stripe.customers.createBalanceTransaction(customer.id, { amount: 300, currency: "usd" });
  await assert.rejects(
    h.stripe.customers.createBalanceTransaction(customer.id, { amount: 300, currency: "eur" }),
    (err: Stripe.errors.StripeError) => err.type === "StripeInvalidRequestError",
  );
  await h.stripe.testHelpers.testClocks.del(clock.id);
});
