import Stripe from "stripe";
import { getUserById } from "../accounts/index.ts";
import type { Logger } from "../platform/logging.ts";
import type { Outcome } from "../webhooks/index.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { customerIdOf, linkCustomer } from "./owners.ts";
import { recordSessionStatus } from "./subscribe-guard.ts";
import { queueCancellationEmails } from "./subscription-emails.ts";
import { applySubscription, fetchSubscription } from "./subscription-projection.ts";
import { otherLiveSubscriptions } from "./subscription-queries.ts";

// What Stripe Checkout's events mean (docs/checkout-and-invoices.md). A completed session links
// its customer and subscription to the user it was opened for; the payment and the receipt come
// from the invoice's own events, as for create/.

const isUserId = (value: string | null | undefined): value is string =>
  typeof value === "string" && /^[0-9a-f-]{36}$/i.test(value);

async function retrieveSession(
  stripe: Stripe,
  id: string,
): Promise<Stripe.Checkout.Session | undefined> {
  try {
    return await stripe.checkout.sessions.retrieve(id);
  } catch (err) {
    if (err instanceof Stripe.errors.StripeInvalidRequestError && err.code === "resource_missing") {
      return undefined;
    }
    throw err;
  }
}

/**
 * A completed subscription session, read from Stripe (the event's payload decides nothing): the
 * user it names (`client_reference_id`, else `metadata.user_id`) is linked to its customer, and its
 * subscription is written for that user, in one transaction. The user is linked to the session's
 * customer even when another one was linked before: a session opened elsewhere (the Dashboard, a
 * payment link) creates a customer of its own, and the user's live subscription is now there.
 * Answers false for a session that names no user of ours (nothing to link).
 *
 * create/ expires the user's open sessions before it subscribes, so such a session cannot make a
 * second live subscription; should one be seen anyway it is logged as an error, for a person to
 * refund: canceling a customer's subscription on a guess is not ours to do.
 */
async function linkSession(
  deps: BillingDeps & { logger?: Logger },
  session: Stripe.Checkout.Session,
): Promise<boolean> {
  if (session.mode !== "subscription" || session.status !== "complete") return false;
  const userId = isUserId(session.client_reference_id)
    ? session.client_reference_id
    : session.metadata?.user_id;
  const customerId = customerIdOf(session.customer);
  const subscriptionId =
    typeof session.subscription === "string" ? session.subscription : session.subscription?.id;
  if (!isUserId(userId) || !customerId || !subscriptionId) return false;
  const user = await getUserById(deps.db, userId);
  if (!user) return false;
  const snapshot = await fetchSubscription(deps, subscriptionId);
  const others = await deps.db.transaction(async (tx) => {
    await linkCustomer(tx, user.id, customerId);
    const applied = await applySubscription(tx, snapshot, {
      user: { ...user, stripeCustomerId: customerId },
    });
    await queueCancellationEmails(tx, deps, [applied]);
    await recordSessionStatus(tx, session);
    return otherLiveSubscriptions(tx, user.id, subscriptionId);
  });
  if (others.length > 0) {
    deps.logger?.error(
      { user: user.id, session: session.id, subscription: subscriptionId, others },
      "a completed checkout session left the user with more than one live subscription",
    );
  }
  return true;
}

/** `checkout.session.completed`. */
export async function checkoutCompleted(
  deps: BillingDeps & { logger?: Logger },
  sessionId: string,
): Promise<Outcome> {
  const session = await retrieveSession(deps.stripe, sessionId);
  if (!session) return "ignored";
  if (session.mode !== "subscription") return "ignored";
  if (!(await linkSession(deps, session))) return "ignored";
  return "processed";
}

/** `checkout.session.expired`: our row of it is closed, so the next request opens a new one. */
export async function checkoutExpired(deps: BillingDeps, sessionId: string): Promise<Outcome> {
  const session = await retrieveSession(deps.stripe, sessionId);
  if (session?.status !== "expired") return "ignored";
  await recordSessionStatus(deps.db, session);
  return "processed";
}

/**
 * An event about a subscription or its invoice whose owner is not known yet may have outrun the
 * `checkout.session.completed` that names it (Stripe promises no order). The session that created
 * the subscription is asked for instead of waiting for that event: linked here, the event can be
 * handled at once. Answers whether a user was linked.
 */
export async function linkOwnerThroughCheckout(
  deps: BillingDeps,
  event: Stripe.Event,
): Promise<boolean> {
  const subscriptionId = subscriptionOf(event);
  return subscriptionId ? linkThroughCheckout(deps, subscriptionId) : false;
}

/**
 * Links the user named by the Checkout Session that created `subscriptionId` (reconciliation's
 * way, when that session's `checkout.session.completed` was never delivered). Answers whether a
 * user was linked.
 */
export async function linkThroughCheckout(
  deps: BillingDeps,
  subscriptionId: string,
): Promise<boolean> {
  const found = await deps.stripe.checkout.sessions.list({
    subscription: subscriptionId,
    limit: 1,
  });
  const session = found.data[0];
  return session ? linkSession(deps, session) : false;
}

function subscriptionOf(event: Stripe.Event): string | undefined {
  const object = event.data.object;
  if (object.object === "subscription") return object.id;
  if (object.object === "invoice") {
    const sub = object.parent?.subscription_details?.subscription;
    return typeof sub === "string" ? sub : sub?.id;
  }
  return undefined;
}
