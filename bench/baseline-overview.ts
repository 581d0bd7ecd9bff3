import type pg from "pg";
import { currencyExponent } from "../src/billing/money.ts";

/**
 * The baseline's `GET /api/admin/overview/` (bench/baseline-admin.ts): the business metrics
 * computed now, with the app's one statement (src/billing/business-metrics.ts), and the failure
 * counts at once beside it, as the app runs them.
 * pg-boss's queue list is read with every column of every queue row, as its `getQueues` does.
 */

/** The overview's window, days (billing's `WINDOW_DAYS`). */
const WINDOW_DAYS = 30;

/** The business metrics' queries (src/billing/business-metrics.ts), `$1` the moment they end at. */
const MONTHLY_AMOUNT = `
  greatest(
    coalesce(s.unit_amount, p.amount) * s.quantity
      * (1 - case when discount_live then coalesce((s.discount->>'percent_off')::numeric, 0) else 0 end / 100)
      - case when discount_live and s.discount->>'currency' = p.currency
          then coalesce((s.discount->>'amount_off')::numeric, 0) else 0 end,
    0)
  * case p.interval when 'year' then 1 / 12.0 when 'week' then 52 / 12.0 when 'day' then 365 / 12.0
      else 1 end`;
/** The business metrics' one statement (src/billing/business-metrics.ts), `$1` the moment they end at. */
const METRICS = `select
  (select coalesce(json_agg(m order by m.currency), '[]'::json) from (
    select p.currency, round(sum(${MONTHLY_AMOUNT}), 2)::float8 as amount
    from subscriptions s join plans p on p.id = s.plan_id
    cross join lateral (select s.discount->>'ends_at' is null
      or (s.discount->>'ends_at')::timestamptz > at.now as discount_live) d
    where s.status in ('active', 'past_due') group by p.currency) m),
  (select coalesce(json_agg(c order by c.status, c.plan), '[]'::json) from (
    select s.status, coalesce(p.name, 'none') as plan, count(*)::int as count
    from subscriptions s left join plans p on p.id = s.plan_id group by 1, 2) c),
  (select json_build_object('ended', count(*)::int,
      'converted', count(*) filter (where exists (select 1 from payments pay
        where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0
          and pay.occurred_at >= s.trial_end))::int)
    from subscriptions s
    where s.trial_start is not null and s.trial_end is not null
      and s.trial_end >= at.now - make_interval(days => ${WINDOW_DAYS})
      and (s.trial_end <= at.now or s.status <> 'trialing')),
  (select count(*)::int from subscriptions s
    where s.status = 'canceled'
      and coalesce(s.ended_at, s.canceled_at, s.updated_at) >= at.now - make_interval(days => ${WINDOW_DAYS})
      and exists (select 1 from payments pay
        where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0)),
  (select json_build_object('failed', count(*)::int,
      'recovered', count(*) filter (where exists (select 1 from payments paid
        where paid.stripe_invoice_id = f.invoice and paid.status = 'succeeded'))::int)
    from (select stripe_invoice_id as invoice from payments
      where status = 'failed' and stripe_invoice_id is not null group by stripe_invoice_id
      having min(occurred_at) >= at.now - make_interval(days => ${WINDOW_DAYS})) f)
  from (select $1::timestamptz as now) as at`;

/** The metrics in one statement, as the app computes them (one snapshot, no transaction). */
async function metrics(pool: pg.Pool, now: Date) {
  const { rows } = await pool.query({
    text: METRICS,
    values: [now.toISOString()],
    rowMode: "array",
  });
  const [mrr, subscriptions, trials, churned, recovery] = rows[0] as [
    { currency: string; amount: number }[],
    unknown[],
    unknown,
    number,
    unknown,
  ];
  return { mrr, subscriptions, trials, churned, recovery };
}

export async function overview(pool: pg.Pool) {
  const now = new Date();
  const since = new Date(now.getTime() - WINDOW_DAYS * 86_400_000);
  const [m, failed, events, mails, queues] = await Promise.all([
    metrics(pool, now),
    pool.query(
      "select count(*)::int as n from payments where status = 'failed' and occurred_at >= $1",
      [since],
    ),
    pool.query("select status, count(*)::int as n from stripe_events group by status"),
    pool.query("select count(*)::int as n from emails where status = 'failed'"),
    pool.query("select * from pgboss.queue q order by q.name"),
  ]);
  const byStatus = new Map(events.rows.map((r) => [r.status, r.n]));
  return {
    metrics: {
      computed_at: now.toISOString(),
      window_days: WINDOW_DAYS,
      mrr: m.mrr.map(({ currency, amount }) => {
        const exponent = currencyExponent(currency);
        return { currency, amount: (Number(amount) / 10 ** exponent).toFixed(exponent) };
      }),
      subscriptions: m.subscriptions,
      trials: m.trials,
      churned: m.churned,
      recovery: m.recovery,
    },
    failures: {
      failed_payments: failed.rows[0]?.n ?? 0,
      webhook_events: {
        failed: byStatus.get("failed") ?? 0,
        retrying: byStatus.get("retrying") ?? 0,
        pending: byStatus.get("pending") ?? 0,
      },
      failed_emails: mails.rows[0]?.n ?? 0,
      dead_jobs: queues.rows
        .filter((q) => q.name.endsWith(".dead") && q.queued_count > 0)
        .map((q) => ({ queue: q.name.slice(0, -5), count: q.queued_count })),
    },
  };
}
