import { eq, sql } from "drizzle-orm";
import type { Db, Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { businessMetricsSnapshot } from "./business-metrics-tables.ts";

/**
 * The business metrics (docs/operations.md, 'Business metrics'), computed from the billing tables
 * by one statement of aggregates on a schedule (business-metrics-jobs.ts), stored as one snapshot row,
 * and exposed by every API process's `/metrics` (business-metrics-gauges.ts).
 */
export interface BusinessMetrics {
  /** Monthly recurring revenue per currency, minor units (fractional: a yearly price / 12). */
  mrr: { currency: string; amount: number }[];
  /** Every subscription row by Stripe status and plan name ("none" without a plan). */
  subscriptions: { status: string; plan: string; count: number }[];
  /** Trials that ended in the window, and those of them that became paying. */
  trials: { ended: number; converted: number };
  /** Paying subscriptions that ended in the window. */
  churned: number;
  /** Invoices whose first failed payment is in the window, and those of them paid since. */
  recovery: { failed: number; recovered: number };
}

/** The window of the "last 30 days" metrics. */
export const WINDOW_DAYS = 30;

/**
 * A subscription's recurring amount per month, minor units: its price per unit (the plan's when the
 * item has none) times its seats, less its discount while the discount lasts (a percentage, then
 * an amount off per invoice in the plan's currency, never below zero), over the months of its
 * interval. Stripe takes a subscription's `amount_off` once per invoice, not per seat.
 */
const MONTHLY_AMOUNT = sql`
  greatest(
    coalesce(s.unit_amount, p.amount) * s.quantity
      * (1 - case when discount_live then coalesce((s.discount->>'percent_off')::numeric, 0) else 0 end / 100)
      - case when discount_live and s.discount->>'currency' = p.currency
          then coalesce((s.discount->>'amount_off')::numeric, 0) else 0 end,
    0)
  * case p.interval when 'year' then 1 / 12.0 when 'week' then 52 / 12.0 when 'day' then 365 / 12.0
      else 1 end`;

/** The moment the windows end at, a parameter of the one statement (`at.now` in every part). */
const AT = sql`(select ${sql.placeholder("now")}::timestamptz as now) as at`;
/** Where the "last 30 days" window starts. */
const WINDOW_START = sql`at.now - make_interval(days => ${sql.raw(String(WINDOW_DAYS))})`;

/**
 * MRR counts what is billed: `active` and `past_due` subscriptions (past_due is still owed and
 * retried; it leaves MRR when Stripe cancels it or marks it unpaid). Trials are not revenue yet,
 * nor is an `incomplete` first payment. A cancellation scheduled for the period end still counts
 * until the subscription ends.
 */
const MRR = sql<BusinessMetrics["mrr"]>`(
  select coalesce(json_agg(m order by m.currency), '[]'::json) from (
    select p.currency, round(sum(${MONTHLY_AMOUNT}), 2)::float8 as amount
    from subscriptions s
    join plans p on p.id = s.plan_id
    cross join lateral (
      select s.discount->>'ends_at' is null
        or (s.discount->>'ends_at')::timestamptz > at.now as discount_live
    ) d
    where s.status in ('active', 'past_due')
    group by p.currency
  ) m)`;

const SUBSCRIPTIONS = sql<BusinessMetrics["subscriptions"]>`(
  select coalesce(json_agg(c order by c.status, c.plan), '[]'::json) from (
    select s.status, coalesce(p.name, 'none') as plan, count(*)::int as count
    from subscriptions s
    left join plans p on p.id = s.plan_id
    group by 1, 2
  ) c)`;

/**
 * Trial conversion over the window. A trial **ended** when its `trial_end` is in the window and
 * has passed, or the subscription left `trialing` sooner (canceled during the trial). It
 * **converted** when a payment above zero succeeded for the subscription at or after its trial's
 * end: what the customer did, whatever the subscription became since. A trial still retrying its
 * first charge counts as ended and not (yet) converted.
 */
const TRIALS = sql<BusinessMetrics["trials"]>`(
  select json_build_object(
    'ended', count(*)::int,
    'converted', count(*) filter (where exists (
      select 1 from payments pay
      where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0
        and pay.occurred_at >= s.trial_end))::int)
  from subscriptions s
  where s.trial_start is not null and s.trial_end is not null
    and s.trial_end >= ${WINDOW_START}
    and (s.trial_end <= at.now or s.status <> 'trialing'))`;

/**
 * Churn over the window: subscriptions now `canceled` that ended in it (`ended_at`, else when they
 * were canceled) after a successful payment above zero. A trial dropped before paying and a first
 * payment that never succeeded are not churn: nothing recurring was lost.
 */
const CHURNED = sql<number>`(
  select count(*)::int
  from subscriptions s
  where s.status = 'canceled'
    and coalesce(s.ended_at, s.canceled_at, s.updated_at)
      >= ${WINDOW_START}
    and exists (select 1 from payments pay
      where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0))`;

/**
 * Failed-payment recovery over the window: invoices whose first failed payment is in it, and those
 * of them that were paid since (Stripe's retries, a new card, 3-D Secure completed). An invoice
 * still being retried counts as failed and not (yet) recovered.
 */
const RECOVERY = sql<BusinessMetrics["recovery"]>`(
  select json_build_object(
    'failed', count(*)::int,
    'recovered', count(*) filter (where exists (
      select 1 from payments paid
      where paid.stripe_invoice_id = f.invoice and paid.status = 'succeeded'))::int)
  from (
    select stripe_invoice_id as invoice from payments
    where status = 'failed' and stripe_invoice_id is not null
    group by stripe_invoice_id
    having min(occurred_at) >= ${WINDOW_START}
  ) f)`;

/**
 * Computes the business metrics as of `now` (the windows end at it), in one statement: its parts
 * see one snapshot of the tables, so they agree with each other without a transaction. Prepared
 * once per database handle (the admin overview computes it on every request).
 */
export async function computeBusinessMetrics(db: Executor, now: Date): Promise<BusinessMetrics> {
  const query = prepared(db, "business_metrics", (e) =>
    e
      .select({
        mrr: MRR,
        subscriptions: SUBSCRIPTIONS,
        trials: TRIALS,
        churned: CHURNED,
        recovery: RECOVERY,
      })
      .from(AT)
      .prepare("business_metrics"),
  );
  const [row] = await query.execute({ now: now.toISOString() });
  if (!row) throw new Error("the business metrics' statement returned no row");
  return {
    ...row,
    mrr: row.mrr.map(({ currency, amount }) => ({ currency, amount: Number(amount) })),
  };
}

export interface BusinessMetricsSnapshot {
  metrics: BusinessMetrics;
  computedAt: Date;
}

/**
 * Computes the metrics (one statement, so one view of the tables) and replaces the stored snapshot
 * with them, unless a newer one is stored already (two runs that overlapped: the later moment
 * wins, whichever finishes last).
 */
export async function refreshBusinessMetrics(db: Db, now: Date): Promise<BusinessMetricsSnapshot> {
  const metrics = await computeBusinessMetrics(db, now);
  await db
    .insert(businessMetricsSnapshot)
    .values({ id: 1, metrics, computedAt: now })
    .onConflictDoUpdate({
      target: businessMetricsSnapshot.id,
      set: { metrics, computedAt: now },
      setWhere: sql`${businessMetricsSnapshot.computedAt} <= excluded.computed_at`,
    });
  return { metrics, computedAt: now };
}

/** The stored snapshot (one primary-key read), or undefined before the job first ran. */
export async function latestBusinessMetrics(
  db: Executor,
): Promise<BusinessMetricsSnapshot | undefined> {
  const [row] = await db
    .select()
    .from(businessMetricsSnapshot)
    .where(eq(businessMetricsSnapshot.id, 1));
  return row ? { metrics: row.metrics as BusinessMetrics, computedAt: row.computedAt } : undefined;
}
