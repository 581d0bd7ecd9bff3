import Stripe from "stripe";
import { getUserById } from "../accounts/index.ts";
import { AppError } from "../platform/errors.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { syncSubscription } from "./stripe-events.ts";
import { currentSubscription } from "./subscription-queries.ts";
import {
  ensureCustomer,
  type SubscriptionBody,
  subscriptionBody,
} from "./subscriptions-service.ts";

// The card on file (docs/checkout-and-invoices.md): shown, replaced, and for a subscription whose
// renewal failed, charged again at once.

export interface CardBody {
  id: string;
  brand: string;
  last4: string;
  exp_month: number;
  exp_year: number;
}

function cardOf(pm: Stripe.PaymentMethod | string | null | undefined): CardBody | null {
  if (!pm || typeof pm === "string" || !pm.card) return null;
  const { brand, last4, exp_month, exp_year } = pm.card;
  return { id: pm.id, brand, last4, exp_month, exp_year };
}

/** GET payment-method/: the customer's default card, read from Stripe; null when there is none. */
export async function defaultCard(deps: BillingDeps, userId: string): Promise<CardBody | null> {
  const user = await getUserById(deps.db, userId);
  if (!user?.stripeCustomerId) return null;
  const customer = await deps.stripe.customers.retrieve(user.stripeCustomerId, {
    expand: ["invoice_settings.default_payment_method"],
  });
  if (customer.deleted) return null;
  return cardOf(customer.invoice_settings.default_payment_method);
}

export interface PaymentMethodResult {
  message: string;
  payment_method: CardBody | null;
  subscription: SubscriptionBody | null;
  client_secret?: string;
  setup_intent_id?: string;
}

/** Statuses whose open invoice a new card pays at once. */
const RECOVERABLE = new Set(["past_due", "unpaid"]);

/**
 * POST payment-method/. Without a card: a SetupIntent for the customer, whose `client_secret`
 * Stripe.js confirms with the card the customer types (the card is then attached; send its id
 * here). With a card: attached, made the default of the customer and of the current subscription,
 * and, when that subscription is past due, its open invoice is paid with it at once, answered as
 * create/ answers a first payment (402 on a decline, `client_secret` for 3-D Secure).
 */
export async function updatePaymentMethod(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  paymentMethodId: string | undefined,
): Promise<PaymentMethodResult> {
  try {
    return await setCard(deps, userId, paymentMethodId);
  } catch (err) {
    if (err instanceof AppError || !(err instanceof Stripe.errors.StripeError)) throw err;
    deps.logger.error({ err, user: userId }, "payment method update failed");
    throw businessError("invalid", "The payment method could not be updated. Please try again.");
  }
}

async function setCard(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  paymentMethodId: string | undefined,
): Promise<PaymentMethodResult> {
  const { customer } = await ensureCustomer(deps, userId);
  if (paymentMethodId === undefined) {
    const intent = await deps.stripe.setupIntents.create({
      customer,
      usage: "off_session",
      allowed_payment_method_types: ["card"],
      metadata: { user_id: userId },
    });
    if (!intent.client_secret) throw new Error(`setup intent ${intent.id} has no client secret`);
    return {
      message: "Confirm the card with Stripe.js, then send its payment method id.",
      payment_method: await defaultCard(deps, userId),
      subscription: null,
      client_secret: intent.client_secret,
      setup_intent_id: intent.id,
    };
  }
  const pm = await attach(deps, paymentMethodId, customer);
  await deps.stripe.customers.update(customer, {
    invoice_settings: { default_payment_method: pm.id },
  });
  const row = await currentSubscription(deps.db, userId);
  if (!row || row.ended || row.stripeCustomerId !== customer) {
    return { message: "Payment method updated.", payment_method: cardOf(pm), subscription: null };
  }
  const sub = await deps.stripe.subscriptions.update(row.stripeSubscriptionId, {
    default_payment_method: pm.id,
  });
  const clientSecret = RECOVERABLE.has(sub.status) ? await payOpenInvoice(deps, sub, pm.id) : null;
  const synced = await syncSubscription(deps, sub.id);
  return {
    message: clientSecret ? "Payment requires authentication." : "Payment method updated.",
    payment_method: cardOf(pm),
    subscription: await subscriptionBody(deps.db, synced),
    ...(clientSecret ? { client_secret: clientSecret } : {}),
  };
}

/**
 * Attaches the card to the user's customer. A card attached to another customer (someone else's)
 * is refused by Stripe, so a user can only ever use a card of their own.
 */
async function attach(
  deps: BillingDeps,
  id: string,
  customer: string,
): Promise<Stripe.PaymentMethod> {
  try {
    return await deps.stripe.paymentMethods.attach(id, { customer });
  } catch (err) {
    if (err instanceof Stripe.errors.StripeCardError) {
      throw businessError("payment_required", err.message);
    }
    if (err instanceof Stripe.errors.StripeInvalidRequestError) {
      throw businessError("invalid", "This payment method cannot be used.");
    }
    throw err;
  }
}

/**
 * Pays the subscription's open invoice with the new card now rather than at Stripe's next retry.
 * Answers the client secret when the payment needs 3-D Secure; a decline is the 402. The
 * subscription's status follows through its webhooks and the caller's re-read.
 */
async function payOpenInvoice(
  deps: BillingDeps & { logger: Logger },
  sub: Stripe.Subscription,
  paymentMethod: string,
): Promise<string | null> {
  const latest =
    typeof sub.latest_invoice === "string" ? sub.latest_invoice : sub.latest_invoice?.id;
  if (!latest) return null;
  const invoice = await deps.stripe.invoices.retrieve(latest);
  if (invoice.status !== "open" || !invoice.id) return null;
  try {
    await deps.stripe.invoices.pay(
      invoice.id,
      { payment_method: paymentMethod },
      { idempotencyKey: `invoice-pay:${invoice.id}:${paymentMethod}:${invoice.attempt_count}` },
    );
    return null;
  } catch (err) {
    if (err instanceof Stripe.errors.StripeCardError) {
      if (err.code === "invoice_payment_intent_requires_action") {
        const again = await deps.stripe.invoices.retrieve(invoice.id, {
          expand: ["confirmation_secret"],
        });
        const secret = again.confirmation_secret?.client_secret;
        if (secret) return secret;
      }
      await syncSubscription(deps, sub.id);
      throw businessError("payment_required", err.message);
    }
    deps.logger.error({ err, invoice: invoice.id }, "paying the open invoice failed");
    throw businessError("invalid", "Payment processing failed. Please try again.");
  }
}
