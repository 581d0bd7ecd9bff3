import { and, asc, desc, eq, ne, or, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { plans, subscriptions } from "./billing-tables.ts";
import type { Plan } from "./plans-service.ts";

export type SubscriptionRow = typeof subscriptions.$inferSelect;

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

/**
 * The Stripe ids of the user's live subscriptions (started, not ended) other than `except`. One
 * live subscription per user is the rule (docs/architecture.md): anything here is a breach to
 * report, never to fix silently.
 */
export async function otherLiveSubscriptions(
  db: Executor,
  userId: string,
  except: string,
): Promise<string[]> {
  const rows = await db
    .select({ id: subscriptions.stripeSubscriptionId })
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.userId, userId),
        eq(subscriptions.started, true),
        eq(subscriptions.ended, false),
        ne(subscriptions.stripeSubscriptionId, except),
      ),
    );
  return rows.map((r) => r.id);
}
