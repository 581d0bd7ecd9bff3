import type Stripe from "stripe";
import { buildInvoice, type LineSeed } from "../builders/invoice.ts";
import { subscriptionAt } from "../builders/schedule.ts";
import type { Ctx } from "../context.ts";
import { previewBalance } from "./balance.ts";
import { lineSeeds } from "./create-subscription.ts";
import { discountInvoice } from "./discounts.ts";
import { pendingItemSeeds } from "./invoice-items.ts";
import { createSubscriptionInvoice, customerIdOf } from "./invoicing.ts";
import { changeSubscription } from "./lifecycle.ts";
import { nextPeriodEnd } from "./periods.ts";
import { endTrialWithoutPaymentMethod } from "./trial-end.ts";

/** Stripe finalizes and charges a renewal invoice about an hour after creating it. */
export const FINALIZE_DELAY_SECONDS = 3600;

/** Proration lines waiting for the next invoice (`proration_behavior=create_prorations`). */
export function pendingProrations(ctx: Ctx, subId: string): LineSeed[] {
  return ctx.state.pendingLines[subId] ?? [];
}

/** What a renewal bills besides the new period: pending prorations, then pending invoice items. */
function pendingLinesOf(ctx: Ctx, sub: Stripe.Subscription): LineSeed[] {
  return [...pendingProrations(ctx, sub.id), ...pendingItemSeeds(ctx, sub)];
}

/**
 * The period end: items roll to their next period, a trial ends, and the renewal invoice is
 * created as a draft to be finalized and charged an hour later.
 */
export function renewSubscription(ctx: Ctx, sub: Stripe.Subscription): void {
  if (endTrialWithoutPaymentMethod(ctx, sub)) return;
  const wasTrial = sub.status === "trialing";
  // The invoice looks back on the period that just ended; its lines bill the one beginning.
  const ended = {
    start: Math.min(...sub.items.data.map((i) => i.current_period_start)),
    end: Math.min(...sub.items.data.map((i) => i.current_period_end)),
  };
  changeSubscription(ctx, sub, (s) => {
    for (const item of s.items.data) {
      const start = item.current_period_end;
      const recurring = item.price.recurring;
      if (!recurring) continue;
      item.current_period_start = start;
      item.current_period_end = nextPeriodEnd(s.billing_cycle_anchor, start, recurring);
    }
    if (wasTrial) s.status = "active";
  });
  const lines = [...pendingLinesOf(ctx, sub), ...lineSeeds(ctx, sub, false)];
  delete ctx.state.pendingLines[sub.id];
  const now = ctx.now(customerIdOf(sub));
  // Stripe keeps billing an unpaid subscription, but leaves its invoices as drafts.
  const finalizeAt = sub.status === "unpaid" ? null : now + FINALIZE_DELAY_SECONDS;
  const inv = createSubscriptionInvoice(ctx, sub, "subscription_cycle", lines, finalizeAt, ended);
  inv.auto_advance = finalizeAt !== null;
  inv.automatically_finalizes_at = finalizeAt;
  changeSubscription(ctx, sub, (s) => {
    s.latest_invoice = inv.id;
  });
}

/**
 * The next renewal's invoice as it stands (`invoice.upcoming`, `invoices.createPreview`): pending
 * prorations and invoice items, `extra` lines a previewed change would add, then each item's next
 * period. It is not stored and has no usable id; the caller names it. Its period looks back on
 * the current one, and it would be charged when the renewal draft is finalized.
 */
export function upcomingInvoice(
  ctx: Ctx,
  sub: Stripe.Subscription,
  extra: LineSeed[] = [],
): Stripe.Invoice {
  const customer = ctx.state.customers[customerIdOf(sub)];
  if (!customer) throw new Error(`subscription ${sub.id} has no customer`);
  const start = Math.min(...sub.items.data.map((i) => i.current_period_start));
  const end = Math.min(...sub.items.data.map((i) => i.current_period_end));
  // A schedule whose next phase starts at the period end sets what the renewal bills.
  const next = lineSeeds(ctx, subscriptionAt(ctx.state, sub, end), false).map((line) => {
    const recurring = line.price.recurring;
    const until = recurring
      ? nextPeriodEnd(sub.billing_cycle_anchor, line.period.end, recurring)
      : end;
    return { ...line, period: { start: line.period.end, end: until } };
  });
  const invoice = buildInvoice(
    {
      customer,
      subscription: sub,
      billingReason: "upcoming",
      created: ctx.now(customer.id),
      period: { start, end },
    },
    [...pendingLinesOf(ctx, sub), ...extra, ...next],
  );
  discountInvoice(ctx, sub, invoice, { at: end });
  previewBalance(invoice, customer.balance);
  invoice.next_payment_attempt = end + FINALIZE_DELAY_SECONDS;
  invoice.automatically_finalizes_at = end + FINALIZE_DELAY_SECONDS;
  return invoice;
}
