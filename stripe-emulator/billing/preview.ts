import type Stripe from "stripe";
import { buildInvoice, type LineSeed } from "../builders/invoice.ts";
import { buildItem, buildSubscription } from "../builders/subscription.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, noSuchObject, StripeApiError } from "../errors.ts";
import { newId } from "../ids.ts";
import { optObj, optStr, type Params, reqStr } from "../params.ts";
import { getCustomer } from "../resources/customers.ts";
import { previewBalance } from "./balance.ts";
import { lineSeeds, parseItems, validatePrices } from "./create-subscription.ts";
import { discountInvoice } from "./discounts.ts";
import { pendingItemSeeds } from "./invoice-items.ts";
import { customerIdOf } from "./invoicing.ts";
import { nextPeriodEnd } from "./periods.ts";
import { billingOf, type PlannedChange } from "./plan-change.ts";
import { upcomingInvoice } from "./renewal.ts";
import { planUpdate, prorationOf } from "./update-subscription.ts";

/**
 * `POST /v1/invoices/create_preview`. Nothing is stored, emitted or claimed: the preview is the
 * invoice the same code would create, with an `upcoming_in_…` id that cannot be retrieved.
 * - `subscription` alone: the next renewal (`invoice.upcoming`'s invoice).
 * - `subscription` + `subscription_details`: the change `subscriptions.update` would make with
 *   those parameters: its immediate invoice (interval change, `always_invoice`), else the next
 *   renewal with the prorations it would leave pending.
 * - `customer` + `subscription_details.items`: a new subscription's first invoice.
 */
export function previewInvoice(ctx: Ctx, p: Params): Stripe.Invoice {
  const details = optObj(p, "subscription_details") ?? {};
  const subId = optStr(p, "subscription");
  const inv = subId
    ? previewForSubscription(ctx, subId, optStr(p, "customer"), details)
    : previewNewSubscription(ctx, p, details);
  inv.id = `upcoming_${inv.id}`;
  inv.lines.url = `/v1/invoices/${inv.id}/lines`;
  for (const line of inv.lines.data) line.invoice = inv.id;
  return inv;
}

function previewForSubscription(
  ctx: Ctx,
  subId: string,
  customerId: string | undefined,
  details: Params,
): Stripe.Invoice {
  const sub = ctx.state.subscriptions[subId];
  if (!sub) throw noSuchObject(subId, "subscription");
  if (customerId !== undefined && customerId !== customerIdOf(sub)) {
    throw invalidRequest(
      `The subscription ${subId} does not belong to the customer ${customerId}.`,
      "subscription",
    );
  }
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw invalidRequest(`No upcoming invoices for a canceled subscription: ${subId}.`);
  }
  if (Object.keys(details).length === 0) {
    requireRenewal(sub);
    return upcomingInvoice(ctx, sub);
  }
  const change = planUpdate(ctx, sub, details);
  const billing = billingOf(change, prorationOf(details));
  if (!billing.now) requireRenewal(change.next);
  const inv = billing.now
    ? immediateInvoice(ctx, change, [...(ctx.state.pendingLines[sub.id] ?? []), ...billing.now])
    : upcomingInvoice(ctx, change.next, billing.later);
  if (change.lines.length > 0 && inv.parent?.subscription_details) {
    inv.parent.subscription_details.subscription_proration_date = change.at;
  }
  return inv;
}

/**
 * A subscription that ends at its period end, or is paused, has no next invoice to preview:
 * Stripe answers 404 `invoice_upcoming_none`.
 */
function requireRenewal(sub: Stripe.Subscription): void {
  const end = Math.min(...sub.items.data.map((i) => i.current_period_end));
  const ending = sub.cancel_at_period_end || (sub.cancel_at !== null && sub.cancel_at <= end);
  if (!ending && sub.status !== "paused") return;
  throw new StripeApiError(404, {
    type: "invalid_request_error",
    code: "invoice_upcoming_none",
    message: `No upcoming invoices for customer: ${customerIdOf(sub)}`,
  });
}

/**
 * An invoice billed now, as createSubscriptionInvoice builds it: discounted (without using up a
 * `once` discount) and with the customer balance applied.
 */
function invoiceBilledNow(
  ctx: Ctx,
  sub: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSeed[],
): Stripe.Invoice {
  const customer = getCustomer(ctx, customerIdOf(sub), "customer");
  const now = ctx.now(customer.id);
  const period = { start: now, end: now };
  const inv = buildInvoice(
    { customer, subscription: sub, billingReason: reason, created: now, period },
    lines,
  );
  discountInvoice(ctx, sub, inv, { at: now });
  previewBalance(inv, customer.balance);
  inv.next_payment_attempt = now;
  return inv;
}

/** The `subscription_update` invoice a change would be billed on at once. */
function immediateInvoice(ctx: Ctx, change: PlannedChange, lines: LineSeed[]): Stripe.Invoice {
  return invoiceBilledNow(ctx, change.next, "subscription_update", lines);
}

/** A new subscription's first invoice: each item's first full period, billed now. */
function previewNewSubscription(ctx: Ctx, p: Params, details: Params): Stripe.Invoice {
  const customer = getCustomer(ctx, reqStr(p, "customer"), "customer");
  const items = parseItems(ctx, details);
  const currency = validatePrices(items);
  const now = ctx.now(customer.id);
  const id = newId("sub");
  const subItems = items.map(({ price, quantity }) => {
    const recurring = price.recurring;
    const end = recurring ? nextPeriodEnd(now, now, recurring) : now;
    return buildItem(price, quantity, id, { start: now, end }, now);
  });
  const sub = buildSubscription(
    {
      id,
      customer: customer.id,
      currency,
      created: now,
      anchor: now,
      testClock: typeof customer.test_clock === "string" ? customer.test_clock : null,
      metadata: {},
      defaultPaymentMethod: null,
      saveDefaultPaymentMethod: "off",
      trial: null,
    },
    subItems,
  );
  const lines = [...pendingItemSeeds(ctx, sub), ...lineSeeds(ctx, sub, false)];
  const inv = invoiceBilledNow(ctx, sub, "subscription_create", lines);
  // The subscription does not exist: the preview names none.
  inv.parent = null;
  for (const line of inv.lines.data) {
    line.subscription = null;
    if (line.parent?.subscription_item_details) {
      line.parent.subscription_item_details.subscription = null;
    }
  }
  return inv;
}
