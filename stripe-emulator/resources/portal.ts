import type Stripe from "stripe";
import { isEnded } from "../billing/lifecycle.ts";
import { updateSubscription } from "../billing/update-subscription.ts";
import type { Ctx } from "../context.ts";
import { invalidParam, invalidRequest, noSuchObject } from "../errors.ts";
import { newId } from "../ids.ts";
import { expandList, optStr, type Params, reqStr } from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { getCustomer, updateCustomer } from "./customers.ts";
import { confirmSetupIntent, createSetupIntent } from "./setup-intents.ts";

/**
 * What a customer does in the Billing Portal, each through the code the API's own calls run, so
 * the same events follow: cancelling (at period end, the portal's default mode) or renewing is
 * `subscriptions.update` with `cancel_at_period_end`, a plan switch is `subscriptions.update` of
 * the item's price with prorations, and a new card is a SetupIntent confirmed on session then
 * made the customer's (and its subscriptions') default.
 */
export type PortalAction =
  | { kind: "cancel" | "renew"; subscription: string }
  | { kind: "switch"; subscription: string; price: string }
  | { kind: "card"; paymentMethod: string };

function createPortalSession(ctx: Ctx, p: Params): Stripe.BillingPortal.Session {
  const customer = getCustomer(ctx, reqStr(p, "customer"), "customer");
  const id = newId("bps");
  const session: Stripe.BillingPortal.Session = {
    id,
    object: "billing_portal.session",
    configuration: "bpc_emulator_default",
    created: ctx.now(customer.id),
    customer: customer.id,
    customer_account: null,
    flow: null,
    livemode: false,
    locale: null,
    on_behalf_of: null,
    return_url: optStr(p, "return_url") ?? null,
    url: `${ctx.baseUrl()}/portal/${id}`,
  };
  ctx.state.portalSessions[id] = session;
  ctx.emit("billing_portal.session.created", session, { customerId: customer.id });
  return session;
}

export function portalSession(ctx: Ctx, id: string): Stripe.BillingPortal.Session {
  const session = ctx.state.portalSessions[id];
  if (!session) throw noSuchObject(id);
  return session;
}

/** The customer's live subscriptions: the ones the portal lets them manage. */
export function portalSubscriptions(ctx: Ctx, customer: string): Stripe.Subscription[] {
  return Object.values(ctx.state.subscriptions).filter(
    (s) => s.customer === customer && !isEnded(s),
  );
}

/**
 * The prices a subscription may switch to: the active recurring prices of its currency (the
 * emulator's one portal configuration offers every such price), its current one left out.
 */
export function switchablePrices(ctx: Ctx, sub: Stripe.Subscription): Stripe.Price[] {
  const current = new Set(sub.items.data.map((i) => i.price.id));
  return Object.values(ctx.state.prices).filter(
    (p) => p.active && p.recurring && p.currency === sub.currency && !current.has(p.id),
  );
}

export function runPortalAction(ctx: Ctx, sessionId: string, action: PortalAction): void {
  const customer = String(portalSession(ctx, sessionId).customer);
  if (action.kind === "card") {
    setDefaultCard(ctx, customer, action.paymentMethod);
    return;
  }
  const sub = portalSubscriptions(ctx, customer).find((s) => s.id === action.subscription);
  if (!sub) throw noSuchObject(action.subscription, "subscription");
  if (action.kind !== "switch") {
    updateSubscription(ctx, sub, { cancel_at_period_end: String(action.kind === "cancel") });
    return;
  }
  const item = sub.items.data[0];
  if (!item || sub.items.data.length !== 1) {
    throw invalidRequest("The portal switches the plan of a subscription with one item.");
  }
  if (!switchablePrices(ctx, sub).some((p) => p.id === action.price)) {
    throw invalidParam("price", `The portal does not offer ${action.price} for this subscription.`);
  }
  updateSubscription(ctx, sub, {
    items: [{ id: item.id, price: action.price }],
    proration_behavior: "create_prorations",
  });
}

function setDefaultCard(ctx: Ctx, customer: string, paymentMethod: string): void {
  const si = createSetupIntent(ctx, {
    customer,
    allowed_payment_method_types: ["card"],
    usage: "off_session",
  });
  // The portal's card form runs 3-D Secure itself; the customer passes it here.
  confirmSetupIntent(ctx, si, { payment_method: paymentMethod }, true);
  const pm = typeof si.payment_method === "string" ? si.payment_method : si.payment_method?.id;
  if (si.status !== "succeeded" || !pm) throw invalidRequest("The card could not be set up.");
  updateCustomer(ctx, customer, { invoice_settings: { default_payment_method: pm } });
  for (const sub of portalSubscriptions(ctx, customer)) {
    if (sub.default_payment_method) updateSubscription(ctx, sub, { default_payment_method: pm });
  }
}

export const portalRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/billing_portal/sessions",
    handler: ({ ctx, params }) =>
      render(ctx.state, createPortalSession(ctx, params), expandList(params)),
  },
];
