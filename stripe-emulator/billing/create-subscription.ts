import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import { buildSetupIntent } from "../builders/payment.ts";
import { buildItem, buildSubscription } from "../builders/subscription.ts";
import { chargeOutcome } from "../cards.ts";
import { type Ctx, emitFirst } from "../context.ts";
import { cardError, invalidParam, invalidRequest, StripeApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import {
  isRecord,
  mergeMetadata,
  optArr,
  optBool,
  optEnum,
  optInt,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { getPrice } from "../resources/catalog.ts";
import { getCustomer } from "../resources/customers.ts";
import { requireAttachedPm } from "../resources/payment-methods.ts";
import { chooseDiscounts, discountedAmount, setDiscounts } from "./discounts.ts";
import { pendingItemSeeds } from "./invoice-items.ts";
import { createSubscriptionInvoice, customerIdOf, finalizeInvoice } from "./invoicing.ts";
import { afterPayment } from "./lifecycle.ts";
import { attemptInvoicePayment } from "./payments.ts";
import { nextPeriodEnd } from "./periods.ts";
import { trialSettingsOf } from "./plan-change.ts";

export interface ItemRequest {
  price: Stripe.Price;
  quantity: number;
}

export function parseItems(ctx: Ctx, p: Params, param = "items"): ItemRequest[] {
  const raw = optArr(p, param) ?? [];
  return raw.map((entry, i) => {
    if (!isRecord(entry)) throw invalidParam(`${param}[${i}]`, "Invalid item.");
    if (entry.price_data !== undefined) {
      throw invalidParam(
        `${param}[${i}][price_data]`,
        "price_data is not supported by the emulator; create a Price first.",
      );
    }
    const price = getPrice(ctx, reqStr(entry, "price"), `${param}[${i}][price]`);
    return { price, quantity: optInt(entry, "quantity") ?? 1 };
  });
}

export function validatePrices(items: ItemRequest[]): string {
  if (items.length === 0) throw invalidParam("items", "Missing required param: items.");
  const currency = items[0]?.price.currency ?? "usd";
  for (const { price } of items) {
    if (!price.recurring) {
      throw invalidParam(
        "items",
        `The price specified (${price.id}) is not recurring; use a recurring price.`,
      );
    }
    if (!price.active) {
      throw invalidParam(
        "items",
        `The price specified is inactive. This field only accepts active prices.`,
      );
    }
    if (price.currency !== currency) {
      throw invalidParam("items", "All prices on a subscription must have the same currency.");
    }
  }
  return currency;
}

function trialEndOf(p: Params, now: number): number | null {
  const raw = optStr(p, "trial_end");
  if (raw === "now") return null;
  if (raw !== undefined) {
    const end = Number(raw);
    if (!Number.isInteger(end) || end <= now) {
      throw invalidParam(
        "trial_end",
        "Invalid timestamp: must be an integer Unix timestamp in the future.",
      );
    }
    return end;
  }
  const days = optInt(p, "trial_period_days");
  return days ? now + days * 86_400 : null;
}

/**
 * `error_if_incomplete` answers 402 without creating anything; the outcome is known in
 * advance because test cards are deterministic.
 */
function precheckPayment(ctx: Ctx, pmId: string | null, behavior: string, amount: number): void {
  if (amount === 0 || behavior === "default_incomplete") return;
  if (!pmId) {
    throw invalidRequest(
      "This customer has no attached payment source or default payment method. Please consider adding a default payment method.",
      undefined,
      "resource_missing",
    );
  }
  if (behavior !== "error_if_incomplete") return;
  const internal = ctx.state.pmInternal[pmId];
  if (!internal) return;
  const outcome = chargeOutcome(internal.behavior, {
    onSession: true,
    setUp: internal.setUp,
    authenticated: false,
  });
  if (outcome.kind === "declined") {
    throw cardError(outcome.decline.message, outcome.decline.code, outcome.decline.declineCode);
  }
  if (outcome.kind === "requires_action") {
    throw new StripeApiError(402, {
      type: "card_error",
      code: "invoice_payment_intent_requires_action",
      message:
        "This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice.",
    });
  }
}

/**
 * Stripe's wording of a subscription line: "1 × Pro (at $9.99 / month)", and "Trial period for
 * Pro" on a trial's invoice; the product's name, the price's nickname only when it has none.
 */
function lineDescription(ctx: Ctx, price: Stripe.Price, quantity: number, trial: boolean): string {
  const productId = typeof price.product === "string" ? price.product : price.product.id;
  const name = ctx.state.products[productId]?.name ?? price.nickname ?? price.id;
  if (trial) return `Trial period for ${name}`;
  const format = new Intl.NumberFormat("en-US", { style: "currency", currency: price.currency });
  const digits = format.resolvedOptions().maximumFractionDigits ?? 2;
  const amount = format.format((price.unit_amount ?? 0) / 10 ** digits);
  const r = price.recurring;
  const every = !r
    ? ""
    : r.interval_count === 1
      ? ` / ${r.interval}`
      : ` / every ${r.interval_count} ${r.interval}s`;
  return `${quantity} × ${name} (at ${amount}${every})`;
}

export function lineSeeds(ctx: Ctx, sub: Stripe.Subscription, trial: boolean): LineSeed[] {
  return sub.items.data.map((item) => ({
    price: item.price,
    quantity: item.quantity ?? 1,
    amount: trial ? 0 : (item.price.unit_amount ?? 0) * (item.quantity ?? 1),
    period: { start: item.current_period_start, end: item.current_period_end },
    subscription: sub.id,
    subscriptionItem: item.id,
    proration: false,
    description: lineDescription(ctx, item.price, item.quantity ?? 1, trial),
  }));
}

export function createSubscription(ctx: Ctx, p: Params): Stripe.Subscription {
  const customer = getCustomer(ctx, reqStr(p, "customer"), "customer");
  const items = parseItems(ctx, p);
  const currency = validatePrices(items);
  const behavior =
    optEnum(p, "payment_behavior", [
      "allow_incomplete",
      "default_incomplete",
      "error_if_incomplete",
      "pending_if_incomplete",
    ] as const) ?? "allow_incomplete";
  if (behavior === "pending_if_incomplete") {
    throw invalidParam(
      "payment_behavior",
      "pending_if_incomplete is only supported on subscription updates.",
    );
  }
  const dpm = optStr(p, "default_payment_method");
  const pm = dpm ? requireAttachedPm(ctx, dpm, customer.id).id : null;
  const now = ctx.now(customer.id);
  const trialEnd = trialEndOf(p, now);
  const amount = trialEnd
    ? 0
    : items.reduce((s, i) => s + (i.price.unit_amount ?? 0) * i.quantity, 0);
  const discounts = chooseDiscounts(ctx, p, {
    customer: customer.id,
    currency,
    amount,
    current: [],
  });
  const payer =
    pm ??
    (typeof customer.invoice_settings.default_payment_method === "string"
      ? customer.invoice_settings.default_payment_method
      : null);
  const due = trialEnd ? 0 : discountedAmount(discounts, items, currency);
  precheckPayment(ctx, payer, behavior, due);
  const save = optObj(p, "payment_settings");
  const id = newId("sub");
  const anchor = trialEnd ?? now;
  const subItems = items.map((i) => {
    const end =
      trialEnd ??
      nextPeriodEnd(
        anchor,
        now,
        i.price.recurring ?? {
          interval: "month",
          interval_count: 1,
          meter: null,
          trial_period_days: null,
          usage_type: "licensed",
        },
      );
    return buildItem(i.price, i.quantity, id, { start: now, end }, now);
  });
  const sub = buildSubscription(
    {
      id,
      customer: customer.id,
      currency,
      created: now,
      anchor,
      testClock: typeof customer.test_clock === "string" ? customer.test_clock : null,
      metadata: mergeMetadata({}, p),
      defaultPaymentMethod: pm,
      saveDefaultPaymentMethod:
        save && optStr(save, "save_default_payment_method") === "on_subscription"
          ? "on_subscription"
          : "off",
      trial: trialEnd ? { start: now, end: trialEnd } : null,
    },
    subItems,
  );
  if (optBool(p, "cancel_at_period_end")) sub.cancel_at_period_end = true;
  sub.trial_settings = trialSettingsOf(p) ?? sub.trial_settings;
  ctx.state.subscriptions[id] = sub;
  ctx.state.subInternal[id] = {
    paymentBehavior: behavior,
    trialWillEndSent: false,
    upcomingSentFor: null,
  };
  emitFirst(
    ctx,
    () => {
      if (discounts) setDiscounts(ctx, sub, discounts);
      startBilling(ctx, sub, behavior, trialEnd !== null);
    },
    () => ctx.emit("customer.subscription.created", sub, { customerId: customer.id }),
  );
  return sub;
}

/** The first invoice: finalized at once, paid now unless `default_incomplete`. */
function startBilling(ctx: Ctx, sub: Stripe.Subscription, behavior: string, trial: boolean): void {
  const inv = createSubscriptionInvoice(
    ctx,
    sub,
    "subscription_create",
    // Pending invoice items (a setup fee, say) are billed on the first invoice, as at Stripe.
    [...pendingItemSeeds(ctx, sub), ...lineSeeds(ctx, sub, trial)],
    null,
  );
  finalizeInvoice(ctx, inv);
  if (trial) {
    sub.status = "trialing";
    afterPayment(ctx, inv, attemptInvoicePayment(ctx, inv, { onSession: true }), { silent: true });
    if (behavior === "default_incomplete") {
      const pm = typeof sub.default_payment_method === "string" ? sub.default_payment_method : null;
      const si = buildSetupIntent(customerIdOf(sub), pm, sub.created);
      ctx.state.setupIntents[si.id] = si;
      sub.pending_setup_intent = si.id;
    }
    return;
  }
  if (behavior === "default_incomplete" && inv.amount_due > 0) return;
  const result = attemptInvoicePayment(ctx, inv, { onSession: true });
  afterPayment(ctx, inv, result, { silent: true });
}
