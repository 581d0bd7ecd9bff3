import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import { buildItem } from "../builders/subscription.ts";
import type { Ctx } from "../context.ts";
import { invalidParam } from "../errors.ts";
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
} from "../params.ts";
import { getPrice } from "../resources/catalog.ts";
import { wire } from "../store.ts";
import { nextPeriodEnd } from "./periods.ts";

/**
 * A subscription change worked out without touching state: `subscriptions.update` applies it and
 * bills its lines, `invoices.createPreview` shows them, so the two cannot disagree.
 */
export interface PlannedChange {
  /** The subscription as the change leaves it (a copy). */
  next: Stripe.Subscription;
  /** Proration lines: unused time credited, remaining time charged. */
  lines: LineSeed[];
  /** The billing interval changed: the cycle restarts now and is billed at once. */
  restarted: boolean;
  /** The instant the prorations are computed for (`proration_date`, else now). */
  at: number;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** Stripe's date in line descriptions, in UTC: "07 Jan 2027". */
function lineDate(ts: number): string {
  const d = new Date(ts * 1000);
  return `${String(d.getUTCDate()).padStart(2, "0")} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()}`;
}

/** "Remaining time on Pro after 07 Jan 2027", "Unused time on 2 × Starter after …", as Stripe words them. */
function prorationDescription(
  ctx: Ctx,
  price: Stripe.Price,
  quantity: number,
  at: number,
  sign: 1 | -1,
): string {
  const productId = typeof price.product === "string" ? price.product : price.product.id;
  const name = ctx.state.products[productId]?.name ?? price.nickname ?? price.id;
  const what = quantity === 1 ? name : `${quantity} × ${name}`;
  return `${sign < 0 ? "Unused" : "Remaining"} time on ${what} after ${lineDate(at)}`;
}

export function prorationLine(
  ctx: Ctx,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  at: number,
  sign: 1 | -1,
): LineSeed {
  const { current_period_start: start, current_period_end: end, price } = item;
  const quantity = item.quantity ?? 1;
  const fraction = end > start ? Math.max(0, end - at) / (end - start) : 0;
  return {
    price,
    quantity,
    amount: sign * Math.round((price.unit_amount ?? 0) * quantity * fraction),
    period: { start: at, end },
    subscription: sub.id,
    subscriptionItem: item.id,
    proration: true,
    description: prorationDescription(ctx, price, quantity, at, sign),
  };
}

function requestedPrice(ctx: Ctx, sub: Stripe.Subscription, entry: Params, i: number) {
  const priceId = optStr(entry, "price");
  const price = priceId ? getPrice(ctx, priceId, `items[${i}][price]`) : undefined;
  if (price && (!price.recurring || price.currency !== sub.currency)) {
    throw invalidParam(
      `items[${i}][price]`,
      "The price must be recurring and in the subscription's currency.",
    );
  }
  return price;
}

/**
 * Item changes: a price swap or quantity change on an existing item (`items[i][id]`), a new
 * item, or `deleted`. Returns the proration lines for the unused and remaining time.
 */
function applyItemChanges(ctx: Ctx, sub: Stripe.Subscription, p: Params, at: number): LineSeed[] {
  const lines: LineSeed[] = [];
  for (const [i, entry] of (optArr(p, "items") ?? []).entries()) {
    if (!isRecord(entry)) throw invalidParam(`items[${i}]`, "Invalid item.");
    const itemId = optStr(entry, "id");
    const price = requestedPrice(ctx, sub, entry, i);
    const item = itemId ? sub.items.data.find((it) => it.id === itemId) : undefined;
    if (itemId && !item)
      throw invalidParam(`items[${i}][id]`, `No such subscription item: '${itemId}'`);
    if (item) {
      lines.push(prorationLine(ctx, sub, item, at, -1));
      if (optBool(entry, "deleted")) {
        sub.items.data = sub.items.data.filter((it) => it !== item);
        continue;
      }
      if (price) {
        item.price = price;
        item.plan = buildItem(price, 1, sub.id, { start: 0, end: 0 }, 0).plan;
      }
      item.quantity = optInt(entry, "quantity") ?? item.quantity;
      lines.push(prorationLine(ctx, sub, item, at, 1));
      continue;
    }
    if (!price) throw invalidParam(`items[${i}][price]`, "Missing required param: items[][price].");
    const first = sub.items.data[0];
    const period = first
      ? { start: first.current_period_start, end: first.current_period_end }
      : { start: at, end: at };
    const added = buildItem(price, optInt(entry, "quantity") ?? 1, sub.id, period, at);
    sub.items.data.push(added);
    lines.push(prorationLine(ctx, sub, added, at, 1));
  }
  if (sub.items.data.length === 0)
    throw invalidParam("items", "A subscription must keep at least one item.");
  return lines;
}

/**
 * An interval change (month → year) restarts the billing cycle now and bills at once; adding or
 * removing an item of an interval the subscription already bills does not.
 */
function intervalKey(s: Stripe.Subscription): string {
  const intervals = s.items.data.map(
    (i) => `${i.price.recurring?.interval}/${i.price.recurring?.interval_count}`,
  );
  return [...new Set(intervals)].sort().join(",");
}

function cancelAtOf(raw: string, ends: number[], now: number): number {
  const at =
    raw === "min_period_end"
      ? Math.min(...ends)
      : raw === "max_period_end"
        ? Math.max(...ends)
        : Number(raw);
  if (!Number.isInteger(at) || at <= now) {
    throw invalidParam("cancel_at", "cancel_at must be a timestamp in the future.");
  }
  return at;
}

function applyCancellation(sub: Stripe.Subscription, p: Params, now: number): void {
  const atPeriodEnd = optBool(p, "cancel_at_period_end");
  const cancelAtRaw = optNullableStr(p, "cancel_at");
  const ends = sub.items.data.map((i) => i.current_period_end);
  if (atPeriodEnd !== undefined) {
    sub.cancel_at_period_end = atPeriodEnd;
    sub.cancel_at = atPeriodEnd ? Math.min(...ends) : null;
    sub.canceled_at = atPeriodEnd ? now : null;
  }
  if (cancelAtRaw !== undefined) {
    const at = cancelAtRaw === null ? null : cancelAtOf(cancelAtRaw, ends, now);
    sub.cancel_at = at;
    sub.cancel_at_period_end = false;
    sub.canceled_at = at === null ? null : now;
  }
  sub.cancellation_details = {
    comment: sub.cancellation_details?.comment ?? null,
    feedback: sub.cancellation_details?.feedback ?? null,
    feedback_option: null,
    reason: sub.cancel_at !== null ? "cancellation_requested" : null,
  };
}

export function restartCycle(sub: Stripe.Subscription, now: number): void {
  sub.billing_cycle_anchor = now;
  for (const item of sub.items.data) {
    item.current_period_start = now;
    const recurring = item.price.recurring;
    if (recurring) item.current_period_end = nextPeriodEnd(now, now, recurring);
  }
}

/**
 * `trial_end` on an update: `now` ends a running trial (it is billed at once), a timestamp moves
 * its end; either way the billing cycle is anchored on the trial's end, as at Stripe. Starting a
 * trial on a subscription that is not trialing is not emulated and is refused.
 */
function applyTrialEnd(next: Stripe.Subscription, p: Params, now: number): void {
  const raw = optStr(p, "trial_end");
  if (raw === undefined) return;
  if (next.status !== "trialing") {
    if (raw === "now") return;
    throw invalidParam(
      "trial_end",
      "The emulator moves or ends a running trial only; it does not start one on this subscription.",
    );
  }
  const end = raw === "now" ? now : Number(raw);
  if (!Number.isInteger(end) || end < now) {
    throw invalidParam(
      "trial_end",
      "Invalid timestamp: must be an integer Unix timestamp in the future.",
    );
  }
  next.trial_end = end;
  next.billing_cycle_anchor = end;
  for (const item of next.items.data) item.current_period_end = end;
}

/** `proration_date`: a moment of the current period the prorations are computed for. */
function prorationDateOf(sub: Stripe.Subscription, p: Params, now: number): number {
  const at = optInt(p, "proration_date");
  if (at === undefined) return now;
  const start = Math.min(...sub.items.data.map((i) => i.current_period_start));
  const end = Math.min(...sub.items.data.map((i) => i.current_period_end));
  if (at < start || at > end) {
    throw invalidParam(
      "proration_date",
      "The proration_date must be within the subscription's current billing period.",
    );
  }
  return at;
}

/**
 * Works out an update's item, cancellation and trial changes on a copy of `sub`. Changes that
 * need state (a payment method to check, metadata to merge) are the caller's.
 */
export function planChange(
  ctx: Ctx,
  sub: Stripe.Subscription,
  p: Params,
  now: number,
): PlannedChange {
  const next = wire(sub);
  const at = prorationDateOf(sub, p, now);
  const lines = applyItemChanges(ctx, next, p, at);
  applyCancellation(next, p, now);
  applyTrialEnd(next, p, now);
  // `billing_cycle_anchor=now` restarts the cycle as an interval change does.
  const anchor = optObj(p, "billing_cycle_anchor");
  const anchorNow = anchor !== undefined && optStr(anchor, "type") === "now";
  const restarted = anchorNow || intervalKey(sub) !== intervalKey(next);
  if (restarted) restartCycle(next, now);
  return { next, lines, restarted, at };
}

/** The lines of each item's current period, charged in full. */
export function cycleLines(sub: Stripe.Subscription): LineSeed[] {
  return sub.items.data.map((item) => ({
    price: item.price,
    quantity: item.quantity ?? 1,
    amount: (item.price.unit_amount ?? 0) * (item.quantity ?? 1),
    period: { start: item.current_period_start, end: item.current_period_end },
    subscription: sub.id,
    subscriptionItem: item.id,
    proration: false,
    description: `${item.quantity ?? 1} × ${item.price.nickname ?? item.price.id}`,
  }));
}

export type Proration = "create_prorations" | "none" | "always_invoice";

/**
 * What a change bills: `now` lines on an immediate `subscription_update` invoice (an interval
 * change bills the credits and the new cycle; `always_invoice` the prorations), or `later`
 * prorations left pending for the next renewal. `record` are the prorations kept as invoice items.
 */
export interface ChangeBilling {
  record: LineSeed[];
  now: LineSeed[] | null;
  later: LineSeed[];
}

export function billingOf(change: PlannedChange, proration: Proration): ChangeBilling {
  if (change.restarted) {
    const credits = change.lines.filter((l) => l.amount < 0);
    return { record: credits, now: [...credits, ...cycleLines(change.next)], later: [] };
  }
  if (change.lines.length === 0 || proration === "none")
    return { record: [], now: null, later: [] };
  if (proration === "always_invoice") {
    return { record: change.lines, now: change.lines, later: [] };
  }
  return { record: change.lines, now: null, later: change.lines };
}

/** `trial_settings[end_behavior][missing_payment_method]` of a create or update, if given. */
export function trialSettingsOf(p: Params): Stripe.Subscription.TrialSettings | undefined {
  const endBehavior = optObj(optObj(p, "trial_settings") ?? {}, "end_behavior");
  const missing = endBehavior
    ? optEnum(endBehavior, "missing_payment_method", ["cancel", "create_invoice", "pause"] as const)
    : undefined;
  if (!missing) return undefined;
  return { end_behavior: { billing_cycle_anchor: null, missing_payment_method: missing } };
}
