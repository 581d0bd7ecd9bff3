import type Stripe from "stripe";
import { clockCustomer } from "../clock.ts";
import { monthlyPrice, type SubscribedOptions } from "../helpers.ts";

/**
 * `subscribed()` on a test clock frozen at `frozenTime` (default: now): the way a lifecycle test
 * moves time on both targets, since Stripe's test mode has no global clock to advance.
 */
export async function clockSubscribed(
  stripe: Stripe,
  options: Omit<SubscribedOptions, "card"> & { frozenTime?: number } = {},
) {
  const frozenTime = options.frozenTime ?? Math.floor(Date.now() / 1000);
  const { clock, customer } = await clockCustomer(stripe, frozenTime);
  const price = await monthlyPrice(stripe, options.amount, options.currency);
  const sub = await stripe.subscriptions.create({
    ...options.params,
    customer: customer.id,
    items: [{ price: price.id }],
  });
  return { clock, customer, price, sub, frozenTime };
}
