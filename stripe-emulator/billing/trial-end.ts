import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { invalidRequest } from "../errors.ts";
import { customerIdOf } from "./invoicing.ts";
import { cancelSubscriptionNow, changeSubscription } from "./lifecycle.ts";
import { cycleLines, restartCycle } from "./plan-change.ts";
import { invoiceNow } from "./update-subscription.ts";

function hasPaymentMethod(ctx: Ctx, sub: Stripe.Subscription): boolean {
  if (sub.default_payment_method) return true;
  const customer = ctx.state.customers[customerIdOf(sub)];
  return Boolean(customer?.invoice_settings.default_payment_method || customer?.default_source);
}

/**
 * A trial ending with no payment method on the subscription or its customer does what
 * `trial_settings.end_behavior.missing_payment_method` says: `cancel` ends the subscription,
 * `pause` sets it `paused` (`customer.subscription.paused`) until `subscriptions.resume`, and
 * `create_invoice` (the default) bills the renewal, which then fails and goes `past_due`.
 * Answers whether the trial end was handled here (no renewal follows).
 */
export function endTrialWithoutPaymentMethod(ctx: Ctx, sub: Stripe.Subscription): boolean {
  if (sub.status !== "trialing" || hasPaymentMethod(ctx, sub)) return false;
  const behavior = sub.trial_settings?.end_behavior.missing_payment_method ?? "create_invoice";
  if (behavior === "cancel") {
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
    return true;
  }
  if (behavior !== "pause") return false;
  changeSubscription(ctx, sub, (s) => {
    s.status = "paused";
  });
  ctx.emit("customer.subscription.paused", sub, { customerId: customerIdOf(sub) });
  return true;
}

/**
 * `POST /v1/subscriptions/{id}/resume`: a paused subscription starts a new cycle now and is
 * invoiced for it at once (`customer.subscription.resumed`); an unpaid invoice leaves it
 * `past_due` as a failed renewal does.
 */
export function resumeSubscription(ctx: Ctx, sub: Stripe.Subscription): void {
  if (sub.status !== "paused") {
    throw invalidRequest(`Only a paused subscription can be resumed; this one is ${sub.status}.`);
  }
  const now = ctx.now(customerIdOf(sub));
  changeSubscription(ctx, sub, (s) => {
    s.status = "active";
    restartCycle(s, now);
  });
  ctx.emit("customer.subscription.resumed", sub, { customerId: customerIdOf(sub) });
  invoiceNow(ctx, sub, cycleLines(sub));
}
