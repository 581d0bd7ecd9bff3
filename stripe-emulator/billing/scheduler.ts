import type Stripe from "stripe";
import { type Ctx, testClockOf } from "../context.ts";
import { checkoutExpiryTimers } from "../resources/checkout.ts";
import { customerIdOf, finalizeInvoice } from "./invoicing.ts";
import {
  afterPayment,
  cancelSubscriptionNow,
  changeSubscription,
  expireIncomplete,
  isEnded,
} from "./lifecycle.ts";
import { attemptInvoicePayment } from "./payments.ts";
import { expirePendingUpdate } from "./pending-update.ts";
import { SECONDS_PER_DAY } from "./periods.ts";
import { renewSubscription, upcomingInvoice } from "./renewal.ts";
import { scheduleTimers } from "./schedules.ts";

interface Timer {
  at: number;
  run: () => void;
}

const INCOMPLETE_EXPIRY_SECONDS = 23 * 3600;

function periodEnd(sub: Stripe.Subscription): number {
  return Math.min(...sub.items.data.map((i) => i.current_period_end));
}

function periodStart(sub: Stripe.Subscription): number {
  return Math.min(...sub.items.data.map((i) => i.current_period_start));
}

function subscriptionTimers(ctx: Ctx, sub: Stripe.Subscription): Timer[] {
  const timers: Timer[] = [];
  const internal = ctx.state.subInternal[sub.id];
  if (sub.status === "incomplete") {
    timers.push({
      at: sub.created + INCOMPLETE_EXPIRY_SECONDS,
      run: () => expireIncomplete(ctx, sub),
    });
    return timers;
  }
  const pending = sub.pending_update;
  if (pending) {
    timers.push({
      at: pending.expires_at,
      run: () => expirePendingUpdate(ctx, sub, changeSubscription),
    });
  }
  // A paused subscription does not cycle until it is resumed.
  if (sub.status === "paused") return timers;
  const end = periodEnd(sub);
  if (sub.status === "trialing" && internal && !internal.trialWillEndSent && sub.trial_end) {
    const at = Math.max(sub.trial_end - 3 * SECONDS_PER_DAY, sub.trial_start ?? sub.created);
    timers.push({
      at,
      run: () => {
        internal.trialWillEndSent = true;
        ctx.emit("customer.subscription.trial_will_end", sub, { customerId: customerIdOf(sub) });
      },
    });
  }
  const upcomingAt = end - ctx.config.upcomingDays * SECONDS_PER_DAY;
  const willRenew = !sub.cancel_at_period_end && (sub.cancel_at === null || sub.cancel_at > end);
  if (internal && willRenew && internal.upcomingSentFor !== end && upcomingAt > periodStart(sub)) {
    timers.push({ at: upcomingAt, run: () => sendUpcoming(ctx, sub, end) });
  }
  if (sub.cancel_at !== null && sub.cancel_at < end) {
    const cancelAt = sub.cancel_at;
    timers.push({
      at: cancelAt,
      run: () => cancelSubscriptionNow(ctx, sub, "cancellation_requested"),
    });
  }
  timers.push({
    at: end,
    run: () => {
      if (!willRenew) cancelSubscriptionNow(ctx, sub, "cancellation_requested");
      else renewSubscription(ctx, sub);
    },
  });
  return timers;
}

/** `invoice.upcoming` carries a preview invoice without an id, as Stripe sends it. */
function sendUpcoming(ctx: Ctx, sub: Stripe.Subscription, end: number): void {
  const internal = ctx.state.subInternal[sub.id];
  if (internal) internal.upcomingSentFor = end;
  if (!ctx.state.customers[customerIdOf(sub)]) return;
  const preview: Partial<Stripe.Invoice> = upcomingInvoice(ctx, sub);
  delete preview.id;
  ctx.emit("invoice.upcoming", preview, { customerId: customerIdOf(sub) });
}

function invoiceTimers(ctx: Ctx, inv: Stripe.Invoice): Timer[] {
  const internal = ctx.state.invoiceInternal[inv.id];
  if (inv.status === "draft" && internal?.finalizeAt != null) {
    return [
      {
        at: internal.finalizeAt,
        run: () => {
          finalizeInvoice(ctx, inv);
          afterPayment(ctx, inv, attemptInvoicePayment(ctx, inv, { onSession: false }));
        },
      },
    ];
  }
  if (inv.status === "open" && inv.next_payment_attempt !== null && internal) {
    return [
      {
        at: inv.next_payment_attempt,
        run: () => {
          internal.retriesDone += 1;
          inv.next_payment_attempt = null;
          afterPayment(ctx, inv, attemptInvoicePayment(ctx, inv, { onSession: false }));
        },
      },
    ];
  }
  return [];
}

function dueTimers(ctx: Ctx, clockId: string | null): Timer[] {
  // Phase changes come first: a phase ending at a period end sets the items the renewal bills.
  const timers: Timer[] = scheduleTimers(ctx, clockId);
  for (const sub of Object.values(ctx.state.subscriptions)) {
    if (isEnded(sub) || testClockOf(ctx.state, customerIdOf(sub)) !== clockId) continue;
    timers.push(...subscriptionTimers(ctx, sub));
  }
  for (const inv of Object.values(ctx.state.invoices)) {
    if (testClockOf(ctx.state, customerIdOf(inv)) !== clockId) continue;
    timers.push(...invoiceTimers(ctx, inv));
  }
  timers.push(...checkoutExpiryTimers(ctx, clockId));
  return timers;
}

/**
 * Moves one time domain (a test clock, or the global clock when `clockId` is null) to `target`,
 * running every due action in time order with the clock set to the action's own time, so
 * events and objects carry the timestamps Stripe would give them.
 */
export function advanceDomain(
  ctx: Ctx,
  clockId: string | null,
  from: number,
  target: number,
  setTime: (t: number) => void,
): void {
  for (let guard = 0; guard < 100_000; guard++) {
    let next: Timer | undefined;
    for (const t of dueTimers(ctx, clockId)) {
      if (t.at <= target && (!next || t.at < next.at)) next = t;
    }
    if (!next) break;
    // Overdue actions run at the current time: a clock never moves backwards.
    setTime(Math.max(next.at, from));
    next.run();
  }
  setTime(target);
}
