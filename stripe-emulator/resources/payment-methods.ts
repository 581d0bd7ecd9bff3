import type Stripe from "stripe";
import {
  attachDecline,
  type CardBehavior,
  cardForToken,
  TEST_CARDS,
  type TestCard,
} from "../cards.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidParam, invalidRequest, missingParam, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { newId } from "../ids.ts";
import { paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optEnum,
  optInt,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";

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

/** A new, unattached `pm_…` for a test card, with the behaviour its payments will have. */
export function createTestCardPm(
  ctx: Ctx,
  card: TestCard,
  customerId: string | null = null,
): Stripe.PaymentMethod {
  const pm = buildCard(newId("pm"), card, ctx.now(customerId));
  ctx.state.paymentMethods[pm.id] = pm;
  ctx.state.pmInternal[pm.id] = { behavior: card.behavior, setUp: false };
  return pm;
}

/**
 * The payment method a confirmation uses: a test id becomes a fresh, unattached copy of that
 * card (decliners included, so the decline comes at confirmation); a `pm_…` must not belong to
 * another customer.
 */
export function paymentMethodForConfirm(ctx: Ctx, id: string, customerId: string | null): string {
  const card = TEST_CARDS[id];
  if (card) return createTestCardPm(ctx, card, customerId).id;
  const pm = getPaymentMethod(ctx, id, "payment_method");
  if (pm.customer && pm.customer !== customerId) {
    throw invalidParam("payment_method", "The payment method belongs to another customer.");
  }
  return pm.id;
}

function throwIfDeclines(behavior: CardBehavior): void {
  const decline = attachDecline(behavior);
  if (decline) throw cardError(decline.message, decline.code, decline.declineCode);
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
    throwIfDeclines(card.behavior);
    const pm = createTestCardPm(ctx, card, customerId);
    pm.customer = customerId;
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
  // A `pm_…` made from a declining token (`tok_chargeDeclined`) is refused as its test id is.
  const internal = ctx.state.pmInternal[pm.id];
  if (internal) throwIfDeclines(internal.behavior);
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

/**
 * In test mode Stripe refuses raw card numbers unless the account was granted raw card data
 * access; the test tokens stand for the test cards instead.
 */
const RAW_CARD_DATA =
  "Sending credit card numbers directly to the Stripe API is generally unsafe. We suggest you use test tokens that map to the test card you are using, see https://stripe.com/docs/testing. To enable raw card data APIs in test mode, see https://support.stripe.com/questions/enabling-access-to-raw-card-data-apis.";

function createPaymentMethod(ctx: Ctx, p: Params): Stripe.PaymentMethod {
  const type = reqStr(p, "type");
  if (type !== "card") {
    throw invalidParam("type", "The emulator creates payment methods of type `card` only.");
  }
  const card = optObj(p, "card");
  if (!card) throw missingParam("card");
  if (card.number !== undefined) throw invalidRequest(RAW_CARD_DATA);
  const token = optStr(card, "token");
  if (!token) throw missingParam("card[number]");
  const testCard = cardForToken(token);
  if (!testCard) {
    throw invalidRequest(`No such token: '${token}'`, "card[token]", "resource_missing");
  }
  const pm = createTestCardPm(ctx, testCard);
  applyDetails(pm, p);
  return pm;
}

/** `billing_details`, `metadata`, `allow_redisplay` and the card's expiry, as create and update take them. */
function applyDetails(pm: Stripe.PaymentMethod, p: Params): void {
  const billing = optObj(p, "billing_details");
  if (billing) pm.billing_details = billingDetails(pm.billing_details, billing);
  pm.metadata = mergeMetadata(pm.metadata ?? {}, p);
  const redisplay = optEnum(p, "allow_redisplay", ["always", "limited", "unspecified"] as const);
  if (redisplay) pm.allow_redisplay = redisplay;
  const card = optObj(p, "card");
  if (pm.card && card) {
    pm.card.exp_month = optInt(card, "exp_month") ?? pm.card.exp_month;
    pm.card.exp_year = optInt(card, "exp_year") ?? pm.card.exp_year;
  }
}

/** `""` unsets a field (the SDK's `null`); keys not sent keep their value. */
function billingDetails(
  current: Stripe.PaymentMethod.BillingDetails,
  p: Params,
): Stripe.PaymentMethod.BillingDetails {
  const next = { ...current };
  for (const key of ["email", "name", "phone"] as const) {
    const v = optNullableStr(p, key);
    if (v !== undefined) next[key] = v;
  }
  if (p.address === "") next.address = null;
  const address = optObj(p, "address");
  if (address) {
    const base: Stripe.Address = next.address ?? {
      city: null,
      country: null,
      line1: null,
      line2: null,
      postal_code: null,
      state: null,
    };
    const merged = { ...base };
    for (const key of ["city", "country", "line1", "line2", "postal_code", "state"] as const) {
      const v = optNullableStr(address, key);
      if (v !== undefined) merged[key] = v;
    }
    next.address = merged;
  }
  return next;
}

/** Stripe only updates a payment method saved to a customer. */
function updatePaymentMethod(ctx: Ctx, id: string, p: Params): Stripe.PaymentMethod {
  const pm = ctx.state.paymentMethods[id];
  if (!pm) throw noSuchObject(id);
  const customerId = typeof pm.customer === "string" ? pm.customer : null;
  if (!customerId) {
    throw invalidRequest(
      "You must save this PaymentMethod to a customer before you can update it.",
    );
  }
  const before = wire(pm);
  applyDetails(pm, p);
  const previous = previousAttributes(before, pm);
  if (previous) ctx.emit("payment_method.updated", pm, { previous, customerId });
  return pm;
}

export const paymentMethodRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/payment_methods",
    handler: ({ ctx, params }) =>
      render(ctx.state, createPaymentMethod(ctx, params), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/payment_methods/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, updatePaymentMethod(ctx, args.id ?? "", params), expandList(params)),
  },
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
