import { eq } from "drizzle-orm";
import Stripe from "stripe";
import { getUserById, type User } from "../accounts/index.ts";
import type { Executor, Tx } from "../platform/db/client.ts";
import { AppError } from "../platform/errors.ts";
import { businessError, fieldError } from "../platform/http/errors.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { withBillingWrite } from "./billing-lock.ts";
import { subscriptionCheckouts } from "./billing-tables.ts";
import { quantityFor } from "./change-rules.ts";
import { endScheduledChange, releaseSchedule } from "./change-schedules.ts";
import { formatMinor } from "./money.ts";
import { linkCustomer } from "./owners.ts";
import { type PendingChangeBody, pendingChangeOf } from "./pending-change.ts";
import { findPlan, getActivePlan, type Plan, type PlanBody, planBody } from "./plans-service.ts";
import { promotionCodeError, resolvePromotionCode } from "./promotion-codes.ts";
import {
  ALREADY,
  beginCheckout,
  type Checkout,
  closeOpenSessions,
  HOLDS,
} from "./subscribe-guard.ts";
import { DISCOUNT_EXPAND, type DiscountBody, discountBody } from "./subscription-discounts.ts";
import { queueCancellationEmails } from "./subscription-emails.ts";
import {
  type Applied,
  applySubscription,
  applySubscriptions,
  dbClock,
  FIRST_PAYMENT_FAILED,
  type Known,
  type Snapshot,
} from "./subscription-projection.ts";
import {
  currentSubscription,
  currentSubscriptionWithPlan,
  type SubscriptionRow,
} from "./subscription-queries.ts";
import { queueTrialStarted, trialDaysFor, trialParams } from "./trials.ts";

export interface SubscriptionBody {
  id: string;
  plan: PlanBody | null;
  stripe_subscription_id: string;
  status: string;
  is_active: boolean;
  current_period_start: string | null;
  current_period_end: string | null;
  cancel_at_period_end: boolean;
  canceled_at: string | null;
  quantity: number;
  unit_amount: string | null;
  discount: DiscountBody | null;
  created_at: string;
  updated_at: string;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

export async function subscriptionBody(
  db: Executor,
  row: SubscriptionRow,
): Promise<SubscriptionBody> {
  return bodyOf(row, row.planId ? await findPlan(db, row.planId) : undefined);
}

/** The user's shape of `row` with its plan already read (a list reads the plans in its join). */
export function bodyOf(row: SubscriptionRow, plan: Plan | null | undefined): SubscriptionBody {
  return {
    id: row.id,
    plan: plan ? planBody(plan) : null,
    stripe_subscription_id: row.stripeSubscriptionId,
    status: row.status,
    is_active: row.status === "active" || row.status === "trialing",
    current_period_start: iso(row.currentPeriodStart),
    current_period_end: iso(row.currentPeriodEnd),
    // A cancellation scheduled through `cancel_at` (the Portal does that) is one too.
    cancel_at_period_end: row.cancelAtPeriodEnd || (row.cancelAt !== null && !row.endedAt),
    canceled_at: iso(row.canceledAt),
    quantity: row.quantity,
    unit_amount:
      row.unitAmount === null || !plan ? null : formatMinor(row.unitAmount, plan.currency),
    discount: discountBody(row.discount),
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
  };
}

/** GET status/: the current subscription, or `"inactive"`. Reads only. */
export async function subscriptionStatus(
  db: Executor,
  userId: string,
): Promise<
  | (SubscriptionBody & { pending_change: PendingChangeBody | null })
  | { status: "inactive"; is_active: false; plan: null }
> {
  const current = await currentSubscriptionWithPlan(db, userId);
  if (!current) return { status: "inactive", is_active: false, plan: null };
  return {
    ...bodyOf(current.subscription, current.plan),
    pending_change: await pendingChangeOf(db, current.subscription),
  };
}

async function finishCheckout(
  db: Executor,
  id: string,
  status: "succeeded" | "failed",
  fields: { stripeSubscriptionId?: string; error?: string } = {},
): Promise<void> {
  await db
    .update(subscriptionCheckouts)
    .set({ status, ...fields, updatedAt: new Date() })
    .where(eq(subscriptionCheckouts.id, id));
}

/**
 * One Stripe customer per user, ever: reuse the linked one, else find one an earlier crashed
 * attempt made (by `metadata.user_id`), else create it. The idempotency key covers a retry within
 * Stripe's key window; the lookup covers one after it.
 */
export async function ensureCustomer(
  deps: BillingDeps,
  userId: string,
): Promise<{ user: User; customer: string }> {
  const user = await getUserById(deps.db, userId);
  if (!user) throw new Error(`user ${userId} not found`);
  if (user.stripeCustomerId) return { user, customer: user.stripeCustomerId };
  const existing = await deps.stripe.customers.list({ email: user.email, limit: 100 });
  const mine = existing.data.find((c) => c.metadata.user_id === user.id);
  const customer =
    mine ??
    (await deps.stripe.customers.create(
      { email: user.email, name: user.username, metadata: { user_id: user.id } },
      { idempotencyKey: `customer:${user.id}` },
    ));
  await deps.db.transaction((tx) => linkCustomer(tx, user.id, customer.id));
  return { user, customer: customer.id };
}

export interface CreateInput {
  plan_id: string;
  /** Optional only for a plan with a trial the user can still take: the trial runs without a card. */
  payment_method_id?: string | undefined;
  /** Seats, for a per-seat plan (its minimum when left out). */
  quantity?: number | undefined;
  promotion_code?: string | undefined;
}

export interface CreateResult {
  subscription: SubscriptionBody;
  clientSecret: string | null;
}

/**
 * POST create/: attaches the card, makes it the customer's default and creates the subscription
 * with `allow_incomplete`, so a good card is `active` at once, a card that needs 3-D Secure comes
 * back `incomplete` with the client secret, and a failed first charge is canceled and answered
 * with 402. Every Stripe write carries a key derived from the checkout id (docs/architecture.md,
 * 'Idempotency keys').
 */
export async function createSubscription(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  input: CreateInput,
): Promise<CreateResult> {
  const plan = await getActivePlan(deps.db, input.plan_id);
  const quantity = quantityFor(plan, input.quantity);
  const trialDays = await trialDaysFor(deps.db, userId, plan);
  if (!input.payment_method_id && trialDays === 0) {
    throw fieldError(
      "payment_method_id",
      plan.trialDays > 0
        ? "Required: your trial was used already, so this plan is paid from the first day."
        : "This field is required.",
    );
  }
  const { checkout, sessions } = await beginCheckout(deps.db, userId, plan.id);
  try {
    const promo = input.promotion_code
      ? await resolvePromotionCode(deps.stripe, input.promotion_code, plan)
      : undefined;
    return await runCheckout(deps, userId, plan, checkout, sessions, {
      ...input,
      quantity,
      promo,
      trialDays,
    });
  } catch (err) {
    await finishCheckout(deps.db, checkout.id, "failed", { error: String(err) });
    if (err instanceof AppError) throw err;
    const promoError = promotionCodeError(err);
    if (promoError) throw promoError;
    if (err instanceof Stripe.errors.StripeCardError) {
      throw businessError("payment_required", err.message);
    }
    deps.logger.error({ err, checkout: checkout.id }, "subscription create failed");
    throw businessError("invalid", "Payment processing failed. Please try again.");
  }
}

async function runCheckout(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  plan: Plan,
  checkout: Checkout,
  sessions: string[],
  input: {
    payment_method_id?: string | undefined;
    quantity: number;
    promo: string | undefined;
    trialDays: number;
  },
): Promise<CreateResult> {
  const key = (step: string) => `checkout:${checkout.id}:${step}`;
  const { user, customer } = await ensureCustomer(deps, userId);
  // Rows this request has read already, so that writing Stripe's answers reads neither again.
  const known: Known = { user, plans: [plan] };
  // A Checkout Session paid first has made a subscription (written by the settle); once expired,
  // none can be paid after this one is made.
  const paid = await closeOpenSessions(deps, customer, sessions);
  await settleOpenSubscriptions(deps, customer, key("replace"), known);
  if (paid) throw businessError("invalid", ALREADY);
  const pm = input.payment_method_id
    ? await deps.stripe.paymentMethods.attach(
        input.payment_method_id,
        { customer },
        { idempotencyKey: key("attach") },
      )
    : null;
  if (pm) {
    await deps.stripe.customers.update(
      customer,
      { invoice_settings: { default_payment_method: pm.id } },
      { idempotencyKey: key("default-payment-method") },
    );
  }
  const readAt = await dbClock(deps.db);
  const sub = await deps.stripe.subscriptions.create(
    {
      customer,
      items: [{ price: plan.stripePriceId, quantity: input.quantity }],
      ...(input.promo ? { discounts: [{ promotion_code: input.promo }] } : {}),
      ...(pm ? { default_payment_method: pm.id } : {}),
      ...trialParams(input.trialDays, deps.config),
      payment_behavior: "allow_incomplete",
      payment_settings: { save_default_payment_method: "on_subscription" },
      metadata: { user_id: userId, plan_id: plan.id },
      expand: ["latest_invoice.confirmation_secret", "latest_invoice.payments", ...DISCOUNT_EXPAND],
    },
    { idempotencyKey: key("subscription") },
  );
  const clientSecret = await firstPaymentOutcome(deps, sub, checkout, key("cancel"), known);
  const applied = await deps.db.transaction(async (tx) => {
    const applied = await applyAndQueueCancellations(tx, deps, { sub, readAt }, known);
    await queueTrialStarted(tx, deps, user, applied.row, plan, pm !== null);
    await finishCheckout(tx, checkout.id, "succeeded", { stripeSubscriptionId: sub.id });
    return applied;
  });
  return { subscription: await appliedBody(deps.db, applied), clientSecret };
}

/** Writes Stripe's answer into the projection, with the cancellation email it may reveal. */
async function applyAndQueueCancellations(
  tx: Tx,
  deps: BillingDeps,
  snapshot: Snapshot,
  known: Known = {},
): Promise<Applied> {
  const applied = await applySubscription(tx, snapshot, known);
  await queueCancellationEmails(tx, deps, [applied]);
  return applied;
}

/** The body of a row just applied: its plan is the one it was written with, read already. */
async function appliedBody(db: Executor, applied: Applied): Promise<SubscriptionBody> {
  if (applied.written) return bodyOf(applied.row, applied.plan);
  return subscriptionBody(db, applied.row);
}

/**
 * An `incomplete` subscription either waits for the customer (3-D Secure: hand out the client
 * secret) or its first charge failed: then it is canceled, so no incomplete subscription is left
 * behind, and the decline is thrown as the 402 the customer sees.
 */
async function firstPaymentOutcome(
  deps: BillingDeps,
  sub: Stripe.Subscription,
  checkout: Checkout,
  cancelKey: string,
  known: Known,
): Promise<string | null> {
  if (sub.status !== "incomplete") return null;
  const invoice = typeof sub.latest_invoice === "object" ? sub.latest_invoice : null;
  const piRef = invoice?.payments?.data[0]?.payment.payment_intent;
  const pi = piRef
    ? typeof piRef === "string"
      ? await deps.stripe.paymentIntents.retrieve(piRef)
      : piRef
    : null;
  if (pi && (pi.status === "requires_action" || pi.status === "requires_confirmation")) {
    return invoice?.confirmation_secret?.client_secret ?? pi.client_secret;
  }
  const message = pi?.last_payment_error?.message ?? "Your card was declined.";
  // Recorded before the cancel, so the webhooks it causes find a checkout that already failed.
  await finishCheckout(deps.db, checkout.id, "failed", {
    stripeSubscriptionId: sub.id,
    error: message,
  });
  const readAt = await dbClock(deps.db);
  const canceled = await deps.stripe.subscriptions.cancel(
    sub.id,
    { cancellation_details: { comment: FIRST_PAYMENT_FAILED } },
    { idempotencyKey: cancelKey },
  );
  await deps.db.transaction((tx) =>
    applyAndQueueCancellations(tx, deps, { sub: canceled, readAt }, known),
  );
  throw businessError("payment_required", message);
}

/**
 * The one-live-subscription rule, checked where the money is: at Stripe. Our table can lag behind
 * it (a webhook not processed yet, a subscription made in the Dashboard), so before creating one
 * we list the customer's subscriptions that have not ended and write each into the projection. One
 * that holds (HOLDS) refuses the create; an incomplete one, an abandoned 3-D Secure checkout, is
 * canceled instead of waiting 23 h for it to expire.
 */
export async function settleOpenSubscriptions(
  deps: BillingDeps,
  customer: string,
  key: string,
  known: Known,
): Promise<void> {
  const readAt = await dbClock(deps.db);
  // Without `status`, Stripe lists every subscription that has not ended.
  const open = await deps.stripe.subscriptions.list({ customer, limit: 100 });
  const snapshots: Snapshot[] = [];
  for (const sub of open.data) {
    if (sub.status !== "incomplete") {
      snapshots.push({ sub, readAt });
      continue;
    }
    const canceledAt = await dbClock(deps.db);
    const canceled = await deps.stripe.subscriptions.cancel(
      sub.id,
      { cancellation_details: { comment: FIRST_PAYMENT_FAILED } },
      { idempotencyKey: `${key}:${sub.id}` },
    );
    snapshots.push({ sub: canceled, readAt: canceledAt });
  }
  if (snapshots.length > 0) {
    await deps.db.transaction(async (tx) => {
      const applied = await applySubscriptions(tx, snapshots, known);
      await queueCancellationEmails(tx, deps, applied);
    });
  }
  if (snapshots.some(({ sub }) => HOLDS.has(sub.status))) {
    throw businessError("invalid", ALREADY);
  }
}

const CANCELLABLE = new Set(["active", "trialing", "past_due"]);

/**
 * Writes what Stripe answered to a change into the projection, as the webhook of that change will
 * again (the later read wins), with the emails it reveals; returns the row's body.
 */
export async function writeBack(deps: BillingDeps, snapshot: Snapshot): Promise<SubscriptionBody> {
  const applied = await deps.db.transaction((tx) => applyAndQueueCancellations(tx, deps, snapshot));
  return appliedBody(deps.db, applied);
}

/**
 * POST cancel/: at period end (default) or now, one billing write of the user's at a time
 * (`withBillingWrite`). The idempotency key names the row version acted on: a retried request
 * repeats one request, while cancel → reactivate → cancel makes a new one.
 */
export function cancelSubscription(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  immediately: boolean,
): Promise<SubscriptionBody> {
  return withBillingWrite(deps.db, userId, "cancel", () => cancelNow(deps, userId, immediately));
}

async function cancelNow(
  deps: BillingDeps & { logger: Logger },
  userId: string,
  immediately: boolean,
): Promise<SubscriptionBody> {
  const row = await currentSubscription(deps.db, userId);
  if (!row || !CANCELLABLE.has(row.status)) {
    throw businessError("not_found", "No active subscription found.");
  }
  const scheduleId = row.stripeScheduleId;
  const releaseKey = `subscription:${row.id}:release:${row.stripeSyncedAt.getTime()}`;
  // Stripe refuses `cancel_at_period_end` on a subscription a schedule manages (a scheduled plan
  // change): the schedule is released first, and the change is dropped with it.
  const release = scheduleId ? () => releaseSchedule(deps.stripe, scheduleId, releaseKey) : null;
  let sub: Stripe.Subscription;
  let readAt = await dbClock(deps.db);
  try {
    if (release) {
      await release();
      readAt = await dbClock(deps.db);
    }
    sub = immediately
      ? await deps.stripe.subscriptions.cancel(row.stripeSubscriptionId, undefined, {
          idempotencyKey: `subscription:${row.id}:cancel-now`,
        })
      : await deps.stripe.subscriptions.update(
          row.stripeSubscriptionId,
          { cancel_at_period_end: true },
          { idempotencyKey: `subscription:${row.id}:cancel:${row.stripeSyncedAt.getTime()}` },
        );
  } catch (err) {
    deps.logger.error({ err, subscription: row.stripeSubscriptionId }, "cancel failed");
    throw businessError("invalid", "Failed to cancel subscription.");
  }
  if (release) await deps.db.transaction((tx) => endScheduledChange(tx, row.id, "canceled"));
  return writeBack(deps, { sub, readAt });
}

/**
 * POST reactivate/: undoes a scheduled cancellation (`cancel_at_period_end` or `cancel_at`), one
 * billing write of the user's at a time (`withBillingWrite`).
 */
export function reactivateSubscription(
  deps: BillingDeps & { logger: Logger },
  userId: string,
): Promise<SubscriptionBody> {
  return withBillingWrite(deps.db, userId, "reactivate", () => reactivate(deps, userId));
}

async function reactivate(
  deps: BillingDeps & { logger: Logger },
  userId: string,
): Promise<SubscriptionBody> {
  const row = await currentSubscription(deps.db, userId);
  const scheduled = row && !row.endedAt && (row.cancelAtPeriodEnd || row.cancelAt !== null);
  if (!row || !scheduled || row.status === "canceled") {
    throw businessError("not_found", "No subscription scheduled for cancellation.");
  }
  const readAt = await dbClock(deps.db);
  let sub: Stripe.Subscription;
  try {
    sub = await deps.stripe.subscriptions.update(
      row.stripeSubscriptionId,
      row.cancelAtPeriodEnd ? { cancel_at_period_end: false } : { cancel_at: "" },
      { idempotencyKey: `subscription:${row.id}:reactivate:${row.stripeSyncedAt.getTime()}` },
    );
  } catch (err) {
    deps.logger.error({ err, subscription: row.stripeSubscriptionId }, "reactivate failed");
    throw businessError("invalid", "Failed to reactivate subscription.");
  }
  return writeBack(deps, { sub, readAt });
}
