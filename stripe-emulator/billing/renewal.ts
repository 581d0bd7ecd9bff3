import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { lineSeeds } from "./create-subscription.ts";
import { createSubscriptionInvoice, customerIdOf } from "./invoicing.ts";
import { changeSubscription } from "./lifecycle.ts";
import { nextPeriodEnd } from "./periods.ts";

/** Stripe finalizes and charges a renewal invoice about an hour after creating it. */
export const FINALIZE_DELAY_SECONDS = 3600;

/** Proration lines waiting for the next invoice (`proration_behavior=create_prorations`). */
export function pendingProrations(ctx: Ctx, subId: string): LineSeed[] {
  return ctx.state.pendingLines[subId] ?? [];
}

/**
 * The period end: items roll to their next period, a trial ends, and the renewal invoice is
 * created as a draft to be finalized and charged an hour later.
 */
export function renewSubscription(ctx: Ctx, sub: Stripe.Subscription): void {
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
  const lines = [...pendingProrations(ctx, sub.id), ...lineSeeds(sub, false)];
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
