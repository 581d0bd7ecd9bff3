import type Stripe from "stripe";
import { customerIdOf, invoiceOfPaymentIntent } from "../billing/invoicing.ts";
import { afterPayment } from "../billing/lifecycle.ts";
import { attemptInvoicePayment } from "../billing/payments.ts";
import { buildRefund } from "../builders/payment.ts";
import type { Ctx } from "../context.ts";
import { invalidRequest, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { matchesRange, paginate } from "../lists.ts";
import { expandList, mergeMetadata, optEnum, optInt, optStr, type Params } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { throwIfUnpaid } from "./invoices.ts";
import { paymentMethodForConfirm } from "./payment-methods.ts";

export function getPaymentIntent(ctx: Ctx, id: string): Stripe.PaymentIntent {
  const pi = ctx.state.paymentIntents[id];
  if (!pi) throw noSuchObject(id);
  return pi;
}

/**
 * Confirms an invoice's PaymentIntent. `authenticated` is the test control standing for the
 * customer completing 3-D Secure; the API call itself cannot pass a challenge.
 */
export function confirmPaymentIntent(
  ctx: Ctx,
  pi: Stripe.PaymentIntent,
  p: Params,
  authenticated: boolean,
): Stripe.PaymentIntent {
  if (pi.status === "succeeded" || pi.status === "canceled") {
    throw invalidRequest(
      `This PaymentIntent's status is ${pi.status}, so it cannot be confirmed.`,
      undefined,
      "payment_intent_unexpected_state",
    );
  }
  const inv = invoiceOfPaymentIntent(ctx, pi.id);
  if (!inv) throw invalidRequest("The emulator only confirms PaymentIntents created by invoices.");
  const customerId = customerIdOf(pi);
  const pmParam = optStr(p, "payment_method");
  const paymentMethod = pmParam
    ? paymentMethodForConfirm(ctx, pmParam, customerId)
    : typeof pi.payment_method === "string"
      ? pi.payment_method
      : undefined;
  const result = attemptInvoicePayment(ctx, inv, { onSession: true, authenticated, paymentMethod });
  afterPayment(ctx, inv, result);
  if (result.kind === "declined") throwIfUnpaid(result, pi);
  if (result.kind === "no_payment_method") {
    throw invalidRequest(
      "You cannot confirm this PaymentIntent because it's missing a payment method.",
      "payment_method",
      "payment_intent_unexpected_state",
    );
  }
  return pi;
}

function refund(ctx: Ctx, p: Params): Stripe.Refund {
  const piId = optStr(p, "payment_intent");
  const chargeId = optStr(p, "charge") ?? (piId ? getPaymentIntent(ctx, piId).latest_charge : null);
  if (typeof chargeId !== "string")
    throw invalidRequest("One of `charge` or `payment_intent` is required.");
  const charge = ctx.state.charges[chargeId];
  if (!charge) throw noSuchObject(chargeId, "charge");
  if (charge.status !== "succeeded")
    throw invalidRequest("You can only refund a succeeded charge.");
  const remaining = charge.amount - charge.amount_refunded;
  const amount = optInt(p, "amount") ?? remaining;
  if (amount <= 0 || amount > remaining) {
    throw invalidRequest(
      `Refund amount (${amount}) is greater than the unrefunded amount on the charge (${remaining}).`,
      "amount",
      "charge_already_refunded",
    );
  }
  const customerId = customerIdOf(charge);
  const reason = optEnum(p, "reason", [
    "duplicate",
    "fraudulent",
    "requested_by_customer",
  ] as const);
  const re = buildRefund(charge, amount, ctx.now(customerId), reason ?? null);
  re.metadata = mergeMetadata({}, p);
  ctx.state.refunds[re.id] = re;
  const previous = { amount_refunded: charge.amount_refunded, refunded: charge.refunded };
  charge.amount_refunded += amount;
  charge.refunded = charge.amount_refunded === charge.amount;
  ctx.emit("refund.created", re, { customerId });
  ctx.emit("charge.refunded", charge, { customerId, previous });
  return re;
}

function getCharge(ctx: Ctx, id: string): Stripe.Charge {
  const ch = ctx.state.charges[id];
  if (!ch) throw noSuchObject(id);
  return ch;
}

function updateCharge(ctx: Ctx, ch: Stripe.Charge, p: Params): Stripe.Charge {
  const before = wire(ch);
  const description = optStr(p, "description");
  if (description !== undefined) ch.description = description === "" ? null : description;
  ch.metadata = mergeMetadata(ch.metadata, p);
  const previous = previousAttributes(before, ch);
  if (previous) ctx.emit("charge.updated", ch, { previous, customerId: customerIdOf(ch) });
  return ch;
}

export const paymentIntentRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/payment_intents/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getPaymentIntent(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/payment_intents/:id/confirm",
    handler: ({ ctx, params, args }) =>
      render(
        ctx.state,
        confirmPaymentIntent(ctx, getPaymentIntent(ctx, args.id ?? ""), params, false),
        expandList(params),
      ),
  },
  {
    method: "GET",
    path: "/v1/payment_intents",
    handler: ({ ctx, params }) => {
      const customer = optStr(params, "customer");
      const all = Object.values(ctx.state.paymentIntents).filter(
        (pi) => customer === undefined || pi.customer === customer,
      );
      return render(ctx.state, paginate(all, params, "/v1/payment_intents"), expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/charges/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getCharge(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/charges/:id",
    handler: ({ ctx, params, args }) =>
      render(
        ctx.state,
        updateCharge(ctx, getCharge(ctx, args.id ?? ""), params),
        expandList(params),
      ),
  },
  {
    method: "GET",
    path: "/v1/charges",
    handler: ({ ctx, params }) => {
      const customer = optStr(params, "customer");
      const pi = optStr(params, "payment_intent");
      const all = Object.values(ctx.state.charges).filter(
        (ch) =>
          (customer === undefined || ch.customer === customer) &&
          (pi === undefined || ch.payment_intent === pi) &&
          matchesRange(ch.created, params.created),
      );
      return render(ctx.state, paginate(all, params, "/v1/charges"), expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/refunds",
    handler: ({ ctx, params }) => render(ctx.state, refund(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/refunds/:id",
    handler: ({ ctx, params, args }) => {
      const re = ctx.state.refunds[args.id ?? ""];
      if (!re) throw noSuchObject(args.id ?? "");
      return render(ctx.state, re, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/refunds",
    handler: ({ ctx, params }) => {
      // Stripe filters by either; ignoring `charge` listed every customer's refunds for one charge.
      const pi = optStr(params, "payment_intent");
      const charge = optStr(params, "charge");
      const all = Object.values(ctx.state.refunds).filter(
        (r) =>
          (pi === undefined || r.payment_intent === pi) &&
          (charge === undefined || r.charge === charge),
      );
      return render(ctx.state, paginate(all, params, "/v1/refunds"), expandList(params));
    },
  },
];
