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

const START = at("2027-01-01T00:00:00Z");
const RENEWED = at("2027-02-01T02:00:00Z");

async function subscribedOnClock() {
  const { clock, customer } = await clockCustomer(t.stripe, START);
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: starter.id }],
  });
  return { clock, customer, starter, sub };
}

/** The events of `type` about `id`, waiting on Stripe for them to be written. */
async function eventsFor(type: string, id: string): Promise<Stripe.Event[]> {
  const events = await t.eventsAbout(id, { type });
  return events.filter((e) => (e.data.object as { id?: string }).id === id);
}

test("a pending invoice item is billed on the next renewal, and is then no longer pending", async () => {
  const { clock, customer, sub } = await subscribedOnClock();
  const fee = await t.stripe.invoiceItems.create({
    customer: customer.id,
    amount: 2500,
    currency: "usd",
    description: "Onboarding call",
  });
  assert.equal(fee.invoice, null);
  assert.equal(fee.amount, 2500);
  assert.equal((await eventsFor("invoiceitem.created", fee.id)).length, 1);
  const pending = await t.stripe.invoiceItems.list({ customer: customer.id, pending: true });
  assert.deepEqual(
    pending.data.map((i) => i.id),
    [fee.id],
  );

  await advanceClock(t.stripe, clock.id, RENEWED);
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.billing_reason, "subscription_cycle");
  assert.equal(renewal.total, 1000 + 2500);
  const line = renewal.lines.data.find((l) => l.description === "Onboarding call");
  assert.equal(line?.amount, 2500);
  assert.equal(line?.parent?.invoice_item_details?.invoice_item, fee.id);
  const billed = await t.stripe.invoiceItems.retrieve(fee.id);
  assert.equal(billed.invoice, renewal.id);
  await assert.rejects(t.stripe.invoiceItems.del(fee.id), { statusCode: 400 });
  await assert.rejects(t.stripe.invoiceItems.update(fee.id, { amount: 1 }), { statusCode: 400 });
});

test("a pending setup fee is billed on a new subscription's first invoice, as its preview shows", async () => {
  const { customer } = await clockCustomer(t.stripe, START);
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const fee = await t.stripe.invoiceItems.create({
    customer: customer.id,
    amount: 5000,
    currency: "usd",
    description: "Setup fee",
  });
  const preview = await t.stripe.invoices.createPreview({
    customer: customer.id,
    subscription_details: { items: [{ price: pro.id }] },
  });
  assert.equal(preview.amount_due, 8000);

  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: pro.id }],
  });
  const first = await latestInvoice(t.stripe, sub.id);
  assert.equal(first.billing_reason, "subscription_create");
  assert.equal(first.amount_paid, 8000);
  assert.equal((await t.stripe.invoiceItems.retrieve(fee.id)).invoice, first.id);
});

test("an invoice item priced with a one-time price bills its quantity", async () => {
  const { customer } = await subscribedOnClock();
  const product = await t.stripe.products.create({ name: "Extra seat pack" });
  const oneTime = await t.stripe.prices.create({
    product: product.id,
    unit_amount: 700,
    currency: "usd",
  });
  const item = await t.stripe.invoiceItems.create({
    customer: customer.id,
    pricing: { price: oneTime.id },
    quantity: 3,
  });
  assert.equal(item.amount, 2100);
  assert.equal(item.quantity, 3);
  assert.equal(item.pricing?.price_details?.price, oneTime.id);

  const recurring = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  await assert.rejects(
    t.stripe.invoiceItems.create({ customer: customer.id, pricing: { price: recurring.id } }),
    { statusCode: 400 },
  );
});

test("a pending invoice item can be updated, and deleted with invoiceitem.deleted", async () => {
  const { clock, customer, sub } = await subscribedOnClock();
  const item = await t.stripe.invoiceItems.create({
    customer: customer.id,
    amount: 900,
    currency: "usd",
    description: "Setup",
  });
  const updated = await t.stripe.invoiceItems.update(item.id, {
    amount: 1200,
    description: "Setup (extended)",
  });
  assert.equal(updated.amount, 1200);
  assert.equal(updated.description, "Setup (extended)");

  const deleted = await t.stripe.invoiceItems.del(item.id);
  assert.deepEqual(deleted, { id: item.id, object: "invoiceitem", deleted: true });
  assert.equal((await eventsFor("invoiceitem.deleted", item.id)).length, 1);
  await assert.rejects(t.stripe.invoiceItems.retrieve(item.id), { statusCode: 404 });

  await advanceClock(t.stripe, clock.id, RENEWED);
  assert.equal((await latestInvoice(t.stripe, sub.id)).total, 1000);
});

test("a deleted pending proration is not billed by the renewal", async () => {
  const { clock, customer, sub } = await subscribedOnClock();
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const item = sub.items.data[0];
  assert.ok(item);
  await advanceClock(t.stripe, clock.id, at("2027-01-16T00:00:00Z"));
  await t.stripe.subscriptions.update(sub.id, { items: [{ id: item.id, price: pro.id }] });
  const prorations = await t.stripe.invoiceItems.list({ customer: customer.id, pending: true });
  const credit = prorations.data.find((i) => i.amount < 0);
  assert.ok(credit, "the unused time on Starter is a pending credit");
  await t.stripe.invoiceItems.del(credit.id);

  await advanceClock(t.stripe, clock.id, RENEWED);
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.ok(
    renewal.lines.data.every((l) => l.amount >= 0),
    "the deleted credit is not billed",
  );
  assert.ok(renewal.lines.data.some((l) => l.description?.startsWith("Remaining time on Pro")));
});

test("invoice item parameters Stripe does not take are refused", async () => {
  const { customer } = await subscribedOnClock();
  await assert.rejects(
    t.stripe.invoiceItems.create({
      customer: customer.id,
      amount: 100,
      currency: "usd",
      bogus: "x",
    } as Stripe.InvoiceItemCreateParams),
    { statusCode: 400, code: "parameter_unknown" },
  );
  await assert.rejects(t.stripe.invoiceItems.create({ customer: customer.id, currency: "usd" }), {
    statusCode: 400,
  });
});
