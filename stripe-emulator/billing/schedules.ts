import type Stripe from "stripe";
import { type Ctx, testClockOf } from "../context.ts";
import { invalidRequest, StripeApiError } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import type { Params } from "../params.ts";
import { wire } from "../store.ts";
import { createSubscription } from "./create-subscription.ts";
import { discountIds } from "./discounts.ts";
import { customerIdOf } from "./invoicing.ts";
import { cancelSubscriptionNow, changeSubscription, isEnded } from "./lifecycle.ts";
import {
  restartAtPhaseStart,
  type ScheduleCancellation,
  settleCancellation,
  unusedTime,
} from "./schedule-billing.ts";
import { updateSubscription } from "./update-subscription.ts";

type Schedule = Stripe.SubscriptionSchedule;
type Phase = Stripe.SubscriptionSchedule.Phase;

/** Applies `mutate` and sends `subscription_schedule.updated` with what changed, if anything. */
export function changeSchedule(ctx: Ctx, sched: Schedule, mutate: (s: Schedule) => void): void {
  const before = wire(sched);
  mutate(sched);
  const previous = previousAttributes(before, sched);
  if (previous) {
    ctx.emit("subscription_schedule.updated", sched, { previous, customerId: customerIdOf(sched) });
  }
}

export function scheduledSubscription(ctx: Ctx, sched: Schedule): Stripe.Subscription | undefined {
  const id = typeof sched.subscription === "string" ? sched.subscription : sched.subscription?.id;
  return id ? ctx.state.subscriptions[id] : undefined;
}

/** The phase that runs at `now`: the one whose [start, end) holds it. */
export function phaseAt(sched: Schedule, now: number): Phase | undefined {
  return sched.phases.find((p) => p.start_date <= now && now < p.end_date);
}

export function isOpen(sched: Schedule): boolean {
  return sched.status === "not_started" || sched.status === "active";
}

/** Stripe refuses to release, cancel or update a schedule that has already ended. */
export function requireOpen(sched: Schedule, action: "release" | "cancel" | "update"): void {
  if (isOpen(sched)) return;
  throw invalidRequest(
    `You cannot ${action} a subscription schedule that is currently in the \`${sched.status}\` status. It must be in one of the following statuses: \`not_started\`, \`active\`.`,
  );
}

function lastEnd(sched: Schedule): number {
  return Math.max(...sched.phases.map((p) => p.end_date));
}

/**
 * While a schedule whose `end_behavior` is `cancel` manages a subscription, the subscription
 * shows the schedule's end as its `cancel_at`; any other schedule leaves it unset.
 */
export function syncCancelAt(ctx: Ctx, sched: Schedule, sub: Stripe.Subscription): void {
  const at = sched.end_behavior === "cancel" ? lastEnd(sched) : null;
  if (sub.cancel_at === at) return;
  changeSubscription(ctx, sub, (s) => setCancelAt(s, at, ctx.now(customerIdOf(s))));
}

/** A cancellation at `at` (or none), as the subscription shows one a schedule set. */
function setCancelAt(sub: Stripe.Subscription, at: number | null, now: number): void {
  sub.cancel_at = at;
  sub.cancel_at_period_end = false;
  sub.canceled_at = at === null ? null : now;
  sub.cancellation_details = {
    comment: sub.cancellation_details?.comment ?? null,
    feedback: sub.cancellation_details?.feedback ?? null,
    feedback_option: null,
    reason: at === null ? null : "cancellation_requested",
  };
}

/**
 * The `items` of a subscription update that makes the subscription's items those of `phase`:
 * an item whose price stays keeps its id (and changes quantity if needed), new prices are added
 * before old ones are deleted, so an added item takes the current period from a remaining one.
 */
function itemChanges(sub: Stripe.Subscription, phase: Phase): Params[] {
  const kept = new Set<string>();
  const changes: Params[] = [];
  for (const item of phase.items) {
    const priceId = typeof item.price === "string" ? item.price : item.price.id;
    const quantity = String(item.quantity ?? 1);
    const same = sub.items.data.find((i) => i.price.id === priceId && !kept.has(i.id));
    if (!same) {
      changes.push({ price: priceId, quantity });
      continue;
    }
    kept.add(same.id);
    if (String(same.quantity ?? 1) !== quantity) changes.push({ id: same.id, quantity });
  }
  for (const item of sub.items.data) {
    if (!kept.has(item.id)) changes.push({ id: item.id, deleted: "true" });
  }
  return changes;
}

const idOf = (v: string | { id: string } | null): string | undefined =>
  v === null ? undefined : typeof v === "string" ? v : v.id;

/**
 * The `discounts` parameter giving a subscription that has `current` the phase's discounts;
 * undefined when the phase names none (the subscription keeps its own) or exactly `current`.
 */
function discountChanges(current: readonly string[], phase: Phase): Params[] | undefined {
  const kept = phase.discounts.map((d) => idOf(d.discount));
  const same =
    kept.length === current.length && kept.every((id) => id !== undefined && current.includes(id));
  if (phase.discounts.length === 0 || same) return undefined;
  return phase.discounts.map((d) => {
    const discount = idOf(d.discount);
    if (discount) return { discount };
    const promotionCode = idOf(d.promotion_code);
    return promotionCode ? { promotion_code: promotionCode } : { coupon: idOf(d.coupon) ?? "" };
  });
}

/** Once redeemed, a phase names its discounts by id, so applying it again redeems nothing twice. */
function settleDiscounts(sub: Stripe.Subscription, phase: Phase): void {
  phase.discounts = discountIds(sub).map((id) => ({
    coupon: null,
    discount: id,
    promotion_code: null,
  }));
}

/**
 * Makes the subscription match `phase`: its items, metadata and discounts, through the ordinary
 * subscription update (one `customer.subscription.updated` with the changed keys). At a period
 * boundary nothing of the old period is left to prorate, so nothing is prorated; mid-period the
 * phase's (or the schedule update's) `proration_behavior` applies.
 */
function atPeriodEnd(ctx: Ctx, sub: Stripe.Subscription): boolean {
  const periodEnd = Math.min(...sub.items.data.map((i) => i.current_period_end));
  return ctx.now(customerIdOf(sub)) >= periodEnd;
}

export function applyPhase(
  ctx: Ctx,
  sub: Stripe.Subscription,
  phase: Phase,
  proration: Phase["proration_behavior"],
): void {
  const changes = itemChanges(sub, phase);
  const metadata = phase.metadata ?? {};
  const discounts = discountChanges(discountIds(sub), phase);
  if (changes.length === 0 && Object.keys(metadata).length === 0 && !discounts) return;
  updateSubscription(ctx, sub, {
    items: changes,
    metadata,
    proration_behavior: atPeriodEnd(ctx, sub) ? "none" : proration,
    ...(discounts ? { discounts } : {}),
  });
  if (discounts) settleDiscounts(sub, phase);
}

/**
 * A schedule starting at the request answers the request's errors (no payment method, a
 * declined card with nothing created). One starting later on the clock has no caller: its
 * subscription is then created `default_incomplete`, its first invoice left open to be paid.
 */
function createScheduledSubscription(
  ctx: Ctx,
  params: Params,
  fromRequest: boolean,
): Stripe.Subscription {
  if (fromRequest) return createSubscription(ctx, params);
  try {
    return createSubscription(ctx, params);
  } catch (err) {
    if (!(err instanceof StripeApiError)) throw err;
    return createSubscription(ctx, { ...params, payment_behavior: "default_incomplete" });
  }
}

/**
 * Starts a schedule on the clock. One whose subscription cannot be made at all (a price
 * archived since) is canceled rather than left to stop the clock.
 */
function startOnClock(ctx: Ctx, sched: Schedule): void {
  try {
    startSchedule(ctx, sched, false);
  } catch (err) {
    if (!(err instanceof StripeApiError)) throw err;
    cancelSchedule(ctx, sched);
  }
}

/** A schedule created with `customer` and `phases` starts: it creates its subscription. */
export function startSchedule(ctx: Ctx, sched: Schedule, fromRequest: boolean): void {
  const first = sched.phases[0];
  if (!first) return;
  const params: Params = {
    customer: customerIdOf(sched),
    items: first.items.map((i) => ({
      price: typeof i.price === "string" ? i.price : i.price.id,
      quantity: String(i.quantity ?? 1),
    })),
    metadata: first.metadata ?? {},
  };
  if (first.trial_end !== null) params.trial_end = String(first.trial_end);
  const discounts = discountChanges([], first);
  if (discounts) params.discounts = discounts;
  const sub = createScheduledSubscription(ctx, params, fromRequest);
  if (discounts) settleDiscounts(sub, first);
  // Stripe shows the schedule on the subscription from its creation on.
  sub.schedule = sched.id;
  const start = (s: Schedule) => {
    s.status = "active";
    s.subscription = sub.id;
    s.current_phase = { start_date: first.start_date, end_date: first.end_date };
  };
  // A schedule being created is announced by `subscription_schedule.created`, already active.
  if (ctx.state.subscriptionSchedules[sched.id]) changeSchedule(ctx, sched, start);
  else start(sched);
  syncCancelAt(ctx, sched, sub);
}

/** The current phase has ended: the next one applies, or the schedule ends. */
export function advanceSchedule(ctx: Ctx, sched: Schedule): void {
  const sub = scheduledSubscription(ctx, sched);
  if (!sub || isEnded(sub)) {
    cancelSchedule(ctx, sched);
    return;
  }
  const index = sched.phases.findIndex((p) => p.start_date === sched.current_phase?.start_date);
  const next = sched.phases[index + 1];
  if (!next) {
    endSchedule(ctx, sched, sub);
    return;
  }
  // A phase that restarts the billing cycle credits the old items' unused time and bills its
  // own first period in full, so its item change itself prorates nothing.
  const restart = next.billing_cycle_anchor === "phase_start" && !atPeriodEnd(ctx, sub);
  const credits = restart ? unusedTime(ctx, sub, next.proration_behavior) : [];
  const proration = restart ? "none" : next.proration_behavior;
  try {
    applyPhase(ctx, sub, next, proration);
  } catch (err) {
    // A discount checked when the phase was set may no longer redeem when it starts (a code
    // expired, used up): the phase applies without it rather than stopping the clock.
    if (!(err instanceof StripeApiError)) throw err;
    applyPhase(ctx, sub, { ...next, discounts: [] }, proration);
  }
  if (restart) restartAtPhaseStart(ctx, sub, credits);
  changeSchedule(ctx, sched, (s) => {
    s.current_phase = { start_date: next.start_date, end_date: next.end_date };
  });
}

/** After the last phase: `release` leaves the subscription running, `cancel` ends it. */
function endSchedule(ctx: Ctx, sched: Schedule, sub: Stripe.Subscription): void {
  if (sched.end_behavior !== "cancel") {
    releaseSchedule(ctx, sched, false);
    return;
  }
  const now = ctx.now(customerIdOf(sched));
  sched.status = "completed";
  sched.completed_at = now;
  sched.current_phase = null;
  cancelSubscriptionNow(ctx, sub, "cancellation_requested");
  ctx.emit("subscription_schedule.completed", sched, { customerId: customerIdOf(sched) });
}

/**
 * The schedule stops managing its subscription, which keeps running as it is. Unless
 * `preserveCancelDate`, a cancellation the schedule set on it (`end_behavior: cancel`) goes.
 */
export function releaseSchedule(ctx: Ctx, sched: Schedule, preserveCancelDate: boolean): void {
  const sub = scheduledSubscription(ctx, sched);
  const now = ctx.now(customerIdOf(sched));
  sched.status = "released";
  sched.released_at = now;
  sched.released_subscription = sub?.id ?? null;
  sched.subscription = null;
  sched.current_phase = null;
  if (sub && !isEnded(sub)) {
    const clearCancel = !preserveCancelDate && sched.end_behavior === "cancel";
    changeSubscription(ctx, sub, (s) => {
      s.schedule = null;
      if (clearCancel) setCancelAt(s, null, now);
    });
  }
  ctx.emit("subscription_schedule.released", sched, { customerId: customerIdOf(sched) });
}

/** Canceling a schedule cancels its subscription at once, by default crediting unused time. */
export function cancelSchedule(
  ctx: Ctx,
  sched: Schedule,
  how: ScheduleCancellation = { prorate: false, invoiceNow: false },
): void {
  const sub = scheduledSubscription(ctx, sched);
  sched.status = "canceled";
  sched.canceled_at = ctx.now(customerIdOf(sched));
  sched.current_phase = null;
  if (sub && !isEnded(sub)) {
    settleCancellation(ctx, sub, how);
    cancelSubscriptionNow(ctx, sub, "cancellation_requested");
  }
  ctx.emit("subscription_schedule.canceled", sched, { customerId: customerIdOf(sched) });
}

/** Due work of the schedules in one time domain, for the scheduler: starts and phase ends. */
export function scheduleTimers(
  ctx: Ctx,
  clockId: string | null,
): { at: number; run: () => void }[] {
  const timers: { at: number; run: () => void }[] = [];
  for (const sched of Object.values(ctx.state.subscriptionSchedules)) {
    // A customer deleted with its test clock takes its schedules out of every time domain.
    const customerId = customerIdOf(sched);
    if (!ctx.state.customers[customerId] || testClockOf(ctx.state, customerId) !== clockId) {
      continue;
    }
    const first = sched.phases[0];
    if (sched.status === "not_started" && first) {
      timers.push({ at: first.start_date, run: () => startOnClock(ctx, sched) });
    } else if (sched.status === "active" && sched.current_phase) {
      timers.push({ at: sched.current_phase.end_date, run: () => advanceSchedule(ctx, sched) });
      timers.push(...expiringTimer(ctx, sched));
    }
  }
  return timers;
}

const EXPIRING_NOTICE_SECONDS = 7 * 86_400;

/** `subscription_schedule.expiring`, 7 days before the last phase ends, once per end. */
function expiringTimer(ctx: Ctx, sched: Schedule): { at: number; run: () => void }[] {
  const end = lastEnd(sched);
  const at = end - EXPIRING_NOTICE_SECONDS;
  const sent = ctx.state.scheduleExpiringSentFor;
  if (sent[sched.id] === end || at <= sched.created) return [];
  return [
    {
      at,
      run: () => {
        sent[sched.id] = end;
        ctx.emit("subscription_schedule.expiring", sched, { customerId: customerIdOf(sched) });
      },
    },
  ];
}
