import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { eq } from "drizzle-orm";
import type Stripe from "stripe";
import { register, setStripeCustomerId } from "../../src/accounts/accounts-service.ts";
import { users } from "../../src/accounts/accounts-tables.ts";
import { payments, plans, subscriptions } from "../../src/billing/billing-tables.ts";
import { invoices } from "../../src/billing/hosted-tables.ts";
import { handleStripeEvents, receiveStripeEvent } from "../../src/billing/index.ts";
import { createPlan } from "../../src/billing/plans-service.ts";
import type { Db } from "../../src/platform/db/client.ts";
import type { Services } from "../../src/platform/feature.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { openServices } from "../../src/services.ts";
import { processStoredEvent } from "../../src/webhooks/webhook-ledger.ts";
import { EventStore } from "../../src/webhooks/webhook-service.ts";
import { type StripeEmulator, signPayload } from "../../stripe-emulator/index.ts";
import { testConfig } from "./app.ts";
import { DAY, latestPaymentIntent } from "./billing.ts";
import { createTestDatabase } from "./database.ts";
import { type Captured, captureEvents } from "./lives.ts";

// Two databases beside one emulator, for reconciliation tests: the same users and plans in each;
// billing lives whose deliveries the emulator holds; the events delivered in order to one side
// (what webhooks would have produced) while the other is left to reconciliation.

export const SECRET = "whsec_reconcile_tests_0123456789abcdef0123456789";

export interface Side {
  services: Services;
  db: Db;
  close(): Promise<void>;
}

export async function openSide(stripe: Stripe, emulator: StripeEmulator): Promise<Side> {
  const testDatabase = await createTestDatabase();
  const config = await testConfig();
  const services = await openServices(config, createLogger(config), {
    database: testDatabase.database,
    stripe: { stripe, webhookSecret: SECRET, emulator },
  });
  return {
    services,
    db: testDatabase.database.db,
    async close() {
      await services.close();
      await testDatabase.drop();
    },
  };
}

/** A monthly plan, registered in both databases under the same id. */
export async function twinPlan(stripe: Stripe, a: Side, b: Side): Promise<string> {
  const product = await stripe.products.create({
    name: `Reconciled ${randomBytes(3).toString("hex")}`,
  });
  const price = await stripe.prices.create({
    product: product.id,
    unit_amount: 1500,
    currency: "usd",
    recurring: { interval: "month" },
  });
  const plan = await createPlan(a.db, stripe, {
    name: product.name,
    priceId: price.id,
    features: [],
  });
  await b.db.insert(plans).values(await a.db.select().from(plans).where(eq(plans.id, plan.id)));
  return price.id;
}

/** A user, the same row in both databases; linked to a new Stripe customer unless `linked` is false. */
export async function twinUser(stripe: Stripe, a: Side, b: Side, linked = true) {
  const name = `rec_${randomBytes(5).toString("hex")}`;
  const password = "correct-Horse-battery-9";
  const { user } = await register(
    { ...a.services, db: a.db },
    { email: `${name}@example.test`, username: name, password, password_confirm: password },
  );
  let customerId = "";
  if (linked) {
    const customer = await stripe.customers.create({
      email: user.email,
      metadata: { user_id: user.id },
    });
    await setStripeCustomerId(a.db, user.id, customer.id);
    customerId = customer.id;
  }
  await b.db.insert(users).values(await a.db.select().from(users).where(eq(users.id, user.id)));
  return { userId: user.id, customerId, email: user.email };
}

async function useCard(stripe: Stripe, customer: string, card: string): Promise<void> {
  const pm = await stripe.paymentMethods.attach(card, { customer });
  await stripe.customers.update(customer, { invoice_settings: { default_payment_method: pm.id } });
}

/**
 * A whole billing life on the emulator's clock: subscribe, renew, a renewal that fails twice, a
 * new card that recovers it at Stripe's next retry, a partial refund of the first payment, then a
 * cancellation. Answers the subscription's id.
 */
export async function billingLife(
  emulator: StripeEmulator,
  stripe: Stripe,
  price: string,
  who: { userId: string; customerId: string },
): Promise<string> {
  const customer = who.customerId;
  await useCard(stripe, customer, "pm_card_visa");
  const sub = await stripe.subscriptions.create({
    customer,
    items: [{ price }],
    metadata: { user_id: who.userId },
  });
  const firstPayment = await latestPaymentIntent(stripe, sub.id);
  // Stripe charges a renewal's invoice about an hour after it is created, at the period's end.
  await emulator.advanceTime(31 * DAY + 2 * 3600);
  await useCard(stripe, customer, "pm_card_chargeCustomerFail");
  await emulator.advanceTime(31 * DAY);
  await emulator.advanceTime(3 * DAY + 3600);
  const pastDue = await stripe.subscriptions.retrieve(sub.id);
  assert.equal(pastDue.status, "past_due");
  await useCard(stripe, customer, "pm_card_visa");
  await emulator.advanceTime(5 * DAY + 3600);
  const recovered = await stripe.subscriptions.retrieve(sub.id);
  assert.equal(recovered.status, "active");
  await stripe.refunds.create({ payment_intent: firstPayment, amount: 500 });
  await stripe.subscriptions.cancel(sub.id);
  return sub.id;
}

/** The events held since the last call, as Stripe sent them, then dropped undelivered. */
export async function takeHeld(emulator: StripeEmulator, key: string): Promise<Captured[]> {
  const captured = await captureEvents(emulator, key);
  emulator.discardHeld();
  assert.deepEqual(emulator.heldEvents(), []);
  return captured;
}

/** Webhook delivery, once each, in creation order, each processed before the next arrives. */
export async function deliverInOrder(side: Side, events: Captured[]): Promise<void> {
  const intake = {
    store: new EventStore({ db: side.db, jobs: side.services.jobs }),
    stripe: side.services.stripe.stripe,
    webhookSecret: SECRET,
  };
  const handle: Parameters<typeof processStoredEvent>[1] = (stored, batch) =>
    handleStripeEvents(side.services, stored, batch);
  for (const { id, payload } of events) {
    const signature = signPayload(payload, SECRET, Math.floor(Date.now() / 1000));
    await receiveStripeEvent(intake, Buffer.from(payload), signature);
    const outcome = await processStoredEvent({ db: side.db }, handle, id, true);
    assert.ok(outcome === "processed" || outcome === "ignored", `${id}: ${outcome}`);
  }
}

/** Subscriptions, payments and invoices rows, without our own ids and write times, sorted. */
export async function billingState(db: Db): Promise<Record<string, string[]>> {
  const subs = await db.select().from(subscriptions);
  const stripeIdOf = new Map(subs.map((s) => [s.id, s.stripeSubscriptionId]));
  const state: Record<string, string[]> = { subscriptions: [], payments: [], invoices: [] };
  for (const { id, createdAt, updatedAt, stripeSyncedAt, seq, ...row } of subs) {
    state.subscriptions?.push(JSON.stringify(row));
  }
  for (const { id, createdAt, subscriptionId, ...row } of await db.select().from(payments)) {
    state.payments?.push(
      JSON.stringify({ ...row, subscription: stripeIdOf.get(subscriptionId ?? "") }),
    );
  }
  for (const { id, createdAt, updatedAt, stripeSyncedAt, ...row } of await db
    .select()
    .from(invoices)) {
    state.invoices?.push(JSON.stringify(row));
  }
  for (const rows of Object.values(state)) rows.sort();
  return state;
}
