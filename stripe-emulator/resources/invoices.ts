import type Stripe from "stripe";
import {
  customerIdOf,
  finalizeInvoice,
  getInvoice,
  markUncollectible,
  subscriptionIdOf,
  voidInvoice,
} from "../billing/invoicing.ts";
import { afterPayment } from "../billing/lifecycle.ts";
import { attemptInvoicePayment, markInvoicePaid, type PaymentResult } from "../billing/payments.ts";
import { previewInvoice } from "../billing/preview.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidRequest, noSuchObject, StripeApiError } from "../errors.ts";
import { matchesRange, paginate } from "../lists.ts";
import { expandList, optBool, optObj, optStr, type Params } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { requireAttachedPm } from "./payment-methods.ts";

/** A failed payment is answered like Stripe: 402 with the decline, after state is recorded. */
export function throwIfUnpaid(result: PaymentResult, pi: Stripe.PaymentIntent | undefined): void {
  if (result.kind === "declined") {
    throw cardError(result.decline.message, result.decline.code, result.decline.declineCode, {
      payment_intent: pi,
    });
  }
  if (result.kind === "requires_action") {
    throw new StripeApiError(402, {
      type: "card_error",
      code: "invoice_payment_intent_requires_action",
      message:
        "This payment requires additional user action before it can be completed successfully.",
      payment_intent: pi,
    });
  }
  if (result.kind === "no_payment_method") {
    throw invalidRequest(
      "There is no `default_payment_method` set on this Customer or Invoice.",
      undefined,
      "invoice_no_payment_method_types",
    );
  }
}

function pay(ctx: Ctx, inv: Stripe.Invoice, p: Params): Stripe.Invoice {
  if (inv.status === "paid") throw invalidRequest("Invoice is already paid.");
  if (inv.status === "void") {
    throw invalidRequest("You cannot pay a voided invoice.", undefined, "invoice_not_editable");
  }
  if (inv.status === "draft") finalizeInvoice(ctx, inv);
  if (optBool(p, "paid_out_of_band")) {
    markInvoicePaid(ctx, inv, null, true);
    afterPayment(ctx, inv, { kind: "paid", paymentMethod: null });
    return inv;
  }
  const pmId = optStr(p, "payment_method");
  const pm = pmId
    ? requireAttachedPm(ctx, pmId, customerIdOf(inv), "payment_method").id
    : undefined;
  const onSession = optBool(p, "off_session") === false;
  const result = attemptInvoicePayment(ctx, inv, { onSession, paymentMethod: pm });
  afterPayment(ctx, inv, result);
  throwIfUnpaid(
    result,
    result.kind === "declined" ? (result.paymentIntent ?? undefined) : undefined,
  );
  return inv;
}

function list(ctx: Ctx, p: Params): Stripe.Invoice[] {
  const customer = optStr(p, "customer");
  const subscription = optStr(p, "subscription");
  const status = optStr(p, "status");
  return Object.values(ctx.state.invoices).filter(
    (inv) =>
      (customer === undefined || inv.customer === customer) &&
      (subscription === undefined || subscriptionIdOf(inv) === subscription) &&
      (status === undefined || inv.status === status) &&
      matchesRange(inv.created, p.created),
  );
}

function listPayments(ctx: Ctx, p: Params): Stripe.InvoicePayment[] {
  const invoice = optStr(p, "invoice");
  const payment = optObj(p, "payment");
  const pi = payment ? optStr(payment, "payment_intent") : undefined;
  const type = payment ? optStr(payment, "type") : undefined;
  const status = optStr(p, "status");
  return Object.values(ctx.state.invoicePayments).filter(
    (ip) =>
      (invoice === undefined || ip.invoice === invoice) &&
      (pi === undefined || ip.payment.payment_intent === pi) &&
      (type === undefined || ip.payment.type === type) &&
      (status === undefined || ip.status === status),
  );
}

function expandFor(p: Params): string[] {
  return expandList(p);
}

export const invoiceRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/invoices/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getInvoice(ctx, args.id ?? "", "id"), expandFor(params)),
  },
  {
    method: "GET",
    path: "/v1/invoices",
    handler: ({ ctx, params }) =>
      render(ctx.state, paginate(list(ctx, params), params, "/v1/invoices"), expandFor(params)),
  },
  {
    method: "GET",
    path: "/v1/invoices/:id/lines",
    handler: ({ ctx, params, args }) => {
      const inv = getInvoice(ctx, args.id ?? "", "id");
      const url = `/v1/invoices/${inv.id}/lines`;
      // Lines are stored oldest first already; paginate expects creation order.
      return render(
        ctx.state,
        paginate([...inv.lines.data].reverse(), params, url),
        expandFor(params),
      );
    },
  },
  {
    method: "POST",
    path: "/v1/invoices/:id/pay",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, pay(ctx, getInvoice(ctx, args.id ?? "", "id"), params), expandFor(params)),
  },
  {
    method: "POST",
    path: "/v1/invoices/:id/finalize",
    handler: ({ ctx, params, args }) => {
      const inv = getInvoice(ctx, args.id ?? "", "id");
      if (inv.status !== "draft")
        throw invalidRequest(
          "This invoice is already finalized.",
          undefined,
          "invoice_not_editable",
        );
      finalizeInvoice(ctx, inv);
      return render(ctx.state, inv, expandFor(params));
    },
  },
  {
    method: "POST",
    path: "/v1/invoices/:id/void",
    handler: ({ ctx, params, args }) => {
      const inv = getInvoice(ctx, args.id ?? "", "id");
      if (inv.status !== "open" && inv.status !== "uncollectible") {
        throw invalidRequest(
          `You can only void an open or uncollectible invoice; this one is ${inv.status}.`,
        );
      }
      voidInvoice(ctx, inv);
      return render(ctx.state, inv, expandFor(params));
    },
  },
  {
    method: "POST",
    path: "/v1/invoices/:id/mark_uncollectible",
    handler: ({ ctx, params, args }) => {
      const inv = getInvoice(ctx, args.id ?? "", "id");
      if (inv.status !== "open")
        throw invalidRequest("You can only mark an open invoice uncollectible.");
      markUncollectible(ctx, inv, "user_forgiven");
      return render(ctx.state, inv, expandFor(params));
    },
  },
  {
    method: "POST",
    path: "/v1/invoices/create_preview",
    handler: ({ ctx, params }) => render(ctx.state, previewInvoice(ctx, params), expandFor(params)),
  },
  {
    method: "GET",
    path: "/v1/invoice_payments/:id",
    handler: ({ ctx, params, args }) => {
      const ip = ctx.state.invoicePayments[args.id ?? ""];
      if (!ip) throw noSuchObject(args.id ?? "");
      return render(ctx.state, ip, expandFor(params));
    },
  },
  {
    method: "GET",
    path: "/v1/invoice_payments",
    handler: ({ ctx, params }) =>
      render(
        ctx.state,
        paginate(listPayments(ctx, params), params, "/v1/invoice_payments"),
        expandFor(params),
      ),
  },
];
