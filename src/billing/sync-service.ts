import { and, asc, desc, eq, inArray, or, sql } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import type Stripe from "stripe";
import { findUsersByIdOrCustomer, getUserById, type User } from "../accounts/accounts-service.ts";
import type { Config } from "../config.ts";
import { type Db, type Executor, queryRows, type Tx } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import type { JobDeps } from "../services.ts";
import { cancellationEmail, trialEndingEmail } from "./billing-emails.ts";
import { plans, subscriptions } from "./billing-tables.ts";
import type { Plan } from "./plans-service.ts";

/** What the billing services use. */
export interface BillingDeps {
  db: Db;
  stripe: Stripe;
  jobs: Jobs<JobDeps>;
  config: Pick<Config, "FRONTEND_URL">;
}

export type SubscriptionRow = typeof subscriptions.$inferSelect;

/**
 * A Stripe subscription as read at `readAt` (database clock, taken before the request left).
 * `readAt` is the version marker of DESIGN §4.1: every state Stripe returned is at least as new as
 * the moment the request started, so of two snapshots the later-started one wins.
 */
export interface Snapshot {
  sub: Stripe.Subscription;
  readAt: Date;
}

/** A cause that cannot be handled yet (e.g. the user is not linked); the job retries later. */
export class RetryLater extends Error {
  override name = "RetryLater";
}

/** Marks a subscription we cancel because its first payment failed: it never started. */
export const FIRST_PAYMENT_FAILED = "first_payment_failed";

const STARTED = new Set(["active", "trialing", "past_due", "unpaid", "paused"]);

export async function dbClock(db: Executor): Promise<Date> {
  const [row] = await queryRows<{ now: string | Date }>(db, sql`select clock_timestamp() as now`);
  if (!row) throw new Error("clock_timestamp() returned nothing");
  return new Date(row.now);
}

/** Reads a subscription from Stripe with its version marker. */
export async function fetchSubscription(
  deps: Pick<BillingDeps, "db" | "stripe">,
  id: string,
): Promise<Snapshot> {
  const readAt = await dbClock(deps.db);
  return { sub: await deps.stripe.subscriptions.retrieve(id), readAt };
}

export function customerIdOf(
  customer: string | Stripe.Customer | Stripe.DeletedCustomer | null,
): string | null {
  if (customer === null) return null;
  return typeof customer === "string" ? customer : customer.id;
}

/** What says whose a Stripe object is: its customer and our `metadata.user_id`. */
export interface Owner {
  customerId: string | null;
  metadataUserId: string | undefined;
}

/**
 * Whose object this is (DESIGN §4.6): `metadata.user_id` (we set it on everything we create),
 * else the user linked to the Stripe customer. Undefined when neither is known yet.
 */
export async function resolveUser(
  db: Executor,
  customerId: string | null,
  metadataUserId: string | undefined,
): Promise<User | undefined> {
  const [user] = await resolveUsers(db, [{ customerId, metadataUserId }]);
  return user;
}

const isUserId = (value: string | undefined): value is string =>
  value !== undefined && /^[0-9a-f-]{36}$/i.test(value);

/** `resolveUser` for many objects at once, in one query; answers in order. */
export async function resolveUsers(db: Executor, owners: Owner[]): Promise<(User | undefined)[]> {
  const ids = owners.map((o) => o.metadataUserId).filter(isUserId);
  const customerIds = owners.map((o) => o.customerId).filter((c) => c !== null);
  const found = await findUsersByIdOrCustomer(db, ids, customerIds);
  const byId = new Map(found.map((user) => [user.id, user]));
  const byCustomer = new Map(
    found.filter((user) => user.stripeCustomerId).map((user) => [user.stripeCustomerId, user]),
  );
  return owners.map(
    ({ customerId, metadataUserId }) =>
      (isUserId(metadataUserId) ? byId.get(metadataUserId) : undefined) ??
      (customerId ? byCustomer.get(customerId) : undefined),
  );
}

const toDate = (seconds: number | null | undefined): Date | null =>
  seconds === null || seconds === undefined ? null : new Date(seconds * 1000);

function started(sub: Stripe.Subscription): boolean {
  if (STARTED.has(sub.status)) return true;
  if (sub.status !== "canceled") return false;
  return sub.cancellation_details?.comment !== FIRST_PAYMENT_FAILED;
}

/** When access ends for a canceled or cancel-scheduled subscription; null otherwise. */
export function accessEndsAt(row: SubscriptionRow): Date | null {
  if (row.endedAt) return row.endedAt;
  if (row.cancelAt) return row.cancelAt;
  if (row.cancelAtPeriodEnd) return row.currentPeriodEnd;
  return null;
}

/**
 * Writes a snapshot into the projection unless the stored row came from a newer one. Creates the
 * row when the subscription is new to us, resolving its user. Returns the row as stored and
 * whether this snapshot was written. A cancellation it reveals queues the cancellation email,
 * once per subscription and end date.
 */
export async function applySubscription(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  snapshot: Snapshot,
): Promise<{ row: SubscriptionRow; written: boolean }> {
  const [applied] = await applySubscriptions(tx, deps, [snapshot]);
  if (!applied) throw new Error(`subscription ${snapshot.sub.id} was not applied`);
  if (applied instanceof RetryLater) throw applied;
  return applied;
}

/**
 * `applySubscription` for many snapshots of distinct subscriptions (the worker's batches), in a
 * constant number of statements: one finds their users, one their plans, one upserts them all.
 * Answers per snapshot, in order, what `applySubscription` returns, or the RetryLater it would
 * throw; a snapshot without a known user is skipped and the others are written.
 */
export async function applySubscriptions(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  snapshots: Snapshot[],
): Promise<({ row: SubscriptionRow; written: boolean } | RetryLater)[]> {
  // One statement cannot upsert a row twice.
  if (new Set(snapshots.map((s) => s.sub.id)).size !== snapshots.length) {
    throw new Error("applySubscriptions takes each subscription once");
  }
  const users = await resolveUsers(
    tx,
    snapshots.map(({ sub }) => ({
      customerId: customerIdOf(sub.customer),
      metadataUserId: sub.metadata.user_id,
    })),
  );
  const priceIds = snapshots.flatMap(({ sub }) => sub.items.data[0]?.price.id ?? []);
  const planRows =
    priceIds.length > 0
      ? await tx.select().from(plans).where(inArray(plans.stripePriceId, priceIds))
      : [];
  const planOf = new Map(planRows.map((plan) => [plan.stripePriceId, plan]));

  const outcomes = snapshots.map(({ sub, readAt }, i) => {
    const customerId = customerIdOf(sub.customer);
    const user = users[i];
    if (!user || !customerId) {
      return new RetryLater(
        `no user known yet for subscription ${sub.id} (customer ${customerId})`,
      );
    }
    const item = sub.items.data[0];
    const plan = item ? planOf.get(item.price.id) : undefined;
    const values = {
      userId: user.id,
      planId: plan?.id ?? null,
      stripeSubscriptionId: sub.id,
      stripeCustomerId: customerId,
      status: sub.status,
      currentPeriodStart: toDate(item?.current_period_start),
      currentPeriodEnd: toDate(item?.current_period_end),
      cancelAtPeriodEnd: sub.cancel_at_period_end,
      cancelAt: toDate(sub.cancel_at),
      canceledAt: toDate(sub.canceled_at),
      endedAt: toDate(sub.ended_at),
      trialStart: toDate(sub.trial_start),
      trialEnd: toDate(sub.trial_end),
      started: started(sub),
      stripeCreatedAt: new Date(sub.created * 1000),
      stripeSyncedAt: readAt,
      updatedAt: new Date(),
    } satisfies typeof subscriptions.$inferInsert;
    return { user, planName: plan?.name ?? "subscription", values };
  });
  const toWrite = outcomes.flatMap((o) => (o instanceof RetryLater ? [] : [o]));
  const written =
    toWrite.length > 0
      ? await tx
          .insert(subscriptions)
          .values(toWrite.map((o) => o.values))
          .onConflictDoUpdate({
            target: subscriptions.stripeSubscriptionId,
            set: fromExcluded(Object.keys(toWrite[0]?.values ?? {})),
            setWhere: sql`${subscriptions.stripeSyncedAt} <= excluded.stripe_synced_at`,
          })
          .returning()
      : [];
  const writtenById = new Map(written.map((row) => [row.stripeSubscriptionId, row]));
  const refused = toWrite
    .map((o) => o.values.stripeSubscriptionId)
    .filter((id) => !writtenById.has(id));
  const stored =
    refused.length > 0
      ? await tx
          .select()
          .from(subscriptions)
          .where(inArray(subscriptions.stripeSubscriptionId, refused))
      : [];
  const storedById = new Map(stored.map((row) => [row.stripeSubscriptionId, row]));

  const results: ({ row: SubscriptionRow; written: boolean } | RetryLater)[] = [];
  for (const outcome of outcomes) {
    if (outcome instanceof RetryLater) {
      results.push(outcome);
      continue;
    }
    const id = outcome.values.stripeSubscriptionId;
    const row = writtenById.get(id);
    if (row) {
      await queueCancellationEmail(tx, deps, row, outcome.user, outcome.planName);
      results.push({ row, written: true });
      continue;
    }
    const current = storedById.get(id);
    if (!current) throw new Error(`subscription ${id} vanished`);
    results.push({ row: current, written: false });
  }
  return results;
}

/** An upsert's `set` that takes each of `keys` from the proposed row (`excluded`). */
function fromExcluded(keys: string[]) {
  // The tables are declared in camelCase and named in snake_case (the database's `casing`).
  return Object.fromEntries(
    keys.map((key) => [key, sql`excluded.${sql.identifier(toSnakeCase(key))}`]),
  );
}

async function queueCancellationEmail(
  tx: Tx,
  deps: Pick<BillingDeps, "jobs" | "config">,
  row: SubscriptionRow,
  user: User,
  planName: string,
): Promise<void> {
  const endsAt = accessEndsAt(row);
  if (!row.started || !endsAt) return;
  await queueEmail(tx, deps, {
    to: user.email,
    template: cancellationEmail,
    data: {
      name: user.firstName || user.username,
      planName,
      accessEndsAt: endsAt.toISOString(),
    },
    // One email per subscription and end date: a webhook and the API response that both show
    // the same cancellation produce one; a reactivation and a new, later end date another.
    causeKey: `${row.stripeSubscriptionId}:${endsAt.toISOString()}`,
    userId: user.id,
  });
}

/** Fetches a subscription and writes it, in one short transaction after the read. */
export async function syncSubscription(deps: BillingDeps, id: string): Promise<SubscriptionRow> {
  const snapshot = await fetchSubscription(deps, id);
  return deps.db.transaction(async (tx) => (await applySubscription(tx, deps, snapshot)).row);
}

/**
 * `customer.subscription.trial_will_end`: the reminder, once per subscription and trial end (the
 * event's own `trial_end`), unless the subscription has ended meanwhile.
 */
export async function recordTrialWillEnd(
  deps: BillingDeps,
  event: Stripe.Subscription,
): Promise<void> {
  const snapshot = await fetchSubscription(deps, event.id);
  await deps.db.transaction(async (tx) => {
    const { row } = await applySubscription(tx, deps, snapshot);
    if (!event.trial_end || row.endedAt) return;
    const user = await getUserById(tx, row.userId);
    if (!user) return;
    const [plan] = row.planId ? await tx.select().from(plans).where(eq(plans.id, row.planId)) : [];
    await queueEmail(tx, deps, {
      to: user.email,
      template: trialEndingEmail,
      data: {
        name: user.firstName || user.username,
        planName: plan?.name ?? "subscription",
        trialEnd: new Date(event.trial_end * 1000).toISOString(),
      },
      causeKey: `${event.id}:${event.trial_end}`,
      userId: user.id,
    });
  });
}

/** Which of a user's subscriptions may be current: one that started or still awaits its payment. */
const isCurrent = and(
  eq(subscriptions.userId, sql.placeholder("userId")),
  or(eq(subscriptions.started, true), eq(subscriptions.status, "incomplete")),
);
/**
 * Of those, the current one: a live subscription before any ended one (a canceled subscription
 * created in the same second as its successor must not hide it), then the newest by Stripe's
 * `created`, then by arrival (`seq`, unique), so two rows can never tie. The index
 * `subscriptions_user_current_idx` holds exactly this order.
 */
const currentFirst = [
  asc(subscriptions.ended),
  desc(subscriptions.stripeCreatedAt),
  desc(subscriptions.seq),
];

/** The user's current subscription (`isCurrent`). */
export async function currentSubscription(
  db: Executor,
  userId: string,
): Promise<SubscriptionRow | undefined> {
  // profile/ and every user shape ask this.
  const query = prepared(db, "current_subscription", (e) =>
    e
      .select()
      .from(subscriptions)
      .where(isCurrent)
      .orderBy(...currentFirst)
      .limit(1)
      .prepare("current_subscription"),
  );
  const [row] = await query.execute({ userId });
  return row;
}

/** The user's current subscription and its plan, in one query (status/ asks this). */
export async function currentSubscriptionWithPlan(
  db: Executor,
  userId: string,
): Promise<{ subscription: SubscriptionRow; plan: Plan | null } | undefined> {
  const query = prepared(db, "current_subscription_with_plan", (e) =>
    e
      .select({ subscription: subscriptions, plan: plans })
      .from(subscriptions)
      .leftJoin(plans, eq(plans.id, subscriptions.planId))
      .where(isCurrent)
      .orderBy(...currentFirst)
      .limit(1)
      .prepare("current_subscription_with_plan"),
  );
  const [row] = await query.execute({ userId });
  return row;
}

/** `subscription_status` of the user shape (accounts asks through this). */
export async function subscriptionStatusOf(db: Executor, userId: string): Promise<string> {
  return (await currentSubscription(db, userId))?.status ?? "inactive";
}

export async function findSubscriptionByStripeId(
  db: Executor,
  stripeId: string,
): Promise<SubscriptionRow | undefined> {
  const [row] = await db
    .select()
    .from(subscriptions)
    .where(eq(subscriptions.stripeSubscriptionId, stripeId));
  return row;
}
