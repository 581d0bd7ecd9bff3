import { and, count, desc, eq, gte, lt, or, type SQL, sql } from "drizzle-orm";
import type Stripe from "stripe";
import type { Executor } from "../platform/db/client.ts";
import { filteredPage, prepared } from "../platform/db/prepared.ts";
import { businessError } from "../platform/http/errors.ts";
import type { PageRequest } from "../platform/http/pagination.ts";
import type { Logger } from "../platform/logging.ts";
import type { BillingDeps } from "./billing-deps.ts";
import { payments, plans, subscriptions } from "./billing-tables.ts";
import type { ChangeInput } from "./change-rules.ts";
import { changeSubscription } from "./change-service.ts";
import { DISCOUNT_EXPAND } from "./subscription-discounts.ts";
import { dbClock } from "./subscription-projection.ts";
import { currentSubscription, type SubscriptionRow } from "./subscription-queries.ts";
import {
  bodyOf,
  cancelSubscription,
  type SubscriptionBody,
  subscriptionBody,
  writeBack,
} from "./subscriptions-service.ts";

// Billing's answers and actions for the staff admin API (src/admin/): subscriptions of any user,
// and the support actions on one. Every action goes to Stripe first and lands in the projection by
// the same write-back as the user's own actions; the webhook that follows lands it again.

/** A subscription as staff see it: the user's shape plus whose it is and its trial. */
export interface StaffSubscriptionBody extends SubscriptionBody {
  user_id: string;
  stripe_customer_id: string;
  trial_start: string | null;
  trial_end: string | null;
  ended_at: string | null;
}

export interface SubscriptionFilter {
  status?: string | undefined;
  planId?: string | undefined;
  createdAfter?: Date | undefined;
  createdBefore?: Date | undefined;
  userId?: string | undefined;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

function staffShape(row: SubscriptionRow, body: SubscriptionBody): StaffSubscriptionBody {
  return {
    ...body,
    user_id: row.userId,
    stripe_customer_id: row.stripeCustomerId,
    trial_start: iso(row.trialStart),
    trial_end: iso(row.trialEnd),
    ended_at: iso(row.endedAt),
  };
}

async function staffBody(db: Executor, row: SubscriptionRow): Promise<StaffSubscriptionBody> {
  return staffShape(row, await subscriptionBody(db, row));
}

/** The filters present, each a placeholder of its own name (`filterValues` binds them). */
function filterOf(filter: SubscriptionFilter): SQL | undefined {
  return and(
    filter.status ? eq(subscriptions.status, sql.placeholder("status")) : undefined,
    filter.planId ? eq(subscriptions.planId, sql.placeholder("plan")) : undefined,
    filter.createdAfter ? gte(subscriptions.stripeCreatedAt, sql.placeholder("after")) : undefined,
    filter.createdBefore ? lt(subscriptions.stripeCreatedAt, sql.placeholder("before")) : undefined,
    filter.userId ? eq(subscriptions.userId, sql.placeholder("user")) : undefined,
  );
}

function filterValues(filter: SubscriptionFilter) {
  return {
    status: filter.status,
    plan: filter.planId,
    after: filter.createdAfter,
    before: filter.createdBefore,
    user: filter.userId,
  };
}

/** Every user's subscriptions matching `filter`, newest first (Stripe's `created`). */
export async function listSubscriptionsForStaff(
  db: Executor,
  filter: SubscriptionFilter,
  page: PageRequest,
): Promise<{ count: number; subscriptions: StaffSubscriptionBody[] }> {
  // One prepared statement per combination of filters, their values bound (prepared.ts).
  const filters = filterValues(filter);
  const { count: total, rows } = await filteredPage(db, "staff_subscriptions", filters, page, {
    count: (e, name) =>
      e.select({ n: count() }).from(subscriptions).where(filterOf(filter)).prepare(name),
    rows: (e, name) =>
      e
        .select({ subscription: subscriptions, plan: plans })
        .from(subscriptions)
        .leftJoin(plans, eq(plans.id, subscriptions.planId))
        .where(filterOf(filter))
        .orderBy(desc(subscriptions.stripeCreatedAt), desc(subscriptions.seq))
        .limit(sql.placeholder("limit"))
        .offset(sql.placeholder("offset"))
        .prepare(name),
  });
  // The plans come with the rows: no read per row.
  const bodies = rows.map(({ subscription, plan }) =>
    staffShape(subscription, bodyOf(subscription, plan)),
  );
  return { count: total, subscriptions: bodies };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

async function findSubscription(db: Executor, id: string): Promise<SubscriptionRow> {
  const [row] = await db
    .select()
    .from(subscriptions)
    .where(
      UUID.test(id)
        ? or(eq(subscriptions.id, id), eq(subscriptions.stripeSubscriptionId, id))
        : eq(subscriptions.stripeSubscriptionId, id),
    );
  if (!row) throw businessError("not_found", "Subscription not found.");
  return row;
}

/** One subscription by our id or Stripe's (`sub_…`); a 404 when there is none. */
export async function subscriptionForStaff(
  db: Executor,
  id: string,
): Promise<StaffSubscriptionBody> {
  return staffBody(db, await findSubscription(db, id));
}

/**
 * The subscription, if it is its user's current one: the user's own actions (cancel, change plan)
 * act on that one, and an older, ended subscription has nothing left to act on.
 */
export async function actionableSubscription(db: Executor, id: string): Promise<SubscriptionRow> {
  const row = await findSubscription(db, id);
  const current = await currentSubscription(db, row.userId);
  if (current?.id !== row.id) {
    throw businessError("conflict", "This subscription is not its user's current subscription.");
  }
  return row;
}

type Deps = BillingDeps & { logger: Logger };

/** Cancels now or at the period end, as the user's own cancel/ does. */
export async function cancelForStaff(
  deps: Deps,
  id: string,
  atPeriodEnd: boolean,
): Promise<StaffSubscriptionBody> {
  const row = await actionableSubscription(deps.db, id);
  await cancelSubscription(deps, row.userId, !atPeriodEnd);
  return subscriptionForStaff(deps.db, row.id);
}

/**
 * Changes the plan (or seats) for the user, by the user's own change/ service: the same rules,
 * timing (an upgrade now, a downgrade at the period end unless `when` says), prorations and
 * emails. An upgrade whose charge needs 3-D Secure waits for the customer (`requires_action`).
 */
export async function changePlanForStaff(
  deps: Deps,
  id: string,
  input: Omit<ChangeInput, "promotion_code">,
): Promise<{ outcome: string; subscription: StaffSubscriptionBody }> {
  const row = await actionableSubscription(deps.db, id);
  const result = await changeSubscription(deps, row.userId, input);
  return { outcome: result.outcome, subscription: await subscriptionForStaff(deps.db, row.id) };
}

/** Stripe's refusal of a support action, as the 400 staff see. */
function refused(err: unknown, what: string): never {
  const message = err instanceof Error ? err.message : String(err);
  throw businessError("invalid", `Stripe refused to ${what}: ${message}`);
}

/**
 * Moves a running trial's end later, by `days` from its current end or to `trialEnd` (Stripe's
 * `trial_end`, without proration: nothing is billed until the new end, which also becomes the
 * billing cycle's anchor, as at Stripe).
 */
export async function extendTrial(
  deps: Deps,
  id: string,
  to: { days: number } | { trialEnd: Date },
): Promise<StaffSubscriptionBody> {
  const row = await actionableSubscription(deps.db, id);
  if (row.status !== "trialing") {
    throw businessError("invalid", "Only a subscription in trial can have its trial extended.");
  }
  const trialEnd =
    "days" in to
      ? new Date((row.trialEnd ?? new Date()).getTime() + to.days * 86_400_000)
      : to.trialEnd;
  if (row.trialEnd && trialEnd <= row.trialEnd) {
    throw businessError(
      "invalid",
      `The new trial end must be after the current one (${row.trialEnd.toISOString()}).`,
    );
  }
  const end = Math.floor(trialEnd.getTime() / 1000);
  const readAt = await dbClock(deps.db);
  let sub: Stripe.Subscription;
  try {
    sub = await deps.stripe.subscriptions.update(
      row.stripeSubscriptionId,
      { trial_end: end, proration_behavior: "none", expand: DISCOUNT_EXPAND },
      { idempotencyKey: `subscription:${row.id}:trial-end:${end}` },
    );
  } catch (err) {
    refused(err, "extend the trial");
  }
  await writeBack(deps, { sub, readAt });
  return subscriptionForStaff(deps.db, row.id);
}

const GRANTABLE = new Set(["active", "trialing", "past_due"]);

/**
 * N free months: a 100 %-off coupon with `duration: repeating` for N months, put first on the
 * subscription's discounts (those it had are kept, and apply again once it ends). Nothing else
 * changes: the billing cycle, the status and the card stay, the invoices of those months are
 * issued at zero (the customer's history shows them), and the business metrics count no revenue
 * while the discount lasts. Monthly plans only: a yearly invoice rarely falls within N months.
 */
export async function grantFreePeriod(
  deps: Deps,
  id: string,
  months: number,
): Promise<StaffSubscriptionBody> {
  const row = await actionableSubscription(deps.db, id);
  if (!GRANTABLE.has(row.status)) {
    throw businessError("invalid", `A ${row.status} subscription cannot be given a free period.`);
  }
  const [plan] = row.planId
    ? await deps.db.select().from(plans).where(eq(plans.id, row.planId))
    : [];
  if (plan?.interval !== "month") {
    throw businessError(
      "invalid",
      "A free period in months applies to monthly plans; extend the trial instead.",
    );
  }
  const version = row.stripeSyncedAt.getTime();
  const readAt = await dbClock(deps.db);
  let sub: Stripe.Subscription;
  try {
    const coupon = await deps.stripe.coupons.create(
      {
        percent_off: 100,
        duration: "repeating",
        duration_in_months: months,
        name: `${months} free month${months === 1 ? "" : "s"}`,
        metadata: { granted_for: row.stripeSubscriptionId },
      },
      { idempotencyKey: `subscription:${row.id}:free-coupon:${months}:${version}` },
    );
    const current = await deps.stripe.subscriptions.retrieve(row.stripeSubscriptionId);
    const kept = current.discounts.map((d) => ({ discount: typeof d === "string" ? d : d.id }));
    sub = await deps.stripe.subscriptions.update(
      row.stripeSubscriptionId,
      { discounts: [{ coupon: coupon.id }, ...kept], expand: DISCOUNT_EXPAND },
      { idempotencyKey: `subscription:${row.id}:free-period:${months}:${version}` },
    );
  } catch (err) {
    refused(err, "grant the free period");
  }
  await writeBack(deps, { sub, readAt });
  return subscriptionForStaff(deps.db, row.id);
}

/** Failed payment attempts recorded since `since` (each failed attempt of an invoice is one). */
export async function countFailedPayments(db: Executor, since: Date): Promise<number> {
  const query = prepared(db, "count_failed_payments", (e) =>
    e
      .select({ n: count() })
      .from(payments)
      .where(and(eq(payments.status, "failed"), gte(payments.occurredAt, sql.placeholder("since"))))
      .prepare("count_failed_payments"),
  );
  const [row] = await query.execute({ since });
  return row?.n ?? 0;
}
