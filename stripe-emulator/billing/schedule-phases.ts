import type Stripe from "stripe";
import { buildPhase, type PhaseSeed } from "../builders/schedule.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, missingParam } from "../errors.ts";
import {
  isRecord,
  optArr,
  optBool,
  optEnum,
  optInt,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { type ItemRequest, parseItems, validatePrices } from "./create-subscription.ts";
import { chooseDiscounts, discountedAmount } from "./discounts.ts";
import { addInterval, nextPeriodEnd } from "./periods.ts";

/** Parsing a schedule's `phases` into phases with concrete dates, as Stripe resolves them. */

export const PRORATIONS = ["always_invoice", "create_prorations", "none"] as const;

/** `now` or a Unix timestamp, as `start_date`/`end_date`/`trial_end` take them. */
export function timestamp(p: Params, key: string, path: string, now: number): number | undefined {
  const raw = optStr(p, key);
  if (raw === undefined) return undefined;
  if (raw === "now") return now;
  const value = Number(raw);
  if (!Number.isInteger(value)) throw invalidParam(path, `Invalid timestamp: ${raw}`);
  return value;
}

export interface PhaseRules {
  now: number;
  /** The first phase's start when it does not give one. */
  firstStart: number;
  /** The phases create the subscription: only then does a phase trial apply here. */
  createsSubscription: boolean;
  /** The managed subscription's trial end: a phase may repeat it, which changes nothing. */
  trialEnd?: number | null;
  /** Who redeems the phases' discounts, and the discounts the subscription has now. */
  customer: string;
  currentDiscounts: readonly string[];
}

function phaseEnd(p: Params, at: string, start: number, next: unknown, rules: PhaseRules) {
  const end = timestamp(p, "end_date", `${at}[end_date]`, rules.now);
  const duration = optObj(p, "duration");
  if (end !== undefined && duration) {
    throw invalidRequest("You may only specify one of these parameters: duration, end_date.", at);
  }
  if (end !== undefined) return end;
  if (duration) {
    const interval = reqStr(duration, "interval") as Stripe.Price.Recurring.Interval;
    return addInterval(start, interval, optInt(duration, "interval_count") ?? 1);
  }
  const nextStart = isRecord(next) ? timestamp(next, "start_date", at, rules.now) : undefined;
  if (nextStart !== undefined) return nextStart;
  if (next !== undefined) {
    throw invalidParam(
      `${at}[end_date]`,
      "Every phase but the last must have an `end_date` or a `duration`.",
    );
  }
  return undefined;
}

/** A trial in a phase takes effect here only on a subscription the schedule creates. */
function checkCreationOnly(p: Params, at: string, index: number, rules: PhaseRules): void {
  if (rules.createsSubscription && index === 0) return;
  const unchanged = [undefined, "false", String(rules.trialEnd ?? "")];
  for (const key of ["trial", "trial_end"]) {
    if (!unchanged.includes(p[key] as string | undefined)) {
      throw invalidParam(
        `${at}[${key}]`,
        `The emulator applies \`${key}\` only on the first phase of a schedule that creates its subscription.`,
      );
    }
  }
}

function parsePhase(
  ctx: Ctx,
  raw: unknown[],
  index: number,
  start: number,
  rules: PhaseRules,
): PhaseSeed {
  const at = `phases[${index}]`;
  const p = raw[index];
  if (!isRecord(p)) throw invalidParam(at, "Invalid phase.");
  checkCreationOnly(p, at, index, rules);
  const items = parseItems(ctx, p, "items");
  const currency = validatePrices(items);
  const first = items[0]?.price.recurring;
  const end =
    phaseEnd(p, at, start, raw[index + 1], rules) ??
    (first ? nextPeriodEnd(start, start, first) : start);
  if (end <= start) {
    throw invalidParam(`${at}[end_date]`, "A phase's end_date must be after its start_date.");
  }
  const trialEnd = optBool(p, "trial")
    ? end
    : (timestamp(p, "trial_end", `${at}[trial_end]`, rules.now) ?? null);
  const metadata = optObj(p, "metadata") ?? {};
  return {
    start,
    end,
    items,
    currency,
    prorationBehavior: optEnum(p, "proration_behavior", PRORATIONS) ?? "create_prorations",
    billingCycleAnchor: optEnum(p, "billing_cycle_anchor", ["automatic", "phase_start"]) ?? null,
    trialEnd,
    metadata: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, String(v)])),
    description: optNullableStr(p, "description") ?? null,
    discounts: phaseDiscounts(ctx, p, items, currency, rules),
  };
}

/**
 * A phase's `discounts`, checked as subscriptions.update checks them (a missing coupon, an
 * inactive or expired code… refused now), kept as asked and redeemed when the phase starts.
 * `""` is kept as no discounts: the phase then leaves the subscription's discounts as they are.
 */
function phaseDiscounts(
  ctx: Ctx,
  p: Params,
  items: ItemRequest[],
  currency: string,
  rules: PhaseRules,
): Stripe.SubscriptionSchedule.Phase.Discount[] {
  if (p.discounts === undefined || p.discounts === "") return [];
  chooseDiscounts(ctx, p, {
    customer: rules.customer,
    currency,
    amount: discountedAmount(undefined, items, currency),
    current: rules.currentDiscounts,
  });
  return (optArr(p, "discounts") ?? []).map((entry) => {
    const e = isRecord(entry) ? entry : {};
    return {
      coupon: optStr(e, "coupon") ?? null,
      discount: optStr(e, "discount") ?? null,
      promotion_code: optStr(e, "promotion_code") ?? null,
    };
  });
}

/** Phases with concrete dates: each starts where the one before ends. */
export function parsePhases(
  ctx: Ctx,
  raw: unknown[],
  rules: PhaseRules,
): Stripe.SubscriptionSchedule.Phase[] {
  if (raw.length === 0) throw missingParam("phases");
  const seeds: PhaseSeed[] = [];
  for (const index of raw.keys()) {
    const p = raw[index];
    const given = isRecord(p)
      ? timestamp(p, "start_date", `phases[${index}]`, rules.now)
      : undefined;
    const previous = seeds.at(-1);
    const start = previous?.end ?? given ?? rules.firstStart;
    if (previous && given !== undefined && given !== previous.end) {
      throw invalidParam(
        `phases[${index}][start_date]`,
        "The start_date of a phase must be the end_date of the phase before it.",
      );
    }
    const seed = parsePhase(ctx, raw, index, start, rules);
    if (previous && seed.currency !== previous.currency) {
      throw invalidParam(
        `phases[${index}]`,
        "All phases of a schedule must use the same currency.",
      );
    }
    seeds.push(seed);
  }
  return seeds.map(buildPhase);
}
