import assert from "node:assert/strict";
import { after, before, beforeEach, test } from "node:test";
import type Stripe from "stripe";
import { advanceClock, at, clockCustomer, latestInvoice, namedMonthlyPrice } from "./clock.ts";
import { type ContractTarget, contractTarget, emulatorOnly } from "./contract/target.ts";

// Time moves with test clocks, so these run on Stripe's test mode too (contract/target.ts).
let t: ContractTarget;
before(async () => {
  t = await contractTarget();
});
beforeEach(() => t.reset());
after(() => t.close());

/**
 * The events about one object, oldest first: on Stripe, once `until` holds (default: one was
 * written), since Stripe writes events after it answers.
 */
async function eventsAbout(
  id: string,
  type?: string,
  until?: (events: Stripe.Event[]) => boolean,
): Promise<Stripe.Event[]> {
  const about = (e: Stripe.Event) => (e.data.object as { id?: string }).id === id;
  return t.events(about, { ...(type ? { type } : {}), ...(until ? { until } : {}) });
}

const invoiceWhere = (check: (inv: Stripe.Invoice) => boolean) => (events: Stripe.Event[]) =>
  events.some((e) => check(e.data.object as Stripe.Invoice));

// Delivery order is the emulator's promise to itself: Stripe does not guarantee an order, and
// the order of `events.list` within one second says nothing about delivery.
test(
  "customer.subscription.created is delivered before the invoice events its creation caused",
  emulatorOnly("the order of deliveries to a webhook endpoint"),
  async () => {
    const h = t.emulator();
    const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-07T09:00:00Z"));
    const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
    const sub = await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: price.id }],
    });
    await h.emulator.idle();
    const types = h.receiver.types();
    const created = types.indexOf("customer.subscription.created");
    assert.ok(created >= 0);
    for (const later of ["invoice.created", "invoice.finalized", "invoice.paid"]) {
      assert.ok(created < types.indexOf(later), `${later} after subscription.created: ${types}`);
    }
    const [event] = await eventsAbout(sub.id, "customer.subscription.created");
    assert.ok(event);
    assert.equal((event.data.object as Stripe.Subscription).status, "active");
    await t.stripe.testHelpers.testClocks.del(clock.id);
  },
);

test("invoice.updated is sent when an invoice's payment succeeds, with what the payment changed", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-07T09:00:00Z"));
  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  const inv = await latestInvoice(t.stripe, sub.id);
  const updates = await eventsAbout(
    inv.id,
    "invoice.updated",
    invoiceWhere((i) => i.status === "paid"),
  );
  assert.ok(updates.length >= 1);
  const paid = updates.find((e) => (e.data.object as Stripe.Invoice).status === "paid");
  assert.ok(paid, "an invoice.updated shows the invoice paid");
  assert.equal((paid.data.previous_attributes as Partial<Stripe.Invoice>).status, "open");
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("invoice.updated is sent when a renewal payment fails", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-07T09:00:00Z"));
  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
    customer: customer.id,
  });
  await t.stripe.subscriptions.update(sub.id, { default_payment_method: failing.id });
  await advanceClock(t.stripe, clock.id, at("2027-02-07T11:00:00Z"));
  const renewal = await latestInvoice(t.stripe, sub.id);
  assert.equal(renewal.status, "open");
  const updates = await eventsAbout(
    renewal.id,
    "invoice.updated",
    invoiceWhere((i) => i.attempted),
  );
  assert.ok(updates.length >= 1, "the failed attempt is an invoice.updated");
  const last = updates.at(-1)?.data.object as Stripe.Invoice;
  assert.equal(last.attempted, true);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("previous_attributes names only the changed keys, inside nested objects too", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-07T09:00:00Z"));
  const price = await namedMonthlyPrice(t.stripe, "Pro", 1000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: price.id }],
  });
  await t.stripe.subscriptions.update(sub.id, { cancel_at_period_end: true });
  const [update] = await eventsAbout(sub.id, "customer.subscription.updated");
  const previous = update?.data.previous_attributes as Record<string, unknown>;
  assert.equal(previous.cancel_at_period_end, false);
  assert.equal(previous.cancel_at, null);
  assert.deepEqual(previous.cancellation_details, { reason: null });
  assert.equal("items" in previous, false, "unchanged items are not listed");
  assert.equal("metadata" in previous, false);

  const customerUpdates = await eventsAbout(customer.id, "customer.updated");
  const setDefault = customerUpdates.find(
    (e) => (e.data.previous_attributes as Record<string, unknown>).invoice_settings,
  );
  assert.deepEqual(setDefault?.data.previous_attributes, {
    invoice_settings: { default_payment_method: null },
  });
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("a price change lists the items' data, whole, as it was", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-07T09:00:00Z"));
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: starter.id }],
  });
  const item = sub.items.data[0];
  assert.ok(item);
  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "none",
  });
  const [update] = await eventsAbout(sub.id, "customer.subscription.updated");
  const previous = update?.data.previous_attributes as {
    items?: { data?: Stripe.SubscriptionItem[] };
  };
  assert.deepEqual(Object.keys(previous.items ?? {}), ["data"]);
  assert.equal(previous.items?.data?.[0]?.price.id, starter.id);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});

test("prorations are pending invoice items worded like Stripe's until the next invoice takes them", async () => {
  const { clock, customer } = await clockCustomer(t.stripe, at("2027-01-01T00:00:00Z"));
  const starter = await namedMonthlyPrice(t.stripe, "Starter", 1000);
  const pro = await namedMonthlyPrice(t.stripe, "Pro", 3000);
  const sub = await t.stripe.subscriptions.create({
    customer: customer.id,
    items: [{ price: starter.id }],
  });
  await advanceClock(t.stripe, clock.id, at("2027-01-07T12:00:00Z"));
  const item = sub.items.data[0];
  assert.ok(item);
  await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "create_prorations",
  });
  const pending = await t.stripe.invoiceItems.list({ customer: customer.id, pending: true });
  assert.deepEqual(pending.data.map((ii) => ii.description).sort(), [
    "Remaining time on Pro after 07 Jan 2027",
    "Unused time on Starter after 07 Jan 2027",
  ]);
  for (const ii of pending.data) {
    assert.equal(ii.object, "invoiceitem");
    assert.equal(ii.proration, true);
    assert.equal(ii.invoice, null);
  }
  const credit = pending.data.find((ii) => ii.amount < 0);
  assert.ok(credit);
  assert.equal(credit.pricing?.price_details?.price, starter.id);

  await advanceClock(t.stripe, clock.id, at("2027-02-01T02:00:00Z"));
  const renewal = await latestInvoice(t.stripe, sub.id);
  const none = await t.stripe.invoiceItems.list({ customer: customer.id, pending: true });
  assert.equal(none.data.length, 0);
  const taken = await t.stripe.invoiceItems.retrieve(credit.id);
  assert.equal(taken.invoice, renewal.id);
  await t.stripe.testHelpers.testClocks.del(clock.id);
});
