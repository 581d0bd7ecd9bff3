import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { inArray } from "drizzle-orm";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";

// Issue 22's repro: a session opened at Stripe (not by our route) with only `customer_email` and
// `client_reference_id`, paid on the hosted page. Its events are held and delivered in every order
// of the four that decide whose subscription and payment it is; the others follow.

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

const DECIDING = [
  "checkout.session.completed",
  "customer.subscription.created",
  "invoice.paid",
  "invoice.payment_succeeded",
];

function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items];
  return items.flatMap((item, i) =>
    permutations([...items.slice(0, i), ...items.slice(i + 1)]).map((rest) => [item, ...rest]),
  );
}

/** Opens and pays a session for the user as the repro does; answers its held events by type. */
async function paidSession(buyer: Customer, priceId: string): Promise<Map<string, string[]>> {
  const before = new Set(t.emulator.heldEvents());
  const session = await t.stripe.checkout.sessions.create({
    mode: "subscription",
    customer_email: buyer.email,
    client_reference_id: buyer.userId,
    line_items: [{ price: priceId, quantity: 1 }],
    success_url: "http://localhost:3000/billing",
  });
  await t.emulator.completeCheckoutSession(session.id);
  const byType = new Map<string, string[]>();
  for (const id of t.emulator.heldEvents().filter((e) => !before.has(e))) {
    const { type } = await t.stripe.events.retrieve(id);
    byType.set(type, [...(byType.get(type) ?? []), id]);
  }
  return byType;
}

test("the repro ends active with one payment and one receipt for every order of the Checkout events", async () => {
  const plan = await t.plan({ amount: 1900 });
  for (const order of permutations(DECIDING)) {
    const buyer = await t.signUp();
    t.emulator.holdDeliveries(true);
    let ids: string[] = [];
    try {
      const byType = await paidSession(buyer, plan.stripe_price_id);
      for (const type of DECIDING) assert.ok(byType.has(type), `${type} was sent`);
      const first = order.flatMap((type) => byType.get(type) ?? []);
      const rest = [...byType].flatMap(([type, e]) => (DECIDING.includes(type) ? [] : e));
      ids = [...first, ...rest];
      await t.emulator.deliver(ids);
      await t.settle();
    } finally {
      t.emulator.holdDeliveries(false);
    }
    await t.settle();
    const what = order.join(" → ");
    const status = await t.http("GET", "/api/subscriptions/status/", { token: buyer.token });
    assert.equal(status.body.status, "active", what);
    assert.equal(status.body.plan?.id, plan.id, what);
    const pays = await t.paymentsOf(buyer.userId);
    assert.deepEqual(
      pays.map((p) => `${p.status}:${p.amount}`),
      ["succeeded:1900"],
      what,
    );
    const receipts = (await t.emailsOf(buyer.userId)).filter(
      (m) => m.template === "billing.subscription_confirmation",
    );
    assert.equal(receipts.length, 1, what);
    const invoices = await t.http("GET", "/api/subscriptions/invoices/", { token: buyer.token });
    assert.deepEqual(
      invoices.body.results.map((i: { status: string; amount_paid: string }) => [
        i.status,
        i.amount_paid,
      ]),
      [["paid", "19.00"]],
      what,
    );
    // No event had to wait for a retry: each found its owner when it was first handled.
    const stored = await t.services.database.db
      .select({ status: stripeEvents.status, attempts: stripeEvents.attempts })
      .from(stripeEvents)
      .where(inArray(stripeEvents.id, ids));
    assert.equal(stored.length, ids.length, what);
    for (const row of stored) {
      assert.ok(["processed", "ignored"].includes(row.status), `${what}: ${row.status}`);
      assert.equal(row.attempts, 1, what);
    }
  }
});
