import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { recordProrationItems } from "./invoice-items.ts";
import { customerIdOf } from "./invoicing.ts";
import { changeSubscription } from "./lifecycle.ts";
import { cycleLines, prorationLine, restartCycle } from "./plan-change.ts";
import { invoiceNow } from "./update-subscription.ts";

/** What a schedule's changes bill: cancellation credits, a billing cycle restarted by a phase. */

export interface ScheduleCancellation {
  /** Credit the unused time of the current period (Stripe's default). */
  prorate: boolean;
  /** Bill the pending prorations on a final invoice now (Stripe's default). */
  invoiceNow: boolean;
}

/** Credits for the unused time of the subscription's current items, recorded as invoice items. */
export function unusedTime(
  ctx: Ctx,
  sub: Stripe.Subscription,
  proration: Stripe.SubscriptionSchedule.Phase.ProrationBehavior,
): LineSeed[] {
  if (proration === "none" || sub.status === "trialing") return [];
  const now = ctx.now(customerIdOf(sub));
  const credits = sub.items.data
    .map((item) => prorationLine(ctx, sub, item, now, -1))
    .filter((line) => line.amount !== 0);
  recordProrationItems(ctx, sub, credits);
  return credits;
}

/** The pending prorations and `lines`, billed on an invoice now. */
function billNow(ctx: Ctx, sub: Stripe.Subscription, lines: LineSeed[]): void {
  const all = [...(ctx.state.pendingLines[sub.id] ?? []), ...lines];
  if (all.length === 0) return;
  delete ctx.state.pendingLines[sub.id];
  invoiceNow(ctx, sub, all);
}

/**
 * The money side of canceling mid-period: the unused time becomes proration credits, and with
 * `invoiceNow` the pending prorations go on a final invoice (a negative total is left on the
 * customer balance, as any invoice's); without it they stay pending.
 */
export function settleCancellation(
  ctx: Ctx,
  sub: Stripe.Subscription,
  how: ScheduleCancellation,
): void {
  const credits = unusedTime(ctx, sub, how.prorate ? "create_prorations" : "none");
  if (how.invoiceNow) {
    billNow(ctx, sub, credits);
    return;
  }
  ctx.state.pendingLines[sub.id] = [...(ctx.state.pendingLines[sub.id] ?? []), ...credits];
}

/**
 * `billing_cycle_anchor: phase_start` mid-period: the cycle restarts now and its first period is
 * billed at once, with the credits for the old items' unused time and any pending prorations.
 */
export function restartAtPhaseStart(ctx: Ctx, sub: Stripe.Subscription, credits: LineSeed[]): void {
  const now = ctx.now(customerIdOf(sub));
  changeSubscription(ctx, sub, (s) => restartCycle(s, now));
  billNow(ctx, sub, [...credits, ...cycleLines(sub)]);
}
