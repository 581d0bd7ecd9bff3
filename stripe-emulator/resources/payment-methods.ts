import type Stripe from "stripe";
import { attachDecline, TEST_CARDS, type TestCard } from "../cards.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidRequest, missingParam, noSuchObject } from "../errors.ts";
import { newId } from "../ids.ts";
import { paginate } from "../lists.ts";
import { expandList, optStr, reqStr } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";

function buildCard(id: string, card: TestCard, created: number): Stripe.PaymentMethod {
  return {
    id,
    object: "payment_method",
    allow_redisplay: "unspecified",
    billing_details: { address: null, email: null, name: null, phone: null, tax_id: null },
    card: {
      brand: card.brand,
      checks: { address_line1_check: null, address_postal_code_check: null, cvc_check: "pass" },
      country: "US",
      display_brand: card.brand,
      exp_month: 12,
      exp_year: new Date(created * 1000).getUTCFullYear() + 3,
      fingerprint: `fp${card.last4}${card.brand}`,
      funding: card.funding,
      generated_from: null,
      last4: card.last4,
      networks: { available: [card.brand], preferred: null },
      regulated_status: "unregulated",
      three_d_secure_usage: { supported: true },
      wallet: null,
    },
    created,
    customer: null,
    customer_account: null,
    livemode: false,
    metadata: {},
    type: "card",
  };
}

/** A test id (`pm_card_visa`) or an existing `pm_…`, as the object it stands for. */
export function getPaymentMethod(ctx: Ctx, id: string, param = "id"): Stripe.PaymentMethod {
  const pm = ctx.state.paymentMethods[id];
  if (pm) return pm;
  const card = TEST_CARDS[id];
  if (card) return buildCard(id, card, ctx.now());
  throw noSuchObject(id, param);
}

/**
 * Attaching a test id creates a new `pm_…` each time, as Stripe does; declining test cards
 * are refused here with the decline they stand for (docs.stripe.com/testing).
 */
export function attachPaymentMethod(
  ctx: Ctx,
  id: string,
  customerId: string,
): Stripe.PaymentMethod {
  if (!ctx.state.customers[customerId]) throw noSuchObject(customerId, "customer");
  const card = TEST_CARDS[id];
  if (card) {
    const decline = attachDecline(card.behavior);
    if (decline) throw cardError(decline.message, decline.code, decline.declineCode);
    const pm = buildCard(newId("pm"), card, ctx.now(customerId));
    pm.customer = customerId;
    ctx.state.paymentMethods[pm.id] = pm;
    ctx.state.pmInternal[pm.id] = { behavior: card.behavior, setUp: false };
    ctx.emit("payment_method.attached", pm, { customerId });
    return pm;
  }
  const pm = getPaymentMethod(ctx, id);
  if (pm.customer === customerId) return pm;
  if (pm.customer) {
    throw invalidRequest(
      "The payment method you provided has already been attached to a customer.",
      "payment_method",
    );
  }
  pm.customer = customerId;
  ctx.emit("payment_method.attached", pm, { customerId });
  return pm;
}

/** Subscriptions and invoices only use payment methods attached to their customer. */
export function requireAttachedPm(
  ctx: Ctx,
  id: string,
  customerId: string,
  param = "default_payment_method",
): Stripe.PaymentMethod {
  const pm = ctx.state.paymentMethods[id];
  if (!pm || pm.customer !== customerId) {
    throw invalidRequest(
      `The customer does not have a payment method with the ID ${id}. The payment method must be attached to the customer.`,
      param,
      "resource_missing",
    );
  }
  return pm;
}

function detach(ctx: Ctx, id: string): Stripe.PaymentMethod {
  const pm = ctx.state.paymentMethods[id];
  if (!pm) throw noSuchObject(id);
  const customerId = typeof pm.customer === "string" ? pm.customer : null;
  if (!customerId) {
    throw invalidRequest("The payment method you provided is not attached to a customer.");
  }
  pm.customer = null;
  const customer = ctx.state.customers[customerId];
  if (customer && customer.invoice_settings.default_payment_method === id) {
    const previous = { invoice_settings: { ...customer.invoice_settings } };
    customer.invoice_settings.default_payment_method = null;
    ctx.emit("customer.updated", customer, { previous, customerId });
  }
  ctx.emit("payment_method.detached", pm, { customerId });
  return pm;
}

function listFor(ctx: Ctx, customerId: string, type: string | undefined) {
  if (!ctx.state.customers[customerId]) throw noSuchObject(customerId, "customer");
  return Object.values(ctx.state.paymentMethods).filter(
    (pm) => pm.customer === customerId && (type === undefined || pm.type === type),
  );
}

export const paymentMethodRoutes: Route[] = [
  {
    method: "GET",
    path: "/v1/payment_methods/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getPaymentMethod(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/payment_methods/:id/attach",
    handler: ({ ctx, params, args }) => {
      const customer = optStr(params, "customer");
      if (!customer) throw missingParam("customer");
      return render(
        ctx.state,
        attachPaymentMethod(ctx, args.id ?? "", customer),
        expandList(params),
      );
    },
  },
  {
    method: "POST",
    path: "/v1/payment_methods/:id/detach",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, detach(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/payment_methods",
    handler: ({ ctx, params }) => {
      const items = listFor(ctx, reqStr(params, "customer"), optStr(params, "type"));
      return render(ctx.state, paginate(items, params, "/v1/payment_methods"), expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/customers/:id/payment_methods",
    handler: ({ ctx, params, args }) => {
      const id = args.id ?? "";
      const items = listFor(ctx, id, optStr(params, "type"));
      const url = `/v1/customers/${id}/payment_methods`;
      return render(ctx.state, paginate(items, params, url), expandList(params));
    },
  },
];
