import { and, eq } from "drizzle-orm";
import Stripe from "stripe";
import { recordAudit } from "../audit/index.ts";
import type { Tx } from "../platform/db/client.ts";
import { planChangeAudit } from "./billing-audit.ts";
import type { Change } from "./change-rules.ts";
import { subscriptionChanges } from "./change-tables.ts";

// A downgrade at the period end is the next phase of a Stripe subscription schedule
// (docs/architecture.md, 'Scheduled plan changes'): Stripe applies it at the period boundary,
// once, before the renewal invoice, whatever webhooks we receive.

const idOf = (ref: string | { id: string } | null | undefined) =>
  typeof ref === "string" ? ref : (ref?.id ?? null);

/**
 * Makes `change` the next phase of the subscription's schedule: the current phase is kept as it is
 * (its items, to the end of the period), the next one bills the new plan and quantity from the
 * period end for one interval, then the schedule releases the subscription, which renews on the
 * new plan as any other. An existing schedule (a change scheduled before) is rewritten in place,
 * which is what replacing a scheduled change means.
 */
export async function scheduleAtPeriodEnd(
  stripe: Stripe,
  sub: Stripe.Subscription,
  change: Change,
  promotionCode: string | undefined,
  key: string,
): Promise<Stripe.SubscriptionSchedule> {
  const existing = idOf(sub.schedule);
  const schedule = existing
    ? await stripe.subscriptionSchedules.retrieve(existing)
    : await stripe.subscriptionSchedules.create(
        { from_subscription: sub.id },
        { idempotencyKey: `${key}:schedule` },
      );
  const startsAt = schedule.current_phase?.start_date;
  const current = schedule.phases.find((p) => p.start_date === startsAt) ?? schedule.phases[0];
  if (!current) throw new Error(`schedule ${schedule.id} has no phase`);
  return stripe.subscriptionSchedules.update(
    schedule.id,
    {
      end_behavior: "release",
      phases: [
        {
          items: current.items.map((item) => ({
            price: idOf(item.price) ?? "",
            ...(item.quantity === undefined ? {} : { quantity: item.quantity }),
          })),
          start_date: current.start_date,
          end_date: current.end_date,
        },
        {
          items: [{ price: change.plan.stripePriceId, quantity: change.quantity }],
          proration_behavior: "none",
          duration: { interval: change.plan.interval as "month" | "year", interval_count: 1 },
          metadata: { plan_id: change.plan.id },
          ...(promotionCode ? { discounts: [{ promotion_code: promotionCode }] } : {}),
        },
      ],
    },
    { idempotencyKey: `${key}:phases` },
  );
}

/**
 * Detaches the subscription from its schedule, keeping its current items: what dropping a
 * scheduled change means, and what must happen before a cancellation, since Stripe refuses
 * `cancel_at_period_end` on a subscription a schedule manages. A schedule that is already released,
 * canceled or completed is what was wanted.
 */
export async function releaseSchedule(
  stripe: Stripe,
  scheduleId: string,
  key: string,
): Promise<void> {
  try {
    await stripe.subscriptionSchedules.release(scheduleId, {}, { idempotencyKey: key });
  } catch (err) {
    if (!(err instanceof Stripe.errors.StripeInvalidRequestError)) throw err;
    const schedule = await stripe.subscriptionSchedules.retrieve(scheduleId);
    if (schedule.status === "active" || schedule.status === "not_started") throw err;
  }
}

/**
 * Marks the subscription's scheduled change as `status` (its schedule was released or rewritten),
 * and records that in the audit trail.
 */
export async function endScheduledChange(
  tx: Tx,
  subscriptionId: string,
  status: "replaced" | "canceled",
): Promise<void> {
  const ended = await tx
    .update(subscriptionChanges)
    .set({ status, updatedAt: new Date() })
    .where(
      and(
        eq(subscriptionChanges.subscriptionId, subscriptionId),
        eq(subscriptionChanges.status, "scheduled"),
      ),
    )
    .returning();
  await recordAudit(
    tx,
    ended.map((row) => planChangeAudit(row, "scheduled")),
  );
}
