import { inArray, sql } from "drizzle-orm";
import { toSnakeCase } from "drizzle-orm/casing";
import type Stripe from "stripe";
import type { User } from "../accounts/index.ts";
import { type AuditContext, recordAudit } from "../audit/index.ts";
import { type Executor, queryRows, type Tx } from "../platform/db/client.ts";
import { subscriptionTransitions } from "./billing-audit.ts";
import { plans, subscriptions } from "./billing-tables.ts";
import { customerIdOf, resolveUsers } from "./owners.ts";
import type { Plan } from "./plans-service.ts";
import { DISCOUNT_EXPAND, discountOf, UNKNOWN_DISCOUNT } from "./subscription-discounts.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";

// The `subscriptions` table is a projection of Stripe: this file writes Stripe's state into it,
// and nothing else. What a change means (an email, a payment) is decided by the callers.

/**
 * A Stripe subscription as read at `readAt` (database clock, taken before the request left).
 * `readAt` is the version marker (docs/architecture.md, 'The version marker'): every state Stripe
 * returned is at least as new as the moment the request started, so of two snapshots the
 * later-started one wins.
 */
export interface Snapshot {
  sub: Stripe.Subscription;
  readAt: Date;
  /** Who caused this read, for the audit trail, when not the actor of the work in progress. */
  cause?: AuditContext;
}

/** The advisory-lock class of "applying this subscription" (the key is its id's hash). */
const APPLY_LOCK = 7301;

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
  deps: { db: Executor; stripe: Stripe },
  id: string,
): Promise<Snapshot> {
  const readAt = await dbClock(deps.db);
  return { sub: await deps.stripe.subscriptions.retrieve(id, { expand: DISCOUNT_EXPAND }), readAt };
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
 * A snapshot applied: the row as stored, whether this snapshot was written (false: the stored row
 * came from a newer one), and the owner and plan it was written with.
 */
export interface Applied {
  row: SubscriptionRow;
  written: boolean;
  user: User;
  plan: Plan | undefined;
}

/** Rows the caller has read already, so that applying does not read them again. */
export interface Known {
  /** The owner of every snapshot applied. */
  user?: User;
  plans?: Plan[];
}

/**
 * Writes a snapshot into the projection unless the stored row came from a newer one. Creates the
 * row when the subscription is new to us, resolving its user (RetryLater when none is known yet).
 */
export async function applySubscription(
  tx: Tx,
  snapshot: Snapshot,
  known: Known = {},
): Promise<Applied> {
  const [applied] = await applySubscriptions(tx, [snapshot], known);
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
  snapshots: Snapshot[],
  known: Known = {},
): Promise<(Applied | RetryLater)[]> {
  // One statement cannot upsert a row twice.
  if (new Set(snapshots.map((s) => s.sub.id)).size !== snapshots.length) {
    throw new Error("applySubscriptions takes each subscription once");
  }
  const users = known.user
    ? snapshots.map(() => known.user)
    : await resolveUsers(
        tx,
        snapshots.map(({ sub }) => ({
          customerId: customerIdOf(sub.customer),
          metadataUserId: sub.metadata.user_id,
        })),
      );
  const planOf = new Map((known.plans ?? []).map((plan) => [plan.stripePriceId, plan]));
  const priceIds = snapshots.flatMap(({ sub }) => sub.items.data[0]?.price.id ?? []);
  const missing = [...new Set(priceIds.filter((id) => !planOf.has(id)))];
  if (missing.length > 0) {
    for (const plan of await tx.select().from(plans).where(inArray(plans.stripePriceId, missing))) {
      planOf.set(plan.stripePriceId, plan);
    }
  }

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
    const discount = discountOf(sub);
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
      quantity: item?.quantity ?? 1,
      unitAmount: item?.price.unit_amount ?? null,
      stripeScheduleId:
        typeof sub.schedule === "string" ? sub.schedule : (sub.schedule?.id ?? null),
      discount: discount === undefined ? UNKNOWN_DISCOUNT : discount,
      started: started(sub),
      stripeCreatedAt: new Date(sub.created * 1000),
      stripeSyncedAt: readAt,
      updatedAt: new Date(),
    } satisfies typeof subscriptions.$inferInsert;
    return { user, plan, values };
  });
  const toWrite = outcomes.flatMap((o) => (o instanceof RetryLater ? [] : [o]));
  const prior = await lockAndRead(
    tx,
    toWrite.map((o) => o.values.stripeSubscriptionId),
  );
  const written =
    toWrite.length > 0
      ? await tx
          .insert(subscriptions)
          .values(toWrite.map((o) => o.values))
          .onConflictDoUpdate({
            target: subscriptions.stripeSubscriptionId,
            set: {
              ...fromExcluded(Object.keys(toWrite[0]?.values ?? {})),
              // A snapshot that cannot say what its discount is keeps the stored one.
              discount: sql`case when excluded.discount = ${JSON.stringify(UNKNOWN_DISCOUNT)}::jsonb then ${subscriptions.discount} else excluded.discount end`,
            },
            setWhere: sql`${subscriptions.stripeSyncedAt} <= excluded.stripe_synced_at`,
          })
          .returning()
      : [];
  const writtenById = new Map(written.map((row) => [row.stripeSubscriptionId, row]));
  // Each write records what it changed, in this transaction; a refused or idle one nothing.
  const causeOf = new Map(snapshots.map((s) => [s.sub.id, s.cause]));
  await recordAudit(
    tx,
    written.flatMap((row) =>
      subscriptionTransitions(
        prior.get(row.stripeSubscriptionId),
        row,
        causeOf.get(row.stripeSubscriptionId),
      ),
    ),
  );

  return outcomes.map((outcome) => {
    if (outcome instanceof RetryLater) return outcome;
    const id = outcome.values.stripeSubscriptionId;
    const { user, plan } = outcome;
    const row = writtenById.get(id);
    if (row) return { row, written: true, user, plan };
    // Refused: the row is as read under the lock.
    const current = prior.get(id);
    if (!current) throw new Error(`subscription ${id} vanished`);
    return { row: current, written: false, user, plan };
  });
}

/**
 * Serializes the writers of these subscriptions (a webhook batch, the API's answer, another
 * worker) and reads their stored rows: the diff the audit trail records is then against the row
 * this write replaces. A transaction-scoped advisory lock rather than `FOR UPDATE`, which cannot
 * lock a row that does not exist yet: two first writes of one subscription would both see none and
 * both record its creation. Taken in id order, so batches that share subscriptions cannot deadlock.
 */
async function lockAndRead(tx: Tx, ids: string[]): Promise<Map<string, SubscriptionRow>> {
  if (ids.length === 0) return new Map();
  const keys = sql.join(
    [...ids].sort().map((id) => sql`(${id})`),
    sql`, `,
  );
  await tx.execute(
    sql`select pg_advisory_xact_lock(${APPLY_LOCK}, hashtext(id)) from (values ${keys}) as k(id) order by id`,
  );
  // A statement of its own: one that waited for the lock must see what its holder committed.
  const rows = await tx
    .select()
    .from(subscriptions)
    .where(inArray(subscriptions.stripeSubscriptionId, ids));
  return new Map(rows.map((row) => [row.stripeSubscriptionId, row]));
}

/** An upsert's `set` that takes each of `keys` from the proposed row (`excluded`). */
function fromExcluded(keys: string[]) {
  // The tables are declared in camelCase and named in snake_case (the database's `casing`).
  return Object.fromEntries(
    keys.map((key) => [key, sql`excluded.${sql.identifier(toSnakeCase(key))}`]),
  );
}
