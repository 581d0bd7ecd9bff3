import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest } from "../errors.ts";
import { mergeMetadata, optEnum, optNullableStr, type Params } from "../params.ts";
import { requireAttachedPm } from "../resources/payment-methods.ts";
import { chooseDiscounts, netProrations, redemptionOf, setDiscounts } from "./discounts.ts";
import { recordProrationItems } from "./invoice-items.ts";
import { createSubscriptionInvoice, customerIdOf, finalizeInvoice } from "./invoicing.ts";
import { afterPayment, changeSubscription, isEnded } from "./lifecycle.ts";
import { attemptInvoicePayment } from "./payments.ts";
import { refuseUnsupportedPendingParams, startPendingUpdate } from "./pending-update.ts";
import {
  billingOf,
  type ChangeBilling,
  type PlannedChange,
  type Proration,
  planChange,
  trialSettingsOf,
} from "./plan-change.ts";

export function prorationOf(p: Params): Proration {
  return (
    optEnum(p, "proration_behavior", ["create_prorations", "none", "always_invoice"] as const) ??
    "create_prorations"
  );
}

/** Fields an update sets as given, without billing consequences. */
function applyPlainFields(
  ctx: Ctx,
  next: Stripe.Subscription,
  p: Params,
  customerId: string,
): void {
  next.metadata = mergeMetadata(next.metadata, p);
  const dpm = optNullableStr(p, "default_payment_method");
  if (dpm === null) next.default_payment_method = null;
  else if (dpm !== undefined)
    next.default_payment_method = requireAttachedPm(ctx, dpm, customerId).id;
  const description = optNullableStr(p, "description");
  if (description !== undefined) next.description = description;
  next.trial_settings = trialSettingsOf(p) ?? next.trial_settings;
}

/** The subscription's change as `subscriptions.update` would make it, not yet applied. */
export function planUpdate(ctx: Ctx, sub: Stripe.Subscription, p: Params): PlannedChange {
  if (isEnded(sub)) {
    throw invalidRequest(
      "A canceled subscription can only update its cancellation_details and metadata.",
    );
  }
  const customerId = customerIdOf(sub);
  const change = planChange(ctx, sub, p, ctx.now(customerId));
  applyPlainFields(ctx, change.next, p, customerId);
  netProrations(ctx, sub, change.lines, change.at);
  return change;
}

export function updateSubscription(ctx: Ctx, sub: Stripe.Subscription, p: Params): void {
  const schedule = typeof sub.schedule === "string" ? sub.schedule : sub.schedule?.id;
  if (schedule && (p.cancel_at !== undefined || p.cancel_at_period_end !== undefined)) {
    throw invalidRequest(
      `The subscription is managed by the subscription schedule \`${schedule}\`, and updating any cancelation behavior directly is not allowed. Please update the schedule instead.`,
    );
  }
  const behavior = optEnum(p, "payment_behavior", [
    "allow_incomplete",
    "default_incomplete",
    "error_if_incomplete",
    "pending_if_incomplete",
  ] as const);
  const pending = behavior === "pending_if_incomplete";
  if (pending) refuseUnsupportedPendingParams(p);
  const change = planUpdate(ctx, sub, p);
  const discounts = chooseDiscounts(ctx, p, redemptionOf(sub));
  const billing = billingOf(change, prorationOf(p));
  if (pending && billing.now) {
    recordProrationItems(ctx, sub, billing.record);
    startPendingUpdate(ctx, sub, change, billing.now, changeSubscription);
    return;
  }
  changeSubscription(ctx, sub, (s) => {
    Object.assign(s, change.next);
    if (discounts) setDiscounts(ctx, s, discounts);
  });
  bill(ctx, sub, billing);
}

/** Records the prorations, then invoices them now or leaves them for the next renewal. */
function bill(ctx: Ctx, sub: Stripe.Subscription, billing: ChangeBilling): void {
  recordProrationItems(ctx, sub, billing.record);
  if (billing.now) {
    invoiceNow(ctx, sub, [...(ctx.state.pendingLines[sub.id] ?? []), ...billing.now]);
    delete ctx.state.pendingLines[sub.id];
  } else if (billing.later.length > 0) {
    ctx.state.pendingLines[sub.id] = [...(ctx.state.pendingLines[sub.id] ?? []), ...billing.later];
  }
}

/** An immediate `subscription_update` invoice, charged off-session like Stripe does. */
export function invoiceNow(ctx: Ctx, sub: Stripe.Subscription, lines: LineSeed[]): Stripe.Invoice {
  const inv = createSubscriptionInvoice(ctx, sub, "subscription_update", lines, null);
  finalizeInvoice(ctx, inv);
  afterPayment(ctx, inv, attemptInvoicePayment(ctx, inv, { onSession: false }));
  return inv;
}
