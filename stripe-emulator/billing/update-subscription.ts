import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import { buildItem } from "../builders/subscription.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest } from "../errors.ts";
import {
  isRecord,
  mergeMetadata,
  optArr,
  optBool,
  optEnum,
  optInt,
  optNullableStr,
  optStr,
  type Params,
} from "../params.ts";
import { getPrice } from "../resources/catalog.ts";
import { requireAttachedPm } from "../resources/payment-methods.ts";
import { recordProrationItems } from "./invoice-items.ts";
import { createSubscriptionInvoice, customerIdOf, finalizeInvoice } from "./invoicing.ts";
import { afterPayment, changeSubscription, isEnded } from "./lifecycle.ts";
import { attemptInvoicePayment } from "./payments.ts";
import { nextPeriodEnd } from "./periods.ts";

type Proration = "create_prorations" | "none" | "always_invoice";

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
  now: number,
  sign: 1 | -1,
): string {
  const productId = typeof price.product === "string" ? price.product : price.product.id;
  const name = ctx.state.products[productId]?.name ?? price.nickname ?? price.id;
  const what = quantity === 1 ? name : `${quantity} × ${name}`;
  return `${sign < 0 ? "Unused" : "Remaining"} time on ${what} after ${lineDate(now)}`;
}

function prorationLine(
  ctx: Ctx,
  sub: Stripe.Subscription,
  item: Stripe.SubscriptionItem,
  price: Stripe.Price,
  quantity: number,
  now: number,
  sign: 1 | -1,
): LineSeed {
  const { current_period_start: start, current_period_end: end } = item;
  const fraction = end > start ? Math.max(0, end - now) / (end - start) : 0;
  const amount = sign * Math.round((price.unit_amount ?? 0) * quantity * fraction);
  return {
    price,
    quantity,
    amount,
    period: { start: now, end },
    subscription: sub.id,
    subscriptionItem: item.id,
    proration: true,
    description: prorationDescription(ctx, price, quantity, now, sign),
  };
}

/**
 * Item changes: a price swap or quantity change on an existing item (`items[i][id]`), a new
 * item, or `deleted`. Returns the proration lines for the unused and remaining time.
 */
function applyItemChanges(ctx: Ctx, sub: Stripe.Subscription, p: Params, now: number): LineSeed[] {
  const raw = optArr(p, "items") ?? [];
  const lines: LineSeed[] = [];
  for (const [i, entry] of raw.entries()) {
    if (!isRecord(entry)) throw invalidParam(`items[${i}]`, "Invalid item.");
    const itemId = optStr(entry, "id");
    const priceId = optStr(entry, "price");
    const price = priceId ? getPrice(ctx, priceId, `items[${i}][price]`) : undefined;
    if (price && (!price.recurring || price.currency !== sub.currency)) {
      throw invalidParam(
        `items[${i}][price]`,
        "The price must be recurring and in the subscription's currency.",
      );
    }
    const item = itemId ? sub.items.data.find((it) => it.id === itemId) : undefined;
    if (itemId && !item)
      throw invalidParam(`items[${i}][id]`, `No such subscription item: '${itemId}'`);
    if (item && optBool(entry, "deleted")) {
      lines.push(prorationLine(ctx, sub, item, item.price, item.quantity ?? 1, now, -1));
      sub.items.data = sub.items.data.filter((it) => it !== item);
      continue;
    }
    if (item) {
      lines.push(prorationLine(ctx, sub, item, item.price, item.quantity ?? 1, now, -1));
      if (price) {
        item.price = price;
        item.plan = buildItem(price, 1, sub.id, { start: 0, end: 0 }, 0).plan;
      }
      item.quantity = optInt(entry, "quantity") ?? item.quantity;
      lines.push(prorationLine(ctx, sub, item, item.price, item.quantity ?? 1, now, 1));
      continue;
    }
    if (!price) throw invalidParam(`items[${i}][price]`, "Missing required param: items[][price].");
    const first = sub.items.data[0];
    const period = first
      ? { start: first.current_period_start, end: first.current_period_end }
      : { start: now, end: now };
    const added = buildItem(price, optInt(entry, "quantity") ?? 1, sub.id, period, now);
    sub.items.data.push(added);
    lines.push(prorationLine(ctx, sub, added, price, added.quantity ?? 1, now, 1));
  }
  if (sub.items.data.length === 0)
    throw invalidParam("items", "A subscription must keep at least one item.");
  return lines;
}

/** An interval change (month → year) restarts the billing cycle now and bills at once. */
function intervalChanged(before: Stripe.Subscription, after: Stripe.Subscription): boolean {
  const key = (s: Stripe.Subscription) =>
    s.items.data
      .map((i) => `${i.price.recurring?.interval}/${i.price.recurring?.interval_count}`)
      .join(",");
  return key(before) !== key(after);
}

function applyCancellation(sub: Stripe.Subscription, p: Params, now: number): void {
  const atPeriodEnd = optBool(p, "cancel_at_period_end");
  const cancelAtRaw = optNullableStr(p, "cancel_at");
  const end = Math.min(...sub.items.data.map((i) => i.current_period_end));
  if (atPeriodEnd !== undefined) {
    sub.cancel_at_period_end = atPeriodEnd;
    sub.cancel_at = atPeriodEnd ? end : null;
    sub.canceled_at = atPeriodEnd ? now : null;
  }
  if (cancelAtRaw !== undefined) {
    const ends = sub.items.data.map((i) => i.current_period_end);
    const at =
      cancelAtRaw === null
        ? null
        : cancelAtRaw === "min_period_end"
          ? Math.min(...ends)
          : cancelAtRaw === "max_period_end"
            ? Math.max(...ends)
            : Number(cancelAtRaw);
    if (at !== null && (!Number.isInteger(at) || at <= now)) {
      throw invalidParam("cancel_at", "cancel_at must be a timestamp in the future.");
    }
    sub.cancel_at = at;
    sub.cancel_at_period_end = false;
    sub.canceled_at = at === null ? null : now;
  }
  const scheduled = sub.cancel_at !== null;
  sub.cancellation_details = {
    comment: sub.cancellation_details?.comment ?? null,
    feedback: sub.cancellation_details?.feedback ?? null,
    feedback_option: null,
    reason: scheduled ? "cancellation_requested" : null,
  };
}

export function updateSubscription(ctx: Ctx, sub: Stripe.Subscription, p: Params): void {
  if (isEnded(sub)) {
    throw invalidRequest(
      "A canceled subscription can only update its cancellation_details and metadata.",
    );
  }
  const customerId = customerIdOf(sub);
  const now = ctx.now(customerId);
  const proration: Proration =
    optEnum(p, "proration_behavior", ["create_prorations", "none", "always_invoice"] as const) ??
    "create_prorations";
  const before: Stripe.Subscription = JSON.parse(JSON.stringify(sub));
  let lines: LineSeed[] = [];
  changeSubscription(ctx, sub, (s) => {
    lines = applyItemChanges(ctx, s, p, now);
    applyCancellation(s, p, now);
    s.metadata = mergeMetadata(s.metadata, p);
    const dpm = optNullableStr(p, "default_payment_method");
    if (dpm === null) s.default_payment_method = null;
    else if (dpm !== undefined)
      s.default_payment_method = requireAttachedPm(ctx, dpm, customerId).id;
    const description = optNullableStr(p, "description");
    if (description !== undefined) s.description = description;
    if (optStr(p, "trial_end") === "now" && s.status === "trialing") {
      s.trial_end = now;
      for (const item of s.items.data) item.current_period_end = now;
    }
    if (intervalChanged(before, s)) restartCycle(s, now);
  });
  if (intervalChanged(before, sub)) {
    const credits = lines.filter((l) => l.amount < 0);
    recordProrationItems(ctx, sub, credits);
    invoiceNow(ctx, sub, [
      ...(ctx.state.pendingLines[sub.id] ?? []),
      ...credits,
      ...cycleLines(sub),
    ]);
    delete ctx.state.pendingLines[sub.id];
    return;
  }
  if (lines.length === 0 || proration === "none") return;
  recordProrationItems(ctx, sub, lines);
  if (proration === "always_invoice") {
    invoiceNow(ctx, sub, [...(ctx.state.pendingLines[sub.id] ?? []), ...lines]);
    delete ctx.state.pendingLines[sub.id];
  } else {
    ctx.state.pendingLines[sub.id] = [...(ctx.state.pendingLines[sub.id] ?? []), ...lines];
  }
}

function restartCycle(sub: Stripe.Subscription, now: number): void {
  sub.billing_cycle_anchor = now;
  for (const item of sub.items.data) {
    item.current_period_start = now;
    const recurring = item.price.recurring;
    if (recurring) item.current_period_end = nextPeriodEnd(now, now, recurring);
  }
}

function cycleLines(sub: Stripe.Subscription): LineSeed[] {
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

/** An immediate `subscription_update` invoice, charged off-session like Stripe does. */
function invoiceNow(ctx: Ctx, sub: Stripe.Subscription, lines: LineSeed[]): void {
  const inv = createSubscriptionInvoice(ctx, sub, "subscription_update", lines, null);
  finalizeInvoice(ctx, inv);
  afterPayment(ctx, inv, attemptInvoicePayment(ctx, inv, { onSession: false }));
}
