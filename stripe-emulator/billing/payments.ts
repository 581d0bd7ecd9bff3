import type Stripe from "stripe";
import { buildCharge } from "../builders/payment.ts";
import { chargeOutcome, type Decline } from "../cards.ts";
import type { Ctx } from "../context.ts";
import { previousAttributes } from "../events.ts";
import { wire } from "../store.ts";
import { customerIdOf, defaultPaymentOf, paymentIntentOf, paymentMethodFor } from "./invoicing.ts";

export type PaymentResult =
  | { kind: "paid"; paymentMethod: string | null }
  | { kind: "declined"; decline: Decline; paymentIntent: Stripe.PaymentIntent | null }
  | { kind: "requires_action"; paymentIntent: Stripe.PaymentIntent }
  | { kind: "no_payment_method" };

export interface AttemptOptions {
  /** The customer is present (first invoice, `paymentIntents.confirm`); renewals are not. */
  onSession: boolean;
  /** The customer has just completed 3-D Secure for this payment. */
  authenticated?: boolean;
  /** A payment method supplied for this attempt (confirm/pay with `payment_method`). */
  paymentMethod?: string;
}

/**
 * Charges an open invoice's PaymentIntent once, with the card outcome of its test payment
 * method, and records the result on the PaymentIntent, charge and invoice with their events.
 */
export function attemptInvoicePayment(
  ctx: Ctx,
  inv: Stripe.Invoice,
  opts: AttemptOptions,
): PaymentResult {
  const before = wire(inv);
  if (inv.amount_remaining === 0) {
    markInvoicePaid(ctx, inv, null, false, before);
    return { kind: "paid", paymentMethod: null };
  }
  const customerId = customerIdOf(inv);
  const pi = paymentIntentOf(ctx, inv.id);
  const pmId = opts.paymentMethod ?? paymentMethodFor(ctx, inv);
  const pm = pmId ? ctx.state.paymentMethods[pmId] : undefined;
  inv.attempted = true;
  inv.attempt_count += 1;
  if (!pi || !pm) {
    ctx.emit("invoice.payment_failed", inv, { customerId });
    return { kind: "no_payment_method" };
  }
  pi.payment_method = pm.id;
  const internal = ctx.state.pmInternal[pm.id] ?? { behavior: "succeed", setUp: false };
  const outcome = chargeOutcome(internal.behavior, {
    onSession: opts.onSession,
    setUp: internal.setUp,
    authenticated: opts.authenticated ?? false,
  });
  if (outcome.kind === "requires_action") {
    requireAction(ctx, pi, customerId);
    ctx.emit("invoice.payment_action_required", inv, { customerId });
    return { kind: "requires_action", paymentIntent: pi };
  }
  const now = ctx.now(customerId);
  const failure = outcome.kind === "declined" ? outcome.decline : null;
  const charge = buildCharge(pi, pm, now, failure);
  ctx.state.charges[charge.id] = charge;
  pi.latest_charge = charge.id;
  pi.next_action = null;
  if (failure) {
    pi.status = "requires_payment_method";
    pi.last_payment_error = lastPaymentError(failure, pm, charge.id);
    ctx.emit("charge.failed", charge, { customerId });
    ctx.emit("payment_intent.payment_failed", pi, { customerId });
    ctx.emit("invoice.payment_failed", inv, { customerId });
    emitInvoiceUpdated(ctx, before, inv);
    return { kind: "declined", decline: failure, paymentIntent: pi };
  }
  if (opts.authenticated) internal.setUp = true;
  pi.status = "succeeded";
  pi.amount_received = pi.amount;
  pi.last_payment_error = null;
  ctx.emit("charge.succeeded", charge, { customerId });
  ctx.emit("payment_intent.succeeded", pi, { customerId });
  markInvoicePaid(ctx, inv, charge.id, false, before);
  return { kind: "paid", paymentMethod: pm.id };
}

function requireAction(ctx: Ctx, pi: Stripe.PaymentIntent, customerId: string): void {
  pi.status = "requires_action";
  pi.next_action = {
    type: "use_stripe_sdk",
    use_stripe_sdk: {
      type: "three_d_secure_redirect",
      stripe_js: `${ctx.baseUrl()}/3ds/${pi.id}`,
      source: pi.id,
    },
  };
  ctx.emit("payment_intent.requires_action", pi, { customerId });
}

function lastPaymentError(
  decline: Decline,
  pm: Stripe.PaymentMethod,
  charge: string,
): Stripe.PaymentIntent.LastPaymentError {
  return {
    type: "card_error",
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    charge,
    payment_method: pm,
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`,
  };
}

/**
 * Marks an invoice paid; `chargeId` is null for $0 invoices and out-of-band payments.
 * `invoice.payment_succeeded` is not sent for out-of-band payments, `invoice.paid` always is.
 */
export function markInvoicePaid(
  ctx: Ctx,
  inv: Stripe.Invoice,
  chargeId: string | null,
  outOfBand = false,
  before: Stripe.Invoice = wire(inv),
): void {
  const customerId = customerIdOf(inv);
  const now = ctx.now(customerId);
  inv.status = "paid";
  inv.amount_paid = inv.amount_due;
  inv.amount_remaining = 0;
  inv.next_payment_attempt = null;
  inv.status_transitions.paid_at = now;
  const payment = defaultPaymentOf(ctx, inv.id);
  if (payment && chargeId) {
    payment.status = "paid";
    payment.amount_paid = payment.amount_requested;
    payment.status_transitions.paid_at = now;
    ctx.emit("invoice_payment.paid", payment, { customerId });
  }
  emitInvoiceUpdated(ctx, before, inv);
  ctx.emit("invoice.paid", inv, { customerId });
  if (!outOfBand) ctx.emit("invoice.payment_succeeded", inv, { customerId });
}

/** Stripe sends `invoice.updated` when a payment succeeds or fails, with what it changed. */
function emitInvoiceUpdated(ctx: Ctx, before: Stripe.Invoice, inv: Stripe.Invoice): void {
  const previous = previousAttributes(before, inv);
  if (previous) ctx.emit("invoice.updated", inv, { previous, customerId: customerIdOf(inv) });
}
