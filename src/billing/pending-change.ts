import { and, eq, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { plans } from "./billing-tables.ts";
import type { Change } from "./change-rules.ts";
import { subscriptionChanges } from "./change-tables.ts";
import { type PlanBody, planBody } from "./plans-service.ts";
import type { SubscriptionRow } from "./subscription-queries.ts";

export interface PendingChangeBody {
  plan: PlanBody;
  quantity: number;
  effective_at: string;
}

/**
 * The change scheduled for the period end, if it is still to come: its row is `scheduled`, the
 * projection still shows its schedule on the subscription, and the period it ends has not rolled
 * over. Stripe's state (the projection) decides, so a schedule released elsewhere or a change
 * already applied is never shown, whatever order the webhooks came in.
 */
export async function pendingChangeOf(
  db: Executor,
  row: SubscriptionRow,
): Promise<PendingChangeBody | null> {
  return (await scheduledChangeOf(db, row))?.body ?? null;
}

/**
 * The pending change when a change for the period end asks exactly for it (plan, quantity,
 * promotion code): asked again (a retried request, a second click after the first was answered),
 * it is already done, and nothing is written at Stripe or here.
 */
export async function sameScheduledChange(
  db: Executor,
  change: Change,
  promotionCode: string | undefined,
): Promise<PendingChangeBody | null> {
  if (change.timing !== "period_end") return null;
  const pending = await scheduledChangeOf(db, change.row);
  const same =
    pending?.body.plan.id === change.plan.id &&
    pending.body.quantity === change.quantity &&
    pending.promotionCode === (promotionCode ?? null);
  return same ? pending.body : null;
}

async function scheduledChangeOf(
  db: Executor,
  row: SubscriptionRow,
): Promise<{ body: PendingChangeBody; promotionCode: string | null } | null> {
  if (!row.stripeScheduleId || row.endedAt || row.cancelAtPeriodEnd || row.cancelAt) return null;
  // Status asks this for every subscription with a schedule: a prepared statement, built once.
  const query = prepared(db, "scheduled_change_with_plan", (e) =>
    e
      .select({ change: subscriptionChanges, plan: plans })
      .from(subscriptionChanges)
      .innerJoin(plans, eq(plans.id, subscriptionChanges.planId))
      .where(
        and(
          eq(subscriptionChanges.subscriptionId, sql.placeholder("subscriptionId")),
          eq(subscriptionChanges.status, "scheduled"),
        ),
      )
      .prepare("scheduled_change_with_plan"),
  );
  const [found] = await query.execute({ subscriptionId: row.id });
  if (!found || found.change.stripeScheduleId !== row.stripeScheduleId) return null;
  if (row.currentPeriodEnd && row.currentPeriodEnd > found.change.effectiveAt) return null;
  return {
    body: {
      plan: planBody(found.plan),
      quantity: found.change.quantity,
      effective_at: found.change.effectiveAt.toISOString(),
    },
    promotionCode: found.change.promotionCode,
  };
}
