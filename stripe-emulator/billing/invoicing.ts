import type Stripe from "stripe";
import { buildInvoice, buildInvoicePayment, type LineSeed } from "../builders/invoice.ts";
import { buildPaymentIntent } from "../builders/payment.ts";
import type { Ctx } from "../context.ts";
import { noSuchObject } from "../errors.ts";
import { applyCustomerBalance, previewBalance, unapplyCustomerBalance } from "./balance.ts";
import { discountInvoice } from "./discounts.ts";
import { claimInvoiceItems } from "./invoice-items.ts";

export function getInvoice(ctx: Ctx, id: string, param = "invoice"): Stripe.Invoice {
  const inv = ctx.state.invoices[id];
  if (!inv) throw noSuchObject(id, param);
  return inv;
}

export function customerIdOf(obj: { customer: unknown }): string {
  const c = obj.customer;
  if (typeof c === "string") return c;
  if (typeof c === "object" && c !== null && "id" in c && typeof c.id === "string") return c.id;
  return "";
}

export function subscriptionIdOf(inv: Stripe.Invoice): string | null {
  const s = inv.parent?.subscription_details?.subscription;
  if (typeof s === "string") return s;
  return s?.id ?? null;
}

/**
 * Creates a draft invoice for a subscription and sends `invoice.created`. `period` is the span
 * its items may belong to: for a cycle invoice the period that just ended (Stripe's "looks back
 * one period"), while each line carries its own service period; otherwise the creation instant.
 */
export function createSubscriptionInvoice(
  ctx: Ctx,
  sub: Stripe.Subscription,
  reason: Stripe.Invoice.BillingReason,
  lines: LineSeed[],
  finalizeAt: number | null,
  period?: { start: number; end: number },
): Stripe.Invoice {
  const customerId = customerIdOf(sub);
  const customer = ctx.state.customers[customerId];
  if (!customer) throw noSuchObject(customerId, "customer");
  const created = ctx.now(customerId);
  const inv = buildInvoice(
    {
      customer,
      subscription: sub,
      billingReason: reason,
      created,
      period: period ?? { start: created, end: created },
    },
    lines,
  );
  discountInvoice(ctx, sub, inv);
  previewBalance(inv, customer.balance);
  ctx.state.invoices[inv.id] = inv;
  ctx.state.invoiceInternal[inv.id] = { finalizeAt, retriesDone: 0, firstFailedAt: null };
  claimInvoiceItems(ctx, lines, inv.id);
  sub.latest_invoice = inv.id;
  ctx.emit("invoice.created", inv, { customerId });
  return inv;
}

/** Who pays: the subscription's default payment method, else the customer's. */
export function paymentMethodFor(ctx: Ctx, inv: Stripe.Invoice): string | null {
  const subId = subscriptionIdOf(inv);
  const sub = subId ? ctx.state.subscriptions[subId] : undefined;
  const fromSub = sub?.default_payment_method;
  if (typeof fromSub === "string") return fromSub;
  const customer = ctx.state.customers[customerIdOf(inv)];
  const fromCustomer = customer?.invoice_settings.default_payment_method;
  return typeof fromCustomer === "string" ? fromCustomer : null;
}

/**
 * Draft → open: numbers the invoice, gives it hosted URLs and, when there is something to pay,
 * the PaymentIntent and default InvoicePayment Stripe creates at finalization.
 */
export function finalizeInvoice(ctx: Ctx, inv: Stripe.Invoice): void {
  const customerId = customerIdOf(inv);
  const customer = ctx.state.customers[customerId];
  const now = ctx.now(customerId);
  const seq = customer?.next_invoice_sequence ?? 1;
  if (customer) customer.next_invoice_sequence = seq + 1;
  inv.status = "open";
  inv.number = `${customer?.invoice_prefix ?? "EMU"}-${String(seq).padStart(4, "0")}`;
  inv.status_transitions.finalized_at = now;
  inv.effective_at = now;
  inv.hosted_invoice_url = `${ctx.baseUrl()}/invoices/${inv.id}`;
  inv.invoice_pdf = `${ctx.baseUrl()}/invoices/${inv.id}/pdf`;
  inv.webhooks_delivered_at = now;
  applyCustomerBalance(ctx, inv, customerId);
  const internal = ctx.state.invoiceInternal[inv.id];
  if (internal) internal.finalizeAt = null;
  inv.automatically_finalizes_at = null;
  if (inv.amount_due > 0) {
    const pi = buildPaymentIntent({
      amount: inv.amount_due,
      currency: inv.currency,
      customer: customerId,
      paymentMethod: paymentMethodFor(ctx, inv),
      created: now,
      description:
        inv.billing_reason === "subscription_create"
          ? "Subscription creation"
          : "Subscription update",
    });
    ctx.state.paymentIntents[pi.id] = pi;
    const payment = buildInvoicePayment(inv, pi.id, now);
    ctx.state.invoicePayments[payment.id] = payment;
    ctx.emit("payment_intent.created", pi, { customerId });
  }
  ctx.emit("invoice.finalized", inv, { customerId });
}

export function defaultPaymentOf(ctx: Ctx, invoiceId: string): Stripe.InvoicePayment | undefined {
  return Object.values(ctx.state.invoicePayments).find(
    (p) => p.invoice === invoiceId && p.is_default,
  );
}

export function paymentIntentOf(ctx: Ctx, invoiceId: string): Stripe.PaymentIntent | undefined {
  const piId = defaultPaymentOf(ctx, invoiceId)?.payment.payment_intent;
  return typeof piId === "string" ? ctx.state.paymentIntents[piId] : undefined;
}

export function invoiceOfPaymentIntent(ctx: Ctx, piId: string): Stripe.Invoice | undefined {
  const payment = Object.values(ctx.state.invoicePayments).find(
    (p) => p.payment.payment_intent === piId,
  );
  const invId = payment?.invoice;
  return typeof invId === "string" ? ctx.state.invoices[invId] : undefined;
}

export function voidInvoice(ctx: Ctx, inv: Stripe.Invoice): void {
  const customerId = customerIdOf(inv);
  inv.status = "void";
  inv.status_transitions.voided_at = ctx.now(customerId);
  inv.next_payment_attempt = null;
  inv.amount_remaining = 0;
  unapplyCustomerBalance(ctx, inv, customerId);
  const pi = paymentIntentOf(ctx, inv.id);
  if (pi && pi.status !== "succeeded" && pi.status !== "canceled") {
    pi.status = "canceled";
    pi.canceled_at = ctx.now(customerId);
    pi.cancellation_reason = "void_invoice";
    pi.next_action = null;
    ctx.emit("payment_intent.canceled", pi, { customerId });
  }
  const payment = defaultPaymentOf(ctx, inv.id);
  if (payment && payment.status === "open") {
    payment.status = "canceled";
    payment.status_transitions.canceled_at = ctx.now(customerId);
  }
  ctx.emit("invoice.voided", inv, { customerId });
}

export function markUncollectible(
  ctx: Ctx,
  inv: Stripe.Invoice,
  reason: Stripe.Invoice.StatusDetails.Uncollectible.Reason,
): void {
  const customerId = customerIdOf(inv);
  inv.status = "uncollectible";
  inv.status_details = { uncollectible: { reason } };
  inv.status_transitions.marked_uncollectible_at = ctx.now(customerId);
  inv.next_payment_attempt = null;
  ctx.emit("invoice.marked_uncollectible", inv, { customerId });
}
