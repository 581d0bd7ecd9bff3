import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  type BillingTestApp,
  type Customer,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

/** What a user's billing looks like, without ids and times that differ between two users. */
async function picture(buyer: Customer) {
  const subs = await t.subscriptionsOf(buyer.userId);
  const pays = await t.paymentsOf(buyer.userId);
  const mails = await t.emailsOf(buyer.userId);
  const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
  return {
    status: status.body.status,
    subscriptions: subs.map((s) => ({ status: s.status, ended: s.endedAt !== null })),
    payments: pays.map((p) => `${p.status}:${p.amount}:${p.currency}:${p.attempt}`),
    emails: mails.map((m) => m.template).filter((n) => n.startsWith("billing.")),
  };
}

/** The held events of one subscription's creation, in the order Stripe created them. */
async function creationEvents(
  buyer: Customer,
  planId: string,
  card: string,
): Promise<{ ids: string[]; types: string[]; subscription: string }> {
  const before = new Set(t.emulator.heldEvents());
  const res = await t.subscribe(buyer, planId, card);
  assert.equal(res.status, 201);
  const subscription: string = res.body.subscription.stripe_subscription_id;
  if (card === "pm_card_authenticationRequired") {
    await t.emulator.confirmPaymentIntent(await latestPaymentIntent(t.stripe, subscription));
  }
  const ids = t.emulator.heldEvents().filter((id) => !before.has(id));
  const types = await Promise.all(ids.map(async (id) => (await t.stripe.events.retrieve(id)).type));
  return { ids, types, subscription };
}

/** The same events with `customer.subscription.created` moved after every `invoice.paid`. */
function createdLast(ids: string[], types: string[]): string[] {
  const created = ids.filter((_, i) => types[i] === "customer.subscription.created");
  return [...ids.filter((id) => !created.includes(id)), ...created];
}

describe("customer.subscription.created and invoice.paid in either order", () => {
  for (const card of ["pm_card_visa", "pm_card_authenticationRequired"]) {
    test(`with ${card}, either order of the creation's events leaves the same state`, async () => {
      const plan = await t.plan({ amount: 1500 });
      const first = await t.signUp();
      const second = await t.signUp();
      t.emulator.holdDeliveries(true);
      try {
        const a = await creationEvents(first, plan.id, card);
        const b = await creationEvents(second, plan.id, card);
        // Stripe's usual order: the subscription is announced before its first invoice is paid.
        const created = a.types.indexOf("customer.subscription.created");
        assert.ok(created >= 0 && created < a.types.indexOf("invoice.paid"), a.types.join());
        await t.emulator.deliver(a.ids);
        await t.settle();
        const reordered = createdLast(b.ids, b.types);
        assert.notDeepEqual(reordered, b.ids);
        await t.emulator.deliver(reordered);
        await t.settle();
      } finally {
        t.emulator.holdDeliveries(false);
      }
      await t.settle();
      const inOrder = await picture(first);
      assert.deepEqual(await picture(second), inOrder);
      assert.equal(inOrder.status, "active");
      assert.deepEqual(inOrder.subscriptions, [{ status: "active", ended: false }]);
      assert.equal(inOrder.payments.length, 1);
      assert.match(inOrder.payments[0] ?? "", /^succeeded:/);
    });
  }
});
