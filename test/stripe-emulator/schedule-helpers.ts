import assert from "node:assert/strict";
import Stripe from "stripe";
import { namedMonthlyPrice } from "./clock.ts";
import { clockSubscribed } from "./contract/clock-subscribed.ts";

/** What the schedule contract tests (schedules*.test.ts) share. */

export const types = (events: Stripe.Event[]): string[] => events.map((e) => e.type);
export const has = (type: string) => (events: Stripe.Event[]) => types(events).includes(type);

export async function refusal(call: Promise<unknown>): Promise<Stripe.errors.StripeError> {
  const err = await call.then(
    () => assert.fail("Stripe accepted it"),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Stripe.errors.StripeError, String(err));
  return err;
}

export async function balanceOf(stripe: Stripe, customerId: string): Promise<number> {
  const customer = await stripe.customers.retrieve(customerId);
  assert.ok(!customer.deleted);
  return customer.balance;
}

/** A Pro subscriber (20.00 a month) on a test clock, and a cheaper Starter price (10.00). */
export async function proSubscriber(stripe: Stripe) {
  const subscribed = await clockSubscribed(stripe, { amount: 2000 });
  const starter = await namedMonthlyPrice(stripe, "Starter", 1000);
  const periodEnd = subscribed.sub.items.data[0]?.current_period_end ?? 0;
  return { ...subscribed, starter, periodEnd };
}

/**
 * The plan-change flow: a schedule made from the subscription, then two phases, the current
 * items until the period end and the new price after it.
 */
export async function scheduleDowngrade(
  stripe: Stripe,
  sub: Stripe.Subscription,
  newPrice: string,
) {
  const sched = await stripe.subscriptionSchedules.create({ from_subscription: sub.id });
  const current = sched.phases[0];
  assert.ok(current);
  return stripe.subscriptionSchedules.update(sched.id, {
    proration_behavior: "none",
    phases: [
      {
        items: current.items.map((i) => ({ price: String(i.price), quantity: i.quantity })),
        start_date: current.start_date,
        end_date: current.end_date,
      },
      { items: [{ price: newPrice, quantity: 1 }], duration: { interval: "month" } },
    ],
  });
}
