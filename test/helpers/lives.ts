import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import type Stripe from "stripe";
import { register, setStripeCustomerId } from "../../src/accounts/accounts-service.ts";
import { createPlan } from "../../src/billing/plans-service.ts";
import type { Services } from "../../src/platform/feature.ts";
import type { StripeEmulator } from "../../stripe-emulator/index.ts";
import { DAY, latestPaymentIntent } from "./billing.ts";

/**
 * Billing lives for tests that replay Stripe's events: users with a linked Stripe customer, five
 * to a test clock (so nothing moves unless the test moves it), months of their subscriptions, and
 * the events Stripe produced, captured as it would have sent them.
 */

export interface Member {
  userId: string;
  customerId: string;
}

export interface Cohort {
  clock: string;
  start: number;
  members: Member[];
}

/**
 * Two monthly plans (Lives, 12.00; Lives Plus, 24.00 a seat) and `count` cohorts of five
 * registered users, each linked to a customer.
 */
export async function startCohorts(s: Services, stripe: Stripe, count: number) {
  const product = await stripe.products.create({ name: "Lives plan" });
  const price = await stripe.prices.create({
    product: product.id,
    unit_amount: 1200,
    currency: "usd",
    recurring: { interval: "month" },
  });
  await createPlan(s.database.db, stripe, { name: "Lives", priceId: price.id, features: [] });
  const plus = await stripe.prices.create({
    product: (await stripe.products.create({ name: "Lives Plus" })).id,
    unit_amount: 2400,
    currency: "usd",
    recurring: { interval: "month" },
  });
  await createPlan(s.database.db, stripe, {
    name: "Lives Plus",
    priceId: plus.id,
    features: [],
    settings: { perSeat: true, minQuantity: 1, maxQuantity: 10 },
  });
  const cohorts: Cohort[] = [];
  for (let c = 0; c < count; c++) {
    const start = Math.floor(Date.now() / 1000);
    const clock = await stripe.testHelpers.testClocks.create({ frozen_time: start });
    const members: Member[] = [];
    for (let i = 0; i < 5; i++) {
      const name = `life_${randomBytes(5).toString("hex")}`;
      const password = "correct-Horse-battery-9";
      const { user } = await register(
        { ...s, db: s.database.db },
        { email: `${name}@example.test`, username: name, password, password_confirm: password },
      );
      const customer = await stripe.customers.create({
        email: user.email,
        test_clock: clock.id,
        metadata: { user_id: user.id },
      });
      await setStripeCustomerId(s.database.db, user.id, customer.id);
      members.push({ userId: user.id, customerId: customer.id });
    }
    cohorts.push({ clock: clock.id, start, members });
  }
  return { price: price.id, plus: plus.id, cohorts };
}

/**
 * One cohort's 100 days: member 0 upgrades to Plus at once (the proration charged), then cancels
 * at period end; 1's renewal card fails until Stripe gives up; 2 starts with a trial, then
 * schedules a move to 2 seats of Plus at its period end (a subscription schedule, as
 * `POST change/` makes it); 3 gets a partial refund, then is canceled at once; 4 schedules a
 * cancellation, then takes it back.
 */
export async function live(
  stripe: Stripe,
  prices: { price: string; plus: string },
  cohort: Cohort,
): Promise<void> {
  const { price, plus } = prices;
  const subs: string[] = [];
  for (const [i, m] of cohort.members.entries()) {
    const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: m.customerId });
    await stripe.customers.update(m.customerId, {
      invoice_settings: { default_payment_method: pm.id },
    });
    const sub = await stripe.subscriptions.create({
      customer: m.customerId,
      items: [{ price }],
      metadata: { user_id: m.userId },
      ...(i === 2 ? { trial_period_days: 14 } : {}),
    });
    subs.push(sub.id);
  }
  const sub = (i: number) => subs[i] ?? "";
  const customer = (i: number) => cohort.members[i]?.customerId ?? "";
  const itemOf = async (i: number) =>
    (await stripe.subscriptions.retrieve(sub(i))).items.data[0]?.id ?? "";
  const on: Record<number, () => Promise<unknown>> = {
    5: async () => {
      const pm = await stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
        customer: customer(1),
      });
      await stripe.customers.update(customer(1), {
        invoice_settings: { default_payment_method: pm.id },
      });
      const paid = await latestPaymentIntent(stripe, sub(3));
      await stripe.refunds.create({ payment_intent: paid, amount: 500 });
    },
    10: async () =>
      stripe.subscriptions.update(sub(0), {
        items: [{ id: await itemOf(0), price: plus }],
        proration_behavior: "always_invoice",
        payment_behavior: "pending_if_incomplete",
      }),
    20: async () => {
      const schedule = await stripe.subscriptionSchedules.create({ from_subscription: sub(2) });
      const current = schedule.phases[0];
      await stripe.subscriptionSchedules.update(schedule.id, {
        end_behavior: "release",
        phases: [
          {
            items: [{ price, quantity: 1 }],
            start_date: current?.start_date ?? "now",
            end_date: current?.end_date ?? "now",
          },
          { items: [{ price: plus, quantity: 2 }], proration_behavior: "none" },
        ],
      });
    },
    40: async () => {
      await stripe.subscriptions.update(sub(0), { cancel_at_period_end: true });
      await stripe.subscriptions.update(sub(4), { cancel_at_period_end: true });
    },
    50: () => stripe.subscriptions.update(sub(4), { cancel_at_period_end: false }),
    70: () => stripe.subscriptions.cancel(sub(3)),
  };
  for (let day = 5; day <= 100; day += 5) {
    const frozen_time = cohort.start + day * DAY;
    await stripe.testHelpers.testClocks.advance(cohort.clock, { frozen_time });
    await on[day]?.();
  }
}

export interface Captured {
  id: string;
  /** The event as Stripe's wire JSON: the exact bytes a delivery signs. */
  payload: string;
}

/** Every event the emulator held back (no endpoint was told), in creation order. */
export async function captureEvents(emulator: StripeEmulator, key: string): Promise<Captured[]> {
  return pool(emulator.heldEvents(), 16, async (id) => {
    const res = await fetch(`${emulator.url}/v1/events/${id}`, {
      headers: { authorization: `Bearer ${key}` },
    });
    assert.equal(res.status, 200);
    return { id, payload: await res.text() };
  });
}

/** Runs `fn` over `items` with at most `n` in flight; results in input order. */
export async function pool<T, R>(items: T[], n: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: n }, lane));
  return out;
}

/** A fixed shuffle, so a failure can be reproduced. */
export function shuffle<T>(items: T[], seed = 7): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
