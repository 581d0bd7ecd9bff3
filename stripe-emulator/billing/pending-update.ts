import type Stripe from "stripe";
import type { LineSeed } from "../builders/invoice.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest } from "../errors.ts";
import { isRecord, optArr, type Params } from "../params.ts";
import {
  createSubscriptionInvoice,
  customerIdOf,
  finalizeInvoice,
  voidInvoice,
} from "./invoicing.ts";
import { attemptInvoicePayment, type PaymentResult } from "./payments.ts";
import type { PlannedChange } from "./plan-change.ts";

/** `changeSubscription` (lifecycle.ts), passed in: lifecycle calls this module. */
export type ChangeFn = (
  ctx: Ctx,
  sub: Stripe.Subscription,
  mutate: (s: Stripe.Subscription) => void,
) => void;

/** Stripe keeps a pending update for 23 hours before it expires. */
const PENDING_UPDATE_SECONDS = 23 * 3600;

/** The update parameters Stripe's pending-updates reference allows with `pending_if_incomplete`. */
const PENDING_PARAMS = new Set([
  "expand",
  "payment_behavior",
  "proration_behavior",
  "proration_date",
  "billing_cycle_anchor",
  "items",
  "trial_end",
  "trial_from_plan",
  "add_invoice_items",
]);
const PENDING_ITEM_PARAMS = new Set(["id", "price", "quantity"]);

function refusal(param: string): never {
  throw invalidRequest(
    `The parameter \`${param}\` cannot be used with \`payment_behavior=pending_if_incomplete\`. Pending updates support only \`billing_cycle_anchor\`, \`items\` (\`price\`, \`quantity\`), \`proration_behavior\`, \`proration_date\`, \`trial_end\`, \`trial_from_plan\` and \`add_invoice_items\`.`,
    param,
  );
}

export function refuseUnsupportedPendingParams(p: Params): void {
  for (const key of Object.keys(p)) if (!PENDING_PARAMS.has(key)) refusal(key);
  for (const [i, entry] of (optArr(p, "items") ?? []).entries()) {
    if (!isRecord(entry)) continue;
    for (const key of Object.keys(entry)) {
      if (!PENDING_ITEM_PARAMS.has(key)) refusal(`items[${i}][${key}]`);
    }
  }
}

function pendingUpdateOf(change: PlannedChange, sub: Stripe.Subscription, now: number) {
  const pending: Stripe.Subscription.PendingUpdate = {
    billing_cycle_anchor:
      change.next.billing_cycle_anchor !== sub.billing_cycle_anchor
        ? change.next.billing_cycle_anchor
        : null,
    cancel_at_period_end: null,
    discount: null,
    discounts: null,
    expires_at: now + PENDING_UPDATE_SECONDS,
    metadata: null,
    subscription_items: change.next.items.data,
    trial_end: change.next.trial_end !== sub.trial_end ? change.next.trial_end : null,
    trial_from_plan: null,
  };
  return pending;
}

/**
 * `payment_behavior=pending_if_incomplete`: the change's invoice is created and charged first.
 * Paid, the change applies; otherwise the subscription keeps its items and carries the change as
 * `pending_update` until the invoice is paid (applied) or 23 hours pass (expired), and it keeps
 * its status: an unpaid pending update does not make it `past_due`.
 */
export function startPendingUpdate(
  ctx: Ctx,
  sub: Stripe.Subscription,
  change: PlannedChange,
  lines: LineSeed[],
  changeSubscription: ChangeFn,
): void {
  const now = ctx.now(customerIdOf(sub));
  const inv = createSubscriptionInvoice(ctx, sub, "subscription_update", lines, null);
  finalizeInvoice(ctx, inv);
  ctx.state.pendingUpdates[sub.id] = { invoice: inv.id };
  const result = attemptInvoicePayment(ctx, inv, { onSession: false });
  if (result.kind === "paid") {
    delete ctx.state.pendingUpdates[sub.id];
    changeSubscription(ctx, sub, (s) => Object.assign(s, change.next, { latest_invoice: inv.id }));
    return;
  }
  changeSubscription(ctx, sub, (s) => {
    s.pending_update = pendingUpdateOf(change, sub, now);
  });
}

function applyPending(s: Stripe.Subscription, pending: Stripe.Subscription.PendingUpdate): void {
  if (pending.subscription_items) s.items.data = pending.subscription_items;
  if (pending.billing_cycle_anchor !== null) s.billing_cycle_anchor = pending.billing_cycle_anchor;
  if (pending.trial_end !== null) s.trial_end = pending.trial_end;
  s.pending_update = null;
}

/**
 * Called for every invoice payment result: when the invoice is a pending update's, a payment
 * applies the update (`customer.subscription.pending_update_applied`) and a failure leaves it
 * pending. Answers whether the invoice was a pending update's (then nothing else follows).
 */
export function settlePendingUpdate(
  ctx: Ctx,
  sub: Stripe.Subscription,
  inv: Stripe.Invoice,
  result: PaymentResult,
  changeSubscription: ChangeFn,
): boolean {
  if (ctx.state.pendingUpdates[sub.id]?.invoice !== inv.id) return false;
  const pending = sub.pending_update;
  if (result.kind !== "paid" || !pending) return true;
  delete ctx.state.pendingUpdates[sub.id];
  changeSubscription(ctx, sub, (s) => applyPending(s, pending));
  ctx.emit("customer.subscription.pending_update_applied", sub, { customerId: customerIdOf(sub) });
  return true;
}

/** 23 hours unpaid: the update is dropped and its invoice voided. */
export function expirePendingUpdate(
  ctx: Ctx,
  sub: Stripe.Subscription,
  changeSubscription: ChangeFn,
): void {
  const invId = ctx.state.pendingUpdates[sub.id]?.invoice;
  delete ctx.state.pendingUpdates[sub.id];
  const inv = invId ? ctx.state.invoices[invId] : undefined;
  if (inv && inv.status === "open") voidInvoice(ctx, inv);
  changeSubscription(ctx, sub, (s) => {
    s.pending_update = null;
  });
  ctx.emit("customer.subscription.pending_update_expired", sub, { customerId: customerIdOf(sub) });
}
