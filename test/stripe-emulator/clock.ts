import { setTimeout as delay } from "node:timers/promises";
import type Stripe from "stripe";

/** Unix seconds of an ISO date: the tests name the calendar days they are about. */
export function at(iso: string): number {
  return Date.parse(iso) / 1000;
}

/** A customer living on its own test clock frozen at `frozenTime`, paying with a Visa card. */
export async function clockCustomer(stripe: Stripe, frozenTime: number) {
  const clock = await stripe.testHelpers.testClocks.create({ frozen_time: frozenTime });
  const customer = await stripe.customers.create({
    email: `clock${Math.random()}@example.com`,
    test_clock: clock.id,
  });
  const pm = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
  await stripe.customers.update(customer.id, {
    invoice_settings: { default_payment_method: pm.id },
  });
  return { clock, customer };
}

/**
 * Moves a test clock and waits until it is `ready`: the emulator answers ready at once, Stripe
 * works in the background, so the wait is a bounded poll.
 */
export async function advanceClock(stripe: Stripe, clockId: string, to: number): Promise<void> {
  let clock = await stripe.testHelpers.testClocks.advance(clockId, { frozen_time: to });
  for (let i = 0; clock.status !== "ready" && i < 120; i++) {
    await delay(1000);
    clock = await stripe.testHelpers.testClocks.retrieve(clockId);
  }
  if (clock.status !== "ready") throw new Error(`test clock ${clockId} is ${clock.status}`);
}

/** A monthly price of a product called `name` (Stripe words proration lines with the name). */
export async function namedMonthlyPrice(stripe: Stripe, name: string, amount: number) {
  const product = await stripe.products.create({ name });
  return stripe.prices.create({
    product: product.id,
    unit_amount: amount,
    currency: "usd",
    recurring: { interval: "month" },
  });
}

/** The newest invoice of a subscription. */
export async function latestInvoice(stripe: Stripe, subscription: string): Promise<Stripe.Invoice> {
  const list = await stripe.invoices.list({ subscription, limit: 1 });
  const inv = list.data[0];
  if (!inv) throw new Error(`no invoice for ${subscription}`);
  return inv;
}
