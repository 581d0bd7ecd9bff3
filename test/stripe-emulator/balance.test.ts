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

async function ledger(customer: string): Promise<Stripe.CustomerBalanceTransaction[]> {
  const list = await t.stripe.customers.listBalanceTransactions(customer);
  return [...list.data].reverse();
}

test("a downgrade invoiced at once leaves its credit on the balance, and the renewal spends it", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-01T00:00:00Z"));
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: pro.id }],
  });
  await advanceClock(t.stripe, clock.id, at("2027-01-16T00:00:00Z"));
  const item = sub.items.data[0];
  assert.ok(item);
  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: starter.id }],
    proration_behavior: "always_invoice",
  });

  const credit = await latestInvoice(t.stripe, sub.id);
  assert.equal(credit.billing_reason, "subscription_update");
  assert.ok(credit.total < 0, `a downgrade's proration invoice is a credit (${credit.total})`);
  assert.equal(credit.amount_due, 0);
  assert.equal(credit.status, "paid");
  assert.equal(credit.starting_balance, 0);
  assert.equal(credit.ending_balance, credit.total);
  const credited = await t.stripe.customers.retrieve(customer.id);
  assert.ok(!credited.deleted);
  assert.equal(credited.balance, credit.total);
  const [applied] = await ledger(customer.id);
  assert.equal(applied?.type, "applied_to_invoice");
  assert.equal(applied?.amount, credit.total);
  assert.equal(applied?.invoice, credit.id);
  assert.equal(applied?.ending_balance, credit.total);
  assert.equal(applied?.currency, "usd");

  await advanceClock(t.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const upcoming = (await t.eventsAbout(customer.id, { type: "invoice.upcoming" }))
    .map((e) => e.data.object as Stripe.Invoice)
    .at(-1);
  assert.ok(upcoming, "invoice.upcoming announced the renewal");
  assert.equal(upcoming.starting_balance, credit.total);
  assert.equal(upcoming.amount_due, Math.max(0, 1000 + credit.total));
  assert.deepEqual(upcoming.lines.data[0]?.period, {
    start: at("2027-02-01T00:00:00Z"),
    end: at("2027-03-01T00:00:00Z"),
  });
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.total, 1000);
  assert.equal(renewal.starting_balance, credit.total);
  assert.equal(renewal.amount_due, Math.max(0, 1000 + credit.total));
  assert.equal(renewal.ending_balance, Math.min(0, 1000 + credit.total));
  assert.equal(renewal.status, "paid");
  const after = await t.stripe.customers.retrieve(customer.id);
  assert.ok(!after.deleted);
  assert.equal(after.balance, renewal.ending_balance);
  const entries = await ledger(customer.id);
  assert.equal(entries.length, 2);
  assert.equal(entries[1]?.type, "applied_to_invoice");
  assert.equal(entries[1]?.invoice, renewal.id);
  assert.equal(entries[1]?.amount, (renewal.ending_balance ?? 0) - credit.total);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("a balance adjustment lowers the next invoice's amount due and is used up by it", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-03-10T12:00:00Z"));
  const adjustment = await t.stripe.customers.createBalanceTransaction(customer.id, {
    amount: -400,
    currency: "usd",
    description: "Goodwill credit",
  });
  assert.equal(adjustment.object, "customer_balance_transaction");
  assert.equal(adjustment.type, "adjustment");
  assert.equal(adjustment.ending_balance, -400);
  assert.equal(adjustment.description, "Goodwill credit");
  const credited = await t.stripe.customers.retrieve(customer.id);
  assert.ok(!credited.deleted);
  assert.equal(credited.balance, -400);

  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
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
  const spent = await t.stripe.customers.retrieve(customer.id);
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
  const one = await t.stripe.customers.retrieveBalanceTransaction(customer.id, adjustment.id);
  assert.equal(one.id, adjustment.id);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("a balance adjustment in another currency than the customer's is refused", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-03-10T12:00:00Z"));
  await t.stripe.customers.createBalanceTransaction(customer.id, { amount: 300, currency: "usd" });
  await assert.rejects(
    t.stripe.customers.createBalanceTransaction(customer.id, { amount: 300, currency: "eur" }),
    (err: Stripe.errors.StripeError) => err.type === "StripeInvalidRequestError",
  );
  await t.stripe.testHelpers.testClocks.del(clock.id);
});
