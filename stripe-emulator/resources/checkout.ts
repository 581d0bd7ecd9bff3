import type Stripe from "stripe";
import { createSubscription } from "../billing/create-subscription.ts";
import { afterPayment } from "../billing/lifecycle.ts";
import { attemptInvoicePayment } from "../billing/payments.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { newId } from "../ids.ts";
import { matchesRange, paginate } from "../lists.ts";
import {
  expandList,
  isRecord,
  mergeMetadata,
  optArr,
  optBool,
  optInt,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { getPrice } from "./catalog.ts";
import { createCustomer, getCustomer, updateCustomer } from "./customers.ts";
import { attachPaymentMethod } from "./payment-methods.ts";
import { confirmSetupIntent, createSetupIntent } from "./setup-intents.ts";

type Mode = "subscription" | "setup";

/** `amount` is null in setup mode, where nothing is paid. */
function buildSession(
  ctx: Ctx,
  p: Params,
  mode: Mode,
  amount: number | null,
  currency: string | null,
): Stripe.Checkout.Session {
  const id = newId("cs_test");
  const created = ctx.now();
  const customer = optStr(p, "customer") ?? null;
  // In setup mode Stripe creates a customer only when asked to (`customer_creation=always`).
  const creation = mode === "setup" ? (optStr(p, "customer_creation") ?? "if_required") : "always";
  return {
    id,
    object: "checkout.session",
    adaptive_pricing: null,
    after_expiration: null,
    // Recorded as asked; the hosted page does not take codes yet (README, 'Not supported').
    allow_promotion_codes: optBool(p, "allow_promotion_codes") ?? null,
    allowed_payment_method_types: null,
    amount_subtotal: amount,
    amount_total: amount,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: null,
    cancel_url: optStr(p, "cancel_url") ?? null,
    client_reference_id: optStr(p, "client_reference_id") ?? null,
    client_secret: null,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: {
      after_submit: null,
      shipping_address: null,
      submit: null,
      terms_of_service_acceptance: null,
    },
    customer,
    customer_account: null,
    customer_creation: customer ? null : creation === "always" ? "always" : "if_required",
    customer_details: null,
    customer_email: optStr(p, "customer_email") ?? null,
    discounts: [],
    expires_at: created + 86_400,
    integration_identifier: null,
    invoice: null,
    invoice_creation: null,
    livemode: false,
    locale: null,
    managed_payments: null,
    metadata: mergeMetadata({}, p),
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: "always",
    payment_method_configuration_details: null,
    payment_method_options: null,
    payment_method_types: ["card"],
    payment_status: mode === "setup" ? "no_payment_required" : "unpaid",
    permissions: null,
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: "open",
    submit_type: null,
    subscription: null,
    success_url: optStr(p, "success_url") ?? null,
    total_details:
      amount === null ? null : { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: "hosted_page",
    url: `${ctx.baseUrl()}/checkout/${id}`,
    wallet_options: null,
  };
}

function createSession(ctx: Ctx, p: Params): Stripe.Checkout.Session {
  const mode = optStr(p, "mode");
  if (mode !== "subscription" && mode !== "setup") {
    throw invalidParam(
      "mode",
      "The emulator supports Checkout in mode=subscription and mode=setup.",
    );
  }
  const customer = optStr(p, "customer");
  if (customer) getCustomer(ctx, customer, "customer");
  const session = mode === "setup" ? setupSession(ctx, p) : subscriptionSession(ctx, p);
  ctx.state.checkoutSessions[session.id] = session;
  return session;
}

function subscriptionSession(ctx: Ctx, p: Params): Stripe.Checkout.Session {
  if (p.setup_intent_data !== undefined) {
    throw invalidParam(
      "setup_intent_data",
      "You can only pass `setup_intent_data` in `setup` mode.",
    );
  }
  const items = (optArr(p, "line_items") ?? []).map((entry, i) => {
    if (!isRecord(entry)) throw invalidParam(`line_items[${i}]`, "Invalid line item.");
    return {
      price: getPrice(ctx, reqStr(entry, "price"), `line_items[${i}][price]`).id,
      quantity: optInt(entry, "quantity") ?? 1,
    };
  });
  if (items.length === 0) throw invalidParam("line_items", "Missing required param: line_items.");
  const lineItems = items.map((i) => buildLineItem(ctx, getPrice(ctx, i.price), i.quantity));
  const amount = lineItems.reduce((sum, li) => sum + li.amount_total, 0);
  const session = buildSession(ctx, p, "subscription", amount, lineItems[0]?.currency ?? "usd");
  ctx.state.checkoutLineItems[session.id] = lineItems;
  ctx.state.checkoutPlans[session.id] = {
    items,
    subscriptionData: optObj(p, "subscription_data") ?? {},
  };
  return session;
}

/** Setup mode collects a card without a payment: no line items, and a currency instead. */
function setupSession(ctx: Ctx, p: Params): Stripe.Checkout.Session {
  if (p.line_items !== undefined) {
    throw invalidParam("line_items", "You can not pass `line_items` in `setup` mode.");
  }
  if (p.subscription_data !== undefined) {
    throw invalidParam(
      "subscription_data",
      "You can only pass `subscription_data` in `subscription` mode.",
    );
  }
  const currency = reqStr(p, "currency").toLowerCase();
  const session = buildSession(ctx, p, "setup", null, currency);
  ctx.state.checkoutLineItems[session.id] = [];
  ctx.state.checkoutPlans[session.id] = {
    items: [],
    subscriptionData: {},
    setupIntentData: optObj(p, "setup_intent_data") ?? {},
  };
  return session;
}

/** Stripe's `item`: the price as it was, its product's name as the description. */
function buildLineItem(ctx: Ctx, price: Stripe.Price, quantity: number): Stripe.LineItem {
  const amount = (price.unit_amount ?? 0) * quantity;
  const productId = typeof price.product === "string" ? price.product : price.product.id;
  return {
    id: newId("li"),
    object: "item",
    adjustable_quantity: null,
    amount_discount: 0,
    amount_subtotal: amount,
    amount_tax: 0,
    amount_total: amount,
    currency: price.currency,
    description: ctx.state.products[productId]?.name ?? null,
    metadata: null,
    price: wire(price),
    quantity,
  };
}

/**
 * The customer pays on the hosted page: customer, card, subscription, then the completed event.
 * `authenticated`: they passed 3-D Secure on the page's authorize step, so the subscription is
 * made `default_incomplete` and its first invoice paid on session with the challenge passed, as
 * Stripe's Checkout does for a card that asks for it (created `incomplete`, then `active`).
 */
export function completeCheckout(
  ctx: Ctx,
  id: string,
  paymentMethod = "pm_card_visa",
  authenticated = false,
): void {
  const session = ctx.state.checkoutSessions[id];
  const plan = ctx.state.checkoutPlans[id];
  if (!session || !plan) throw noSuchObject(id);
  if (session.status !== "open")
    throw invalidRequest(`This Checkout Session is ${session.status}.`);
  if (session.mode === "setup") {
    completeSetup(ctx, session, plan.setupIntentData ?? {}, paymentMethod);
    return;
  }
  let customerId = typeof session.customer === "string" ? session.customer : null;
  if (!customerId) {
    const email = session.customer_email;
    customerId = createCustomer(ctx, email ? { email } : {}).id;
  }
  const pm = attachPaymentMethod(ctx, paymentMethod, customerId);
  updateCustomer(ctx, customerId, { invoice_settings: { default_payment_method: pm.id } });
  const sd = plan.subscriptionData;
  const params: Params = {
    customer: customerId,
    items: plan.items.map((i) => ({ price: i.price, quantity: String(i.quantity) })),
    payment_behavior: authenticated ? "default_incomplete" : "error_if_incomplete",
    default_payment_method: pm.id,
    metadata: optObj(sd, "metadata") ?? {},
  };
  const trialDays = optStr(sd, "trial_period_days");
  if (trialDays) params.trial_period_days = trialDays;
  const sub = createSubscription(ctx, params);
  if (authenticated) payAuthenticated(ctx, sub);
  session.status = "complete";
  session.customer = customerId;
  session.customer_details = customerDetails(ctx, session, customerId);
  session.subscription = sub.id;
  session.invoice = typeof sub.latest_invoice === "string" ? sub.latest_invoice : null;
  session.payment_status = sub.status === "trialing" ? "no_payment_required" : "paid";
  session.url = null;
  ctx.emit("checkout.session.completed", session, { customerId });
}

function payAuthenticated(ctx: Ctx, sub: Stripe.Subscription): void {
  const inv =
    typeof sub.latest_invoice === "string" ? ctx.state.invoices[sub.latest_invoice] : null;
  if (inv?.status !== "open") return;
  const result = attemptInvoicePayment(ctx, inv, { onSession: true, authenticated: true });
  afterPayment(ctx, inv, result);
}

/**
 * The customer saves a card on the hosted page: a SetupIntent is created and confirmed with it
 * (the customer passes 3-D Secure there), which attaches the card to the customer. The default
 * payment method is left to the integration, as at Stripe. A declined card leaves the session
 * open, as the hosted page lets the customer try another.
 */
function completeSetup(
  ctx: Ctx,
  session: Stripe.Checkout.Session,
  data: Params,
  paymentMethod: string,
): void {
  let customerId = typeof session.customer === "string" ? session.customer : null;
  if (!customerId && session.customer_creation === "always") {
    const email = session.customer_email;
    customerId = createCustomer(ctx, email ? { email } : {}).id;
  }
  const si = createSetupIntent(ctx, {
    ...(customerId ? { customer: customerId } : {}),
    allowed_payment_method_types: ["card"],
    ...data,
  });
  confirmSetupIntent(ctx, si, { payment_method: paymentMethod }, true);
  session.status = "complete";
  session.customer = customerId;
  session.customer_details = customerDetails(ctx, session, customerId);
  session.setup_intent = si.id;
  session.url = null;
  ctx.emit("checkout.session.completed", session, { customerId });
}

/** What the customer gave on the hosted page, which Stripe records on the completed session. */
function customerDetails(
  ctx: Ctx,
  session: Stripe.Checkout.Session,
  customerId: string | null,
): Stripe.Checkout.Session.CustomerDetails {
  const customer = customerId ? ctx.state.customers[customerId] : undefined;
  return {
    address: null,
    business_name: null,
    email: customer?.email ?? session.customer_email,
    individual_name: null,
    name: customer?.name ?? null,
    phone: customer?.phone ?? null,
    tax_exempt: "none",
    tax_ids: [],
  };
}

function expireSession(ctx: Ctx, id: string): Stripe.Checkout.Session {
  const session = getSession(ctx, id);
  if (session.status !== "open") {
    throw invalidRequest(
      `Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of \`${session.status}\`.`,
    );
  }
  session.status = "expired";
  session.url = null;
  const customerId = typeof session.customer === "string" ? session.customer : null;
  ctx.emit("checkout.session.expired", session, { customerId });
  return session;
}

/**
 * Open sessions expire at `expires_at` (24 hours after creation) with `checkout.session.expired`.
 * Sessions live on the global clock (the scheduler's `clockId` null), as they are created on it.
 */
export function checkoutExpiryTimers(
  ctx: Ctx,
  clockId: string | null,
): { at: number; run: () => void }[] {
  if (clockId !== null) return [];
  return Object.values(ctx.state.checkoutSessions)
    .filter((s) => s.status === "open")
    .map((s) => ({ at: s.expires_at, run: () => expireSession(ctx, s.id) }));
}

function getSession(ctx: Ctx, id: string): Stripe.Checkout.Session {
  const session = ctx.state.checkoutSessions[id];
  if (!session) throw noSuchObject(id);
  return session;
}

function listSessions(ctx: Ctx, p: Params): Stripe.Checkout.Session[] {
  const filters = ["customer", "status", "subscription", "payment_intent"] as const;
  const wanted = filters.map((key) => [key, optStr(p, key)] as const);
  const email = optStr(optObj(p, "customer_details") ?? {}, "email");
  return Object.values(ctx.state.checkoutSessions).filter(
    (s) =>
      wanted.every(([key, value]) => value === undefined || s[key] === value) &&
      (email === undefined || s.customer_details?.email === email) &&
      matchesRange(s.created, p.created),
  );
}

export const checkoutRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/checkout/sessions",
    handler: ({ ctx, params }) => render(ctx.state, createSession(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/checkout/sessions/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getSession(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/checkout/sessions",
    handler: ({ ctx, params }) => {
      const page = paginate(listSessions(ctx, params), params, "/v1/checkout/sessions");
      return render(ctx.state, page, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/checkout/sessions/:id/line_items",
    handler: ({ ctx, params, args }) => {
      const id = getSession(ctx, args.id ?? "").id;
      const items = [...(ctx.state.checkoutLineItems[id] ?? [])].reverse();
      const url = `/v1/checkout/sessions/${id}/line_items`;
      return render(ctx.state, paginate(items, params, url), expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/checkout/sessions/:id/expire",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, expireSession(ctx, args.id ?? ""), expandList(params)),
  },
];
