import type Stripe from "stripe";
import { buildSetupIntent } from "../builders/payment.ts";
import { buildSetupAttempt } from "../builders/setup-intent.ts";
import { type Decline, setupOutcome } from "../cards.ts";
import type { Ctx } from "../context.ts";
import { cardError, invalidParam, invalidRequest, missingParam, noSuchObject } from "../errors.ts";
import { previousAttributes } from "../events.ts";
import { randomToken } from "../ids.ts";
import { matchesRange, paginate } from "../lists.ts";
import {
  expandList,
  mergeMetadata,
  optArr,
  optBool,
  optEnum,
  optNullableStr,
  optObj,
  optStr,
  type Params,
  reqStr,
} from "../params.ts";
import { render } from "../render.ts";
import type { Route } from "../router.ts";
import { wire } from "../store.ts";
import { getCustomer } from "./customers.ts";
import { attachPaymentMethod, paymentMethodForConfirm } from "./payment-methods.ts";

export function getSetupIntent(ctx: Ctx, id: string): Stripe.SetupIntent {
  const si = ctx.state.setupIntents[id];
  if (!si) throw noSuchObject(id);
  return si;
}

const customerOf = (si: Stripe.SetupIntent): string | null =>
  typeof si.customer === "string" ? si.customer : null;

/** The states from which a SetupIntent can still be confirmed, updated or canceled. */
const OPEN: readonly string[] = [
  "requires_payment_method",
  "requires_confirmation",
  "requires_action",
];

function unexpectedState(si: Stripe.SetupIntent, action: string) {
  return invalidRequest(
    `You cannot ${action} this SetupIntent because it has a status of ${si.status}.`,
    undefined,
    "setup_intent_unexpected_state",
  );
}

/**
 * Without `allowed_payment_method_types` a SetupIntent uses the payment methods enabled in the
 * Dashboard (`automatic_payment_methods`), some of which redirect: Stripe then wants a
 * `return_url` at a server-side confirmation unless redirects are turned off (`never`).
 */
function automaticPaymentMethods(p: Params): Stripe.SetupIntent.AutomaticPaymentMethods | null {
  const types = optArr(p, "allowed_payment_method_types");
  if (types) {
    if (types.some((t) => t !== "card")) {
      throw invalidParam(
        "allowed_payment_method_types",
        "The emulator sets up payment methods of type `card` only.",
      );
    }
    return null;
  }
  const apm = optObj(p, "automatic_payment_methods") ?? { enabled: "true" };
  const allowRedirects = optEnum(apm, "allow_redirects", ["always", "never"] as const);
  const enabled = optBool(apm, "enabled");
  if (enabled === undefined) throw missingParam("automatic_payment_methods[enabled]");
  if (!enabled) {
    throw invalidParam(
      "automatic_payment_methods[enabled]",
      "The emulator needs `allowed_payment_method_types` when automatic payment methods are disabled.",
    );
  }
  return { allow_redirects: allowRedirects ?? "always", enabled: true };
}

export function createSetupIntent(ctx: Ctx, p: Params): Stripe.SetupIntent {
  const customer = optStr(p, "customer") ?? null;
  if (customer) getCustomer(ctx, customer, "customer");
  const apm = automaticPaymentMethods(p);
  const paymentMethod = optStr(p, "payment_method");
  const pm = paymentMethod ? paymentMethodForConfirm(ctx, paymentMethod, customer) : null;
  const si: Stripe.SetupIntent = {
    ...buildSetupIntent(customer ?? "", pm, ctx.now(customer)),
    customer,
    automatic_payment_methods: apm,
    allowed_payment_method_types: apm ? null : ["card"],
    payment_method_configuration_details: apm
      ? { id: `pmc_${randomToken(24)}`, parent: null }
      : null,
    description: optStr(p, "description") ?? null,
    metadata: mergeMetadata({}, p),
    usage: optEnum(p, "usage", ["off_session", "on_session"] as const) ?? "off_session",
  };
  ctx.state.setupIntents[si.id] = si;
  ctx.emit("setup_intent.created", si, { customerId: customer });
  if (optBool(p, "confirm")) confirmSetupIntent(ctx, si, p, false);
  return si;
}

function updateSetupIntent(ctx: Ctx, si: Stripe.SetupIntent, p: Params): Stripe.SetupIntent {
  const changesSetup = p.customer !== undefined || p.payment_method !== undefined;
  if (changesSetup && !OPEN.includes(si.status)) throw unexpectedState(si, "update");
  const customer = optStr(p, "customer");
  if (customer) {
    if (si.customer && si.customer !== customer) {
      throw invalidParam("customer", "The SetupIntent already belongs to another customer.");
    }
    si.customer = getCustomer(ctx, customer, "customer").id;
  }
  const paymentMethod = optStr(p, "payment_method");
  if (paymentMethod) {
    si.payment_method = paymentMethodForConfirm(ctx, paymentMethod, customerOf(si));
    si.status = "requires_confirmation";
    si.next_action = null;
  }
  const description = optNullableStr(p, "description");
  if (description !== undefined) si.description = description;
  si.metadata = mergeMetadata(si.metadata ?? {}, p);
  return si;
}

/**
 * Confirms a SetupIntent with its card's test behaviour. `authenticated` is the test control
 * standing for the customer completing 3-D Secure; the API call itself cannot pass a challenge.
 */
export function confirmSetupIntent(
  ctx: Ctx,
  si: Stripe.SetupIntent,
  p: Params,
  authenticated: boolean,
): Stripe.SetupIntent {
  if (!OPEN.includes(si.status)) throw unexpectedState(si, "confirm");
  const customerId = customerOf(si);
  const pmParam = optStr(p, "payment_method");
  if (pmParam) si.payment_method = paymentMethodForConfirm(ctx, pmParam, customerId);
  const pmId = typeof si.payment_method === "string" ? si.payment_method : null;
  const pm = pmId ? ctx.state.paymentMethods[pmId] : undefined;
  if (!pm) {
    throw invalidRequest(
      "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent with a payment method and then confirm it again.",
      "payment_method",
      "setup_intent_unexpected_state",
    );
  }
  const returnUrl = optStr(p, "return_url");
  const useSdk = optBool(p, "use_stripe_sdk") ?? false;
  if (!authenticated && !returnUrl && !useSdk && si.automatic_payment_methods) {
    if (si.automatic_payment_methods.allow_redirects !== "never") throw returnUrlRequired();
  }
  const internal = ctx.state.pmInternal[pm.id] ?? { behavior: "succeed", setUp: false };
  const outcome = setupOutcome(internal.behavior, authenticated);
  const attempt = attemptFor(ctx, si, pm);
  if (outcome.kind === "requires_action") {
    attempt.status = "requires_action";
    requireAction(ctx, si, useSdk ? null : (returnUrl ?? null));
    return si;
  }
  if (outcome.kind === "declined") return failSetup(ctx, si, attempt, pm, outcome.decline);
  attempt.status = "succeeded";
  if (customerId && pm.customer !== customerId) attachPaymentMethod(ctx, pm.id, customerId);
  // `authenticationRequiredOnSetup` cards then pass off-session, when set up for that use.
  if (si.usage === "off_session") internal.setUp = true;
  ctx.state.pmInternal[pm.id] = internal;
  si.status = "succeeded";
  si.next_action = null;
  si.last_setup_error = null;
  ctx.emit("setup_intent.succeeded", si, { customerId });
  clearPendingSetupIntent(ctx, si);
  return si;
}

/**
 * The SetupAttempt this confirmation records: the one waiting for 3-D Secure with this card,
 * else a new one (a waiting attempt with another card is abandoned).
 */
function attemptFor(
  ctx: Ctx,
  si: Stripe.SetupIntent,
  pm: Stripe.PaymentMethod,
): Stripe.SetupAttempt {
  const latest = latestAttempt(ctx, si);
  if (latest?.status === "requires_action") {
    if (latest.payment_method === pm.id) return latest;
    latest.status = "abandoned";
  }
  const attempt = buildSetupAttempt(si, pm, ctx.now(customerOf(si)));
  ctx.state.setupAttempts[attempt.id] = attempt;
  si.latest_attempt = attempt.id;
  return attempt;
}

function latestAttempt(ctx: Ctx, si: Stripe.SetupIntent): Stripe.SetupAttempt | undefined {
  const id = typeof si.latest_attempt === "string" ? si.latest_attempt : null;
  return id ? ctx.state.setupAttempts[id] : undefined;
}

function returnUrlRequired() {
  return invalidRequest(
    "A `return_url` must be specified because this Setup Intent is configured to automatically accept the payment methods enabled in the Dashboard, some of which may require a full page redirect to succeed. If you do not want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents.",
    "return_url",
  );
}

/**
 * 3-D Secure: `use_stripe_sdk` for Stripe.js to handle, or a redirect to the bank's page that
 * comes back to `return_url` when the confirmation gave one.
 */
function requireAction(ctx: Ctx, si: Stripe.SetupIntent, returnUrl: string | null): void {
  si.status = "requires_action";
  const url = `${ctx.baseUrl()}/3ds/${si.id}`;
  si.next_action = returnUrl
    ? { type: "redirect_to_url", redirect_to_url: { return_url: returnUrl, url } }
    : {
        type: "use_stripe_sdk",
        use_stripe_sdk: { type: "three_d_secure_redirect", stripe_js: url, source: si.id },
      };
  ctx.emit("setup_intent.requires_action", si, { customerId: customerOf(si) });
}

/** A declined setup: back to `requires_payment_method`, the error recorded, and Stripe's 402. */
function failSetup(
  ctx: Ctx,
  si: Stripe.SetupIntent,
  attempt: Stripe.SetupAttempt,
  pm: Stripe.PaymentMethod,
  decline: Decline,
): never {
  si.status = "requires_payment_method";
  si.payment_method = null;
  si.next_action = null;
  si.last_setup_error = {
    type: "card_error",
    code: decline.code,
    decline_code: decline.declineCode,
    message: decline.message,
    payment_method: wire(pm),
    doc_url: `https://stripe.com/docs/error-codes/${decline.code.replaceAll("_", "-")}`,
  };
  attempt.status = "failed";
  attempt.setup_error = wire(si.last_setup_error);
  ctx.emit("setup_intent.setup_failed", si, { customerId: customerOf(si) });
  // Stripe's card error names the SetupIntent it left behind, as it names a PaymentIntent.
  const extra = { payment_method: wire(pm), setup_intent: wire(si) };
  throw cardError(decline.message, decline.code, decline.declineCode, extra);
}

/** A subscription's `pending_setup_intent` is cleared once that SetupIntent succeeds. */
function clearPendingSetupIntent(ctx: Ctx, si: Stripe.SetupIntent): void {
  for (const sub of Object.values(ctx.state.subscriptions)) {
    if (sub.pending_setup_intent !== si.id) continue;
    const before = wire(sub);
    sub.pending_setup_intent = null;
    const previous = previousAttributes(before, sub);
    const customerId = typeof sub.customer === "string" ? sub.customer : null;
    ctx.emit("customer.subscription.updated", sub, {
      ...(previous ? { previous } : {}),
      customerId,
    });
  }
}

function cancelSetupIntent(ctx: Ctx, si: Stripe.SetupIntent, p: Params): Stripe.SetupIntent {
  if (!OPEN.includes(si.status)) throw unexpectedState(si, "cancel");
  const reason = optEnum(p, "cancellation_reason", [
    "abandoned",
    "duplicate",
    "requested_by_customer",
  ] as const);
  const attempt = latestAttempt(ctx, si);
  if (attempt?.status === "requires_action") attempt.status = "abandoned";
  si.status = "canceled";
  si.cancellation_reason = reason ?? null;
  si.next_action = null;
  ctx.emit("setup_intent.canceled", si, { customerId: customerOf(si) });
  return si;
}

function listSetupIntents(ctx: Ctx, p: Params): Stripe.SetupIntent[] {
  const customer = optStr(p, "customer");
  const paymentMethod = optStr(p, "payment_method");
  return Object.values(ctx.state.setupIntents).filter(
    (si) =>
      (customer === undefined || si.customer === customer) &&
      (paymentMethod === undefined || si.payment_method === paymentMethod) &&
      matchesRange(si.created, p.created),
  );
}

function listSetupAttempts(ctx: Ctx, p: Params): Stripe.SetupAttempt[] {
  const si = reqStr(p, "setup_intent");
  return Object.values(ctx.state.setupAttempts).filter(
    (a) => a.setup_intent === si && matchesRange(a.created, p.created),
  );
}

export const setupIntentRoutes: Route[] = [
  {
    method: "POST",
    path: "/v1/setup_intents",
    handler: ({ ctx, params }) =>
      render(ctx.state, createSetupIntent(ctx, params), expandList(params)),
  },
  {
    method: "GET",
    path: "/v1/setup_intents/:id",
    handler: ({ ctx, params, args }) =>
      render(ctx.state, getSetupIntent(ctx, args.id ?? ""), expandList(params)),
  },
  {
    method: "POST",
    path: "/v1/setup_intents/:id",
    handler: ({ ctx, params, args }) => {
      const si = updateSetupIntent(ctx, getSetupIntent(ctx, args.id ?? ""), params);
      return render(ctx.state, si, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/setup_intents",
    handler: ({ ctx, params }) => {
      const page = paginate(listSetupIntents(ctx, params), params, "/v1/setup_intents");
      return render(ctx.state, page, expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/setup_intents/:id/confirm",
    handler: ({ ctx, params, args }) => {
      const si = confirmSetupIntent(ctx, getSetupIntent(ctx, args.id ?? ""), params, false);
      return render(ctx.state, si, expandList(params));
    },
  },
  {
    method: "GET",
    path: "/v1/setup_attempts",
    handler: ({ ctx, params }) => {
      const page = paginate(listSetupAttempts(ctx, params), params, "/v1/setup_attempts");
      return render(ctx.state, page, expandList(params));
    },
  },
  {
    method: "POST",
    path: "/v1/setup_intents/:id/cancel",
    handler: ({ ctx, params, args }) => {
      const si = cancelSetupIntent(ctx, getSetupIntent(ctx, args.id ?? ""), params);
      return render(ctx.state, si, expandList(params));
    },
  },
];
