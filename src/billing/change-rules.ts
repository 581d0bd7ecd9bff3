import type { Executor } from "../platform/db/client.ts";
import { businessError, fieldError } from "../platform/http/errors.ts";
import { CurrencyMismatchError, compareRank } from "./plan-rank.ts";
import { findPlan, type Plan } from "./plans-service.ts";
import { currentSubscriptionWithPlan, type SubscriptionRow } from "./subscription-queries.ts";

/** What a change asks for: `POST change/`'s body and `change/preview/`'s query. */
export interface ChangeInput {
  plan_id: string;
  quantity?: number | undefined;
  promotion_code?: string | undefined;
  when?: "now" | "period_end" | undefined;
}

/** A change checked against the subscription it changes. */
export interface Change {
  row: SubscriptionRow;
  from: Plan;
  plan: Plan;
  quantity: number;
  /** `now`: an upgrade or more seats (or `when: "now"`); `period_end`: a downgrade or fewer seats. */
  timing: "now" | "period_end";
}

/**
 * The user's subscription, if it can be changed. What to do instead is part of each refusal:
 * nothing to change (404), a first payment not made, a failed payment not settled, a
 * cancellation scheduled.
 */
export async function changeableSubscription(
  db: Executor,
  userId: string,
): Promise<{ row: SubscriptionRow; from: Plan }> {
  const current = await currentSubscriptionWithPlan(db, userId);
  const row = current?.subscription;
  if (!row || row.endedAt || row.status === "canceled" || row.status === "incomplete_expired") {
    throw businessError("not_found", "No active subscription found.");
  }
  if (row.status === "incomplete") {
    throw businessError(
      "invalid",
      "Your first payment is not complete: confirm it (3-D Secure) or subscribe again with another card before changing plans.",
    );
  }
  if (row.status === "past_due" || row.status === "unpaid") {
    throw businessError(
      "invalid",
      "Your last payment failed: update your card and pay the open invoice before changing plans.",
    );
  }
  if (row.status === "paused") {
    throw businessError("invalid", "Your subscription is paused: resume it before changing plans.");
  }
  if (row.cancelAtPeriodEnd || row.cancelAt) {
    throw businessError(
      "invalid",
      "Your subscription is set to cancel: reactivate it before changing plans.",
    );
  }
  if (!current.plan) {
    throw businessError("invalid", "Your subscription's price is not one of our plans.");
  }
  return { row, from: current.plan };
}

/** The quantity asked for, or the one a plan keeps by default, checked against the plan's range. */
export function quantityFor(plan: Plan, asked: number | undefined, current?: number): number {
  if (!plan.perSeat) {
    if (asked !== undefined && asked !== 1) {
      throw fieldError("quantity", `${plan.name} is not sold per seat: the quantity must be 1.`);
    }
    return 1;
  }
  const max = plan.maxQuantity;
  const inRange = (q: number) => q >= plan.minQuantity && (max === null || q <= max);
  if (asked === undefined)
    return current !== undefined && inRange(current) ? current : plan.minQuantity;
  if (!inRange(asked)) {
    const range =
      max === null ? `at least ${plan.minQuantity}` : `between ${plan.minQuantity} and ${max}`;
    throw fieldError("quantity", `${plan.name} is sold with ${range} seats.`);
  }
  return asked;
}

/** A plan the user may move to: 404 when there is no such plan, 400 when it is no longer sold. */
export async function targetPlan(db: Executor, planId: string): Promise<Plan> {
  const plan = await findPlan(db, planId);
  if (!plan) throw businessError("not_found", "Plan not found.");
  if (!plan.isActive) throw fieldError("plan_id", "This plan is no longer offered.");
  return plan;
}

/**
 * Checks a change and decides when it takes effect: by the rank of what is billed (the plan's
 * monthly amount times the quantity), an upgrade or more seats now, a downgrade or fewer seats at
 * the period end unless `when` says otherwise (docs/plans.md, 'Rank').
 */
export async function checkChange(
  db: Executor,
  userId: string,
  input: ChangeInput,
): Promise<Change> {
  const { row, from } = await changeableSubscription(db, userId);
  const plan = await targetPlan(db, input.plan_id);
  const quantity = quantityFor(plan, input.quantity, from.perSeat ? row.quantity : undefined);
  if (plan.id === from.id && quantity === row.quantity) {
    throw businessError("invalid", "You are already on this plan with this quantity.");
  }
  let rank: -1 | 0 | 1;
  try {
    rank = compareRank(
      { amount: plan.amount * quantity, currency: plan.currency, interval: plan.interval },
      { amount: from.amount * row.quantity, currency: from.currency, interval: from.interval },
    );
  } catch (err) {
    if (!(err instanceof CurrencyMismatchError)) throw err;
    throw fieldError(
      "plan_id",
      `${plan.name} is billed in ${plan.currency.toUpperCase()} and your subscription in ${from.currency.toUpperCase()}: one subscription cannot change currency. Cancel it and subscribe to ${plan.name} instead.`,
    );
  }
  const timing = input.when ?? (rank < 0 ? "period_end" : "now");
  return { row, from, plan, quantity, timing };
}
