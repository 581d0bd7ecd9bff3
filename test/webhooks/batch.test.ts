import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq, inArray } from "drizzle-orm";
import type Stripe from "stripe";
import { setStripeCustomerId } from "../../src/accounts/accounts-service.ts";
import { handleStripeEvents } from "../../src/billing/index.ts";
import type { Services } from "../../src/platform/feature.ts";
import { processStoredEvents as processWith } from "../../src/webhooks/webhook-ledger.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";

/** The worker's path: the webhook ledger running billing's event handler. */
const processStoredEvents = (services: Services, events: { eventId: string; final: boolean }[]) =>
  processWith(
    { db: services.database.db },
    (batch, at) => handleStripeEvents(services, batch, at),
    events,
  );

// Stripe reads of each subscription, by id.
const reads = new Map<string, number>();
const countReads: Stage = async (ex, next) => {
  const read = /^\/v1\/subscriptions\/(sub_[^/]+)$/.exec(ex.path);
  if (ex.method === "GET" && read?.[1]) reads.set(read[1], (reads.get(read[1]) ?? 0) + 1);
  return next();
};

// No worker: the emulator's webhooks are stored and stay pending until the test processes them.
let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ worker: false, stages: [countReads] });
});
after(() => t?.close());

const customerOf = (event: Stripe.Event) =>
  (event.data.object as { customer?: string | null }).customer ?? null;

async function storedEvents() {
  const rows = await t.services.database.db.select().from(stripeEvents);
  return rows.map((row) => ({ ...row, event: row.payload as Stripe.Event }));
}

describe("a batch of stored events", () => {
  test("reads each subscription once, writes the batch, and fails only the events it cannot handle yet", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 900 });
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    // Canceled at period end: a second event about the same subscription, and an email.
    const cancel = await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token });
    assert.equal(cancel.status, 200);
    // A customer made in Stripe's dashboard, subscribed there: not linked to any user yet.
    const stranger = await t.signUp();
    const customer = await t.stripe.customers.create({ email: stranger.email });
    const pm = await t.stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await t.stripe.customers.update(customer.id, {
      invoice_settings: { default_payment_method: pm.id },
    });
    const unlinked = await t.stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: plan.stripe_price_id }],
    });
    await t.emulator.idle();

    const stored = await storedEvents();
    const [buyerSub] = await t.subscriptionsOf(buyer.userId);
    assert.ok(buyerSub);
    const aboutBuyerSub = stored.filter(
      (s) =>
        s.type.startsWith("customer.subscription.") &&
        (s.event.data.object as { id?: string }).id === buyerSub.stripeSubscriptionId,
    );
    assert.ok(
      aboutBuyerSub.length >= 2,
      "the buyer's subscription has several events to share a read",
    );
    assert.ok(stored.every((s) => s.status === "pending"));

    // The subscription events first: each subscription is read once in the batch, and the
    // unlinked one once more when its event is retried on its own.
    const deps = t.services;
    const subscriptionEvents = stored.filter((s) => s.type.startsWith("customer.subscription."));
    const rest = stored.filter((s) => !s.type.startsWith("customer.subscription."));
    reads.clear();
    const first = await processStoredEvents(
      deps,
      subscriptionEvents.map((s) => ({ eventId: s.id, final: false })),
    );
    assert.equal(reads.get(buyerSub.stripeSubscriptionId), 1);
    assert.equal(reads.get(unlinked.id), 2);
    // Then the rest (invoices and the like), one batch.
    const second = await processStoredEvents(
      deps,
      rest.map((s) => ({ eventId: s.id, final: false })),
    );
    const errors = [...first, ...second];
    const after = new Map((await storedEvents()).map((s) => [s.id, s]));
    [...subscriptionEvents, ...rest].forEach((s, i) => {
      const row = after.get(s.id);
      const strangers = customerOf(s.event) === customer.id;
      assert.equal(row?.attempts, 1, `${s.type}: one attempt counted`);
      if (strangers && row?.status !== "ignored") {
        assert.ok(errors[i], `${s.type} of the unlinked customer fails`);
        assert.equal(row?.status, "retrying");
      } else {
        assert.equal(errors[i], undefined, `${s.type}: ${errors[i]?.message}`);
        assert.ok(
          row?.status === "processed" || row?.status === "ignored",
          `${s.type}: ${row?.status}`,
        );
      }
    });
    assert.ok(
      errors.some((e) => e !== undefined),
      "the unlinked customer's events failed",
    );
    const [buyerRow] = await t.subscriptionsOf(buyer.userId);
    assert.equal(buyerRow?.status, "active");
    assert.equal(buyerRow?.cancelAtPeriodEnd, true);
    // The API response and the webhook show the same cancellation: one email.
    assert.equal(
      (await t.emailsOf(buyer.userId)).filter((m) => m.template === "billing.cancellation").length,
      1,
    );
    assert.deepEqual(
      (await t.paymentsOf(buyer.userId)).map((p) => `${p.status}:${p.amount}`),
      ["succeeded:900"],
    );

    // Once the customer is linked, the retried events go through.
    await setStripeCustomerId(t.services.database.db, stranger.userId, customer.id);
    const retrying = [...after.values()].filter((s) => s.status === "retrying");
    const again = await processStoredEvents(
      deps,
      retrying.map((s) => ({ eventId: s.id, final: true })),
    );
    assert.deepEqual(
      again,
      retrying.map(() => undefined),
    );
    const rows = await t.subscriptionsOf(stranger.userId);
    assert.deepEqual(
      rows.map((r) => `${r.stripeSubscriptionId}:${r.status}`),
      [`${unlinked.id}:active`],
    );
    assert.deepEqual(
      (await t.paymentsOf(stranger.userId)).map((p) => `${p.status}:${p.amount}`),
      ["succeeded:900"],
    );
    const open = await t.services.database.db
      .select({ id: stripeEvents.id })
      .from(stripeEvents)
      .where(inArray(stripeEvents.status, ["pending", "retrying", "failed"]));
    assert.deepEqual(open, []);

    // A batch of finished events changes nothing but their attempt counts.
    const buyerEvent = aboutBuyerSub[0];
    assert.ok(buyerEvent);
    reads.clear();
    assert.deepEqual(await processStoredEvents(deps, [{ eventId: buyerEvent.id, final: true }]), [
      undefined,
    ]);
    assert.equal(reads.size, 0);
    const [replayed] = await t.services.database.db
      .select()
      .from(stripeEvents)
      .where(eq(stripeEvents.id, buyerEvent.id));
    assert.equal(replayed?.attempts, 2);
  });
});
