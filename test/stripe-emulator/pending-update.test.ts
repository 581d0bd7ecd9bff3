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

const START = at("2027-01-01T00:00:00Z");
const CHANGE = at("2027-01-16T00:00:00Z");

/** A Starter subscription paid with a Visa card on a test clock, and a Pro price to move to. */
async function starterOnClock() {
  const { clock, customer } = await clockCustomer(t.stripe, START);
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

/**
 * A Starter subscription paid with a Visa card, whose customer then switches to `card` before
 * upgrading to Pro mid-month.
 */
async function upgradeWith(card: string) {
  const { clock, customer, starter, pro, sub, item } = await starterOnClock();
  const pm = await t.stripe.paymentMethods.attach(card, { customer: customer.id });
  await t.stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  await advanceClock(t.stripe, clock.id, CHANGE);
  const updated = await t.stripe.subscriptions.update(sub.id, {
    items: [{ id: item.id, price: pro.id }],
    proration_behavior: "always_invoice",
    payment_behavior: "pending_if_incomplete",
  });
  return { clock, customer, starter, pro, sub, item, updated };
}

/** The events of `type` about `subId`, waiting on Stripe for them to be written. */
async function eventsOf(type: string, subId: string): Promise<Stripe.Event[]> {
  const events = await t.eventsAbout(subId, { type });
  return events.filter((e) => (e.data.object as { id?: string }).id === subId);
}

test("a paid pending_if_incomplete change applies at once and leaves no pending update", async () => {
  const { updated, pro } = await upgradeWith("pm_card_visa");
  assert.equal(updated.pending_update, null);
  assert.equal(updated.items.data[0]?.price.id, pro.id);
  const inv = await latestInvoice(t.stripe, updated.id);
  assert.equal(inv.status, "paid");
});

test("a declined pending_if_incomplete change keeps the old price and waits as pending_update", async () => {
  const { updated, starter, pro, item } = await upgradeWith("pm_card_chargeCustomerFail");
  assert.equal(updated.status, "active", "an unpaid pending update does not make it past_due");
  assert.equal(updated.items.data[0]?.price.id, starter.id);
  const pending = updated.pending_update;
  assert.ok(pending, "the change waits as pending_update");
  assert.equal(pending.expires_at, CHANGE + 23 * 3600);
  assert.equal(pending.subscription_items?.[0]?.id, item.id);
  assert.equal(pending.subscription_items?.[0]?.price.id, pro.id);

  const inv = await latestInvoice(t.stripe, updated.id);
  assert.equal(inv.status, "open");
  assert.equal(inv.billing_reason, "subscription_update");
  assert.equal(updated.latest_invoice, inv.id);
  const [announced] = await eventsOf("customer.subscription.updated", updated.id);
  const object = announced?.data.object as Stripe.Subscription | undefined;
  assert.ok(object?.pending_update, "customer.subscription.updated carries the pending update");
});

test("paying the pending update's invoice applies the change and clears pending_update", async () => {
  const { updated, customer, pro } = await upgradeWith("pm_card_chargeCustomerFail");
  const inv = await latestInvoice(t.stripe, updated.id);
  const visa = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  const paid = await t.stripe.invoices.pay(inv.id, { payment_method: visa.id });
  assert.equal(paid.status, "paid");

  const applied = await t.stripe.subscriptions.retrieve(updated.id);
  assert.equal(applied.pending_update, null);
  assert.equal(applied.items.data[0]?.price.id, pro.id);
  assert.equal(applied.status, "active");
  const events = await eventsOf("customer.subscription.pending_update_applied", updated.id);
  assert.equal(events.length, 1);
});

test(
  "completing 3-D Secure for the pending update's payment applies the change",
  emulatorOnly("the customer passing 3-D Secure is the emulator's /_emulator control"),
  async () => {
    const { updated, pro } = await upgradeWith("pm_card_authenticationRequired");
    assert.ok(updated.pending_update);
    const inv = await latestInvoice(t.stripe, updated.id);
    const [payment] = (await t.stripe.invoicePayments.list({ invoice: inv.id })).data;
    const pi = payment?.payment.payment_intent;
    assert.equal(typeof pi, "string");
    // The customer passing 3-D Secure: an emulator control (at Stripe, the customer's browser).
    const res = await fetch(
      `${t.emulator().emulator.url}/_emulator/payment_intents/${String(pi)}/confirm`,
      {
        method: "POST",
      },
    );
    assert.equal(res.status, 200);

    const applied = await t.stripe.subscriptions.retrieve(updated.id);
    assert.equal(applied.pending_update, null);
    assert.equal(applied.items.data[0]?.price.id, pro.id);
  },
);

test("an unpaid pending update expires after 23 hours: dropped, and its invoice voided", async () => {
  const { clock, updated, starter } = await upgradeWith("pm_card_chargeCustomerFail");
  const inv = await latestInvoice(t.stripe, updated.id);
  await advanceClock(t.stripe, clock.id, CHANGE + 24 * 3600);

  const expired = await t.stripe.subscriptions.retrieve(updated.id);
  assert.equal(expired.pending_update, null);
  assert.equal(expired.items.data[0]?.price.id, starter.id);
  assert.equal(expired.status, "active");
  assert.equal((await t.stripe.invoices.retrieve(inv.id)).status, "void");
  const events = await eventsOf("customer.subscription.pending_update_expired", updated.id);
  assert.equal(events.length, 1);
});

test("pending_if_incomplete refuses parameters a pending update cannot hold", async () => {
  const { sub } = await starterOnClock();
  await assert.rejects(
    t.stripe.subscriptions.update(sub.id, {
      payment_behavior: "pending_if_incomplete",
      metadata: { plan: "pro" },
    }),
    { statusCode: 400, param: "metadata" },
  );
  const unchanged = await t.stripe.subscriptions.retrieve(sub.id);
  assert.deepEqual(unchanged.metadata, {});
});

test("a subscription item's price changes through subscriptionItems.update, with its proration", async () => {
  const { clock, pro, sub, item } = await starterOnClock();
  const listed = await t.stripe.subscriptionItems.list({ subscription: sub.id });
  assert.deepEqual(
    listed.data.map((i) => i.id),
    [item.id],
  );
  await advanceClock(t.stripe, clock.id, CHANGE);

  const changed = await t.stripe.subscriptionItems.update(item.id, {
    price: pro.id,
    quantity: 2,
    proration_behavior: "always_invoice",
  });
  assert.equal(changed.price.id, pro.id);
  assert.equal(changed.quantity, 2);
  assert.equal((await t.stripe.subscriptionItems.retrieve(item.id)).price.id, pro.id);
  const inv = await latestInvoice(t.stripe, sub.id);
  assert.deepEqual(inv.lines.data.map((l) => l.description).sort(), [
    "Remaining time on 2 × Pro after 16 Jan 2027",
    "Unused time on Starter after 16 Jan 2027",
  ]);
  await assert.rejects(t.stripe.subscriptionItems.list({} as { subscription: string }), {
    statusCode: 400,
  });
});

test("subscriptionItems.create adds an item with its proration, del removes one with its credit", async () => {
  const { clock, starter, sub } = await starterOnClock();
  const addOn = await namedMonthlyPrice(t.stripe, "Support", 500);
  await advanceClock(t.stripe, clock.id, CHANGE);

  const added = await t.stripe.subscriptionItems.create({
    subscription: sub.id,
    price: addOn.id,
    quantity: 2,
    proration_behavior: "always_invoice",
  });
  assert.equal(added.price.id, addOn.id);
  assert.equal(added.quantity, 2);
  assert.equal(added.subscription, sub.id);
  const charged = await latestInvoice(t.stripe, sub.id);
  assert.deepEqual(
    charged.lines.data.map((l) => l.description),
    ["Remaining time on 2 × Support after 16 Jan 2027"],
  );
  await assert.rejects(
    t.stripe.subscriptionItems.create({ subscription: sub.id, price: addOn.id }),
    { statusCode: 400 },
  );

  const deleted = await t.stripe.subscriptionItems.del(added.id, {
    proration_behavior: "always_invoice",
  });
  assert.deepEqual(deleted, { id: added.id, object: "subscription_item", deleted: true });
  const remaining = await t.stripe.subscriptions.retrieve(sub.id);
  assert.deepEqual(
    remaining.items.data.map((i) => i.price.id),
    [starter.id],
  );
  const credited = await latestInvoice(t.stripe, sub.id);
  assert.ok(credited.total < 0, "the unused time of the removed item is credited");
});
