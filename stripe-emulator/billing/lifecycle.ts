import type Stripe from "stripe";
import type { Ctx } from "../context.ts";
import { previousAttributes } from "../events.ts";
import { wire } from "../store.ts";
import { customerIdOf, markUncollectible, subscriptionIdOf, voidInvoice } from "./invoicing.ts";
import type { PaymentResult } from "./payments.ts";
import { settlePendingUpdate } from "./pending-update.ts";
import { SECONDS_PER_DAY } from "./periods.ts";

/** Applies `mutate` and sends `customer.subscription.updated` with what changed, if anything. */
export function changeSubscription(
  ctx: Ctx,
  sub: Stripe.Subscription,
  mutate: (s: Stripe.Subscription) => void,
): void {
  const before = wire(sub);
  mutate(sub);
  const previous = previousAttributes(before, sub);
  if (previous) {
    ctx.emit("customer.subscription.updated", sub, { previous, customerId: customerIdOf(sub) });
  }
}

export function isEnded(sub: Stripe.Subscription): boolean {
  return sub.status === "canceled" || sub.status === "incomplete_expired";
}

export function cancelSubscriptionNow(
  ctx: Ctx,
  sub: Stripe.Subscription,
  reason: Stripe.Subscription.CancellationDetails.Reason,
  details: { comment?: string; feedback?: Stripe.Subscription.CancellationDetails.Feedback } = {},
): void {
  const customerId = customerIdOf(sub);
  const now = ctx.now(customerId);
  sub.status = "canceled";
  sub.canceled_at = sub.canceled_at ?? now;
  sub.ended_at = now;
  sub.cancellation_details = {
    comment: details.comment ?? sub.cancellation_details?.comment ?? null,
    feedback: details.feedback ?? sub.cancellation_details?.feedback ?? null,
    feedback_option: null,
    reason,
  };
  // Retries stop with the subscription: its open invoices are no longer collected.
  for (const inv of Object.values(ctx.state.invoices)) {
    if (subscriptionIdOf(inv) === sub.id && inv.status === "open") inv.next_payment_attempt = null;
  }
  ctx.emit("customer.subscription.deleted", sub, { customerId });
  endScheduleWith(ctx, sub, reason);
}

/**
 * A subscription canceled under its schedule (by a request, or after failed payments) ends the
 * schedule: `subscription_schedule.canceled`, or `.aborted` when delinquency canceled it. A
 * schedule that cancels its own subscription has already left `active` and is not touched.
 */
function endScheduleWith(
  ctx: Ctx,
  sub: Stripe.Subscription,
  reason: Stripe.Subscription.CancellationDetails.Reason,
): void {
  const id = typeof sub.schedule === "string" ? sub.schedule : sub.schedule?.id;
  const sched = id ? ctx.state.subscriptionSchedules[id] : undefined;
  if (sched?.status !== "active") return;
  sched.status = "canceled";
  sched.canceled_at = sub.ended_at;
  sched.current_phase = null;
  const type = reason === "payment_failed" ? "aborted" : "canceled";
  ctx.emit(`subscription_schedule.${type}`, sched, { customerId: customerIdOf(sub) });
}

export type InvoicePhase = "first" | "renewal";

export function phaseOf(inv: Stripe.Invoice): InvoicePhase {
  return inv.billing_reason === "subscription_create" ? "first" : "renewal";
}

/**
 * How a payment result moves the subscription: a first invoice decides between `active` and
 * `incomplete`; a renewal failure makes it `past_due` and schedules the retries Stripe makes.
 */
export function afterPayment(
  ctx: Ctx,
  inv: Stripe.Invoice,
  result: PaymentResult,
  opts: { silent?: boolean } = {},
): void {
  const subId = subscriptionIdOf(inv);
  const sub = subId ? ctx.state.subscriptions[subId] : undefined;
  if (!sub || isEnded(sub)) return;
  if (settlePendingUpdate(ctx, sub, inv, result, changeSubscription)) return;
  const apply = opts.silent
    ? (m: (s: Stripe.Subscription) => void) => m(sub)
    : (m: (s: Stripe.Subscription) => void) => changeSubscription(ctx, sub, m);
  if (result.kind === "paid") {
    apply((s) => {
      if (s.status !== "trialing") s.status = "active";
      const save = s.payment_settings?.save_default_payment_method === "on_subscription";
      if (save && result.paymentMethod && phaseOf(inv) === "first") {
        s.default_payment_method = result.paymentMethod;
      }
    });
    return;
  }
  if (phaseOf(inv) === "first") return;
  apply((s) => {
    if (s.status === "active" || s.status === "trialing") s.status = "past_due";
  });
  if (result.kind !== "requires_action") scheduleRetry(ctx, inv, sub);
}

/** Renewal retries on the configured days after the first failure; then the final action. */
function scheduleRetry(ctx: Ctx, inv: Stripe.Invoice, sub: Stripe.Subscription): void {
  const internal = ctx.state.invoiceInternal[inv.id];
  if (!internal) return;
  const now = ctx.now(customerIdOf(inv));
  internal.firstFailedAt = internal.firstFailedAt ?? now;
  const nextDay = ctx.config.retryDays[internal.retriesDone];
  if (nextDay !== undefined) {
    inv.next_payment_attempt = internal.firstFailedAt + nextDay * SECONDS_PER_DAY;
    return;
  }
  inv.next_payment_attempt = null;
  const policy = ctx.config.afterFinalFailure;
  if (policy === "cancel") {
    markUncollectible(ctx, inv, "max_payment_attempts");
    cancelSubscriptionNow(ctx, sub, "payment_failed");
  } else if (policy === "unpaid") {
    changeSubscription(ctx, sub, (s) => {
      s.status = "unpaid";
    });
  }
}

/** First invoice unpaid after 23 hours: the subscription expires and its invoice is voided. */
export function expireIncomplete(ctx: Ctx, sub: Stripe.Subscription): void {
  const invId = typeof sub.latest_invoice === "string" ? sub.latest_invoice : null;
  const inv = invId ? ctx.state.invoices[invId] : undefined;
  if (inv && inv.status === "open") voidInvoice(ctx, inv);
  changeSubscription(ctx, sub, (s) => {
    s.status = "incomplete_expired";
    s.ended_at = ctx.now(customerIdOf(s));
  });
}
