import { and, eq, gt, min, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import type { AccessClaimOf } from "../platform/feature.ts";
import { type AccessAnswer, type AccessSettings, accessPolicy } from "./access-policy.ts";
import { payments } from "./billing-tables.ts";
import type { Entitlements } from "./plan-entitlements.ts";
import { type PlanBody, planBody } from "./plans-service.ts";
import { currentSubscriptionWithPlan, type SubscriptionRow } from "./subscription-queries.ts";

/** The public answer of `access/` (docs/access.md). */
export interface AccessBody {
  allowed: boolean;
  reason: AccessAnswer["reason"] | "feature_not_included";
  until: string | null;
  plan: PlanBody | null;
  /** What the plan grants while access is allowed; `{}` otherwise. */
  entitlements: Entitlements;
  feature?: string;
  value?: boolean | number | null;
}

/**
 * When the current past-due episode began: the first failed payment of the subscription after its
 * last successful one. Asked only for a `past_due` subscription, so the hot path stays one query.
 */
async function firstFailureSinceLastSuccess(
  db: Executor,
  subscriptionId: string,
): Promise<Date | null> {
  const query = prepared(db, "first_failure_since_success", (e) =>
    e
      .select({ at: min(payments.occurredAt) })
      .from(payments)
      .where(
        and(
          eq(payments.subscriptionId, sql.placeholder("id")),
          eq(payments.status, "failed"),
          gt(
            payments.occurredAt,
            sql`coalesce((select max(p.occurred_at) from payments p where p.subscription_id = ${sql.placeholder("id")} and p.status = 'succeeded'), '-infinity'::timestamptz)`,
          ),
        ),
      )
      .prepare("first_failure_since_success"),
  );
  const [row] = await query.execute({ id: subscriptionId });
  return row?.at ? new Date(row.at) : null;
}

function factsOf(s: SubscriptionRow, firstFailureAt: Date | null) {
  return {
    status: s.status,
    cancelAtPeriodEnd: s.cancelAtPeriodEnd,
    cancelAt: s.cancelAt,
    currentPeriodStart: s.currentPeriodStart,
    currentPeriodEnd: s.currentPeriodEnd,
    createdAt: s.stripeCreatedAt,
    firstFailureAt,
  };
}

/**
 * The access answer for `userId` at `now`: the policy over their current subscription, with the
 * plan's entitlements while allowed. With `feature`, that feature's value too, and `allowed` only
 * when the plan grants it (true, or a limit above 0).
 */
export async function accessOf(
  db: Executor,
  settings: AccessSettings,
  userId: string,
  now: Date,
  feature?: string,
): Promise<AccessBody> {
  const current = await currentSubscriptionWithPlan(db, userId);
  const sub = current?.subscription;
  const firstFailure =
    sub?.status === "past_due" ? await firstFailureSinceLastSuccess(db, sub.id) : null;
  const answer = accessPolicy(sub ? factsOf(sub, firstFailure) : null, settings, now);
  const plan = current?.plan ?? null;
  const entitlements = answer.allowed && plan ? plan.entitlements : {};
  const body: AccessBody = {
    allowed: answer.allowed,
    reason: answer.reason,
    until: answer.until?.toISOString() ?? null,
    plan: plan ? planBody(plan) : null,
    entitlements,
  };
  if (feature === undefined) return body;
  const value = entitlements[feature] ?? null;
  const granted = value === true || (typeof value === "number" && value > 0);
  return {
    ...body,
    ...(body.allowed && !granted
      ? { allowed: false, reason: "feature_not_included" as const, until: null }
      : {}),
    feature,
    value,
  };
}

/** The policy's settings out of the config (seconds). */
export function accessSettingsOf(config: {
  GRACE_PAST_DUE: number;
  GRACE_INCOMPLETE: number;
}): AccessSettings {
  return { gracePastDue: config.GRACE_PAST_DUE, graceIncomplete: config.GRACE_INCOMPLETE };
}

/**
 * The `entitlements` claim of an access token (ACCESS_CLAIMS=on, docs/access.md): the access answer
 * when the token is signed, without a feature. Accounts asks it through the services, inside the
 * transaction that signs the token.
 */
export const accessClaimOf: AccessClaimOf = async (executor, config, userId) => {
  const answer = await accessOf(executor, accessSettingsOf(config), userId, new Date());
  return { allowed: answer.allowed, features: answer.entitlements };
};
