import { and, eq, lt, sql } from "drizzle-orm";
import Stripe from "stripe";
import type { Executor, Tx } from "../platform/db/client.ts";
import { businessError } from "../platform/http/errors.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { subscriptionCheckouts } from "./billing-tables.ts";
import { checkoutSessions } from "./hosted-tables.ts";
import { currentSubscription } from "./subscription-queries.ts";

// The two ways to subscribe, create/ and a Checkout Session (checkout/), guard one another here
// (docs/architecture.md, 'One live subscription per user'): both claim under one per-user lock,
// and create/ expires the user's open sessions at Stripe before it makes a subscription, so a
// session cannot be paid afterwards.

export const ALREADY = "You already have an active subscription.";
/** Statuses that mean "you already have a subscription". */
export const HOLDS = new Set(["active", "trialing", "past_due", "unpaid", "paused"]);
/** A pending create/ older than this was abandoned (its process died). */
const CHECKOUT_TIMEOUT_MS = 10 * 60_000;

export type Checkout = typeof subscriptionCheckouts.$inferSelect;

/**
 * Taken by every claim to subscribe (create/'s slot, checkout/'s session row), so that each sees
 * what the other claimed. Held for the claim's transaction only, never while Stripe is called.
 */
async function lockSubscribing(tx: Tx, userId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`checkout:${userId}`}))`);
}

/**
 * Under the lock: refuses a user who holds a subscription or whose create/ is in flight (one
 * pending longer than the timeout is given up first).
 */
async function refuseIfSubscribing(tx: Tx, userId: string): Promise<void> {
  await tx
    .update(subscriptionCheckouts)
    .set({ status: "abandoned", updatedAt: new Date() })
    .where(
      and(
        eq(subscriptionCheckouts.userId, userId),
        eq(subscriptionCheckouts.status, "pending"),
        lt(subscriptionCheckouts.createdAt, new Date(Date.now() - CHECKOUT_TIMEOUT_MS)),
      ),
    );
  const [pending] = await tx
    .select({ id: subscriptionCheckouts.id })
    .from(subscriptionCheckouts)
    .where(
      and(eq(subscriptionCheckouts.userId, userId), eq(subscriptionCheckouts.status, "pending")),
    );
  const current = await currentSubscription(tx, userId);
  if (pending || (current && HOLDS.has(current.status))) {
    throw businessError("invalid", ALREADY);
  }
}

/**
 * create/ claims the user's one checkout slot (the partial unique index on pending rows backs the
 * lock). Answers it with the Stripe ids of the user's open Checkout Session rows, to expire: from
 * here on checkout/ refuses to hand out a session (`claimForCheckout`, also when it records one it
 * was creating meanwhile), so these are all the sessions create/ has to close.
 */
export async function beginCheckout(
  db: Executor,
  userId: string,
  planId: string,
): Promise<{ checkout: Checkout; sessions: string[] }> {
  return db.transaction(async (tx) => {
    await lockSubscribing(tx, userId);
    await refuseIfSubscribing(tx, userId);
    const [checkout] = await tx
      .insert(subscriptionCheckouts)
      .values({ userId, planId })
      .returning();
    if (!checkout) throw new Error("checkout insert returned nothing");
    const open = await tx
      .select({ stripeSessionId: checkoutSessions.stripeSessionId })
      .from(checkoutSessions)
      .where(and(eq(checkoutSessions.userId, userId), eq(checkoutSessions.status, "open")));
    return { checkout, sessions: open.flatMap((r) => r.stripeSessionId ?? []) };
  });
}

/**
 * checkout/'s claims (its session row, and recording the Stripe session it made): under the same
 * lock, refused as create/ is while a create/ is in flight.
 */
export async function claimForCheckout<T>(
  db: Executor,
  userId: string,
  claim: (tx: Tx) => Promise<T>,
): Promise<T> {
  return db.transaction(async (tx) => {
    await lockSubscribing(tx, userId);
    await refuseIfSubscribing(tx, userId);
    return claim(tx);
  });
}

/**
 * Expires a Checkout Session at Stripe; answers it as it ended. Stripe refuses to expire one that
 * is not open ("Only Checkout Sessions with a status in ["open"] can be expired"): it is read back,
 * `complete` when the customer paid it first (a subscription exists or is being made).
 */
export async function expireSession(stripe: Stripe, id: string): Promise<Stripe.Checkout.Session> {
  try {
    return await stripe.checkout.sessions.expire(
      id,
      {},
      { idempotencyKey: `checkout-expire:${id}` },
    );
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
    const session = await stripe.checkout.sessions.retrieve(id);
    if (session.status === "open") throw err;
    return session;
  }
}

/**
 * create/, before it makes a subscription: expires every subscription-mode Checkout Session still
 * open for the customer (listed at Stripe, plus our open rows, in case the list lags), so none can
 * be paid afterwards. Answers whether one had been paid already:
 * then create/ must not make a second subscription.
 */
export async function closeOpenSessions(
  deps: BillingDeps,
  customer: string,
  known: string[],
): Promise<boolean> {
  const listed = await deps.stripe.checkout.sessions.list({ customer, status: "open", limit: 100 });
  const ids = new Set([
    ...known,
    ...listed.data.filter((s) => s.mode === "subscription").map((s) => s.id),
  ]);
  let paid = false;
  for (const id of ids) {
    const session = await expireSession(deps.stripe, id);
    await recordSessionStatus(deps.db, session);
    if (session.status === "complete") paid = true;
  }
  return paid;
}

/** Marks our row of a Stripe session (none for a session we did not open). */
export async function recordSessionStatus(
  db: Executor,
  session: Stripe.Checkout.Session,
): Promise<void> {
  if (session.status !== "complete" && session.status !== "expired") return;
  const subscription =
    typeof session.subscription === "string" ? session.subscription : session.subscription?.id;
  await db
    .update(checkoutSessions)
    .set({
      status: session.status,
      updatedAt: new Date(),
      ...(subscription ? { stripeSubscriptionId: subscription } : {}),
    })
    .where(eq(checkoutSessions.stripeSessionId, session.id));
}
