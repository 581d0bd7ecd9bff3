import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import { currencyExponent, formatMinor } from "../src/billing/money.ts";
import { monthlyAmount } from "../src/billing/plan-rank.ts";
import { discountBody } from "../src/billing/subscription-discounts.ts";

/**
 * The baseline's admin lists (bench/baseline.ts): the first page of each, unfiltered, with the
 * app's queries (the page and its count at once) and its body. The caller must be staff, as the
 * app's guard checks (`is_staff` or `is_superuser` on the user row it reads anyway). Not
 * reproduced: the app's admin throttle (in memory, raised by the bench) and its audit context.
 */

type Row = Record<string, unknown>;
type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const iso = (d: unknown) => (d instanceof Date ? d.toISOString() : null);
const PAGE = "limit 20 offset 0";
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
const METRICS = {
  mrr: `select p.currency, round(sum(${MONTHLY_AMOUNT}), 2)::float8 as amount
    from subscriptions s join plans p on p.id = s.plan_id
    cross join lateral (select s.discount->>'ends_at' is null
      or (s.discount->>'ends_at')::timestamptz > $1::timestamptz as discount_live) d
    where s.status in ('active', 'past_due') group by p.currency order by p.currency`,
  subscriptions: `select s.status, coalesce(p.name, 'none') as plan, count(*)::int as count
    from subscriptions s left join plans p on p.id = s.plan_id group by 1, 2 order by 1, 2`,
  trials: `select count(*)::int as ended,
      count(*) filter (where exists (select 1 from payments pay
        where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0
          and pay.occurred_at >= s.trial_end))::int as converted
    from subscriptions s
    where s.trial_start is not null and s.trial_end is not null
      and s.trial_end >= $1::timestamptz - make_interval(days => ${WINDOW_DAYS})
      and (s.trial_end <= $1::timestamptz or s.status <> 'trialing')`,
  churned: `select count(*)::int as churned from subscriptions s
    where s.status = 'canceled'
      and coalesce(s.ended_at, s.canceled_at, s.updated_at) >= $1::timestamptz - make_interval(days => ${WINDOW_DAYS})
      and exists (select 1 from payments pay
        where pay.subscription_id = s.id and pay.status = 'succeeded' and pay.amount > 0)`,
  recovery: `select count(*)::int as failed,
      count(*) filter (where exists (select 1 from payments paid
        where paid.stripe_invoice_id = f.invoice and paid.status = 'succeeded'))::int as recovered
    from (select stripe_invoice_id as invoice from payments
      where status = 'failed' and stripe_invoice_id is not null group by stripe_invoice_id
      having min(occurred_at) >= $1::timestamptz - make_interval(days => ${WINDOW_DAYS})) f`,
};

export function adminRoutes(
  pool: pg.Pool,
  userOf: (req: IncomingMessage) => Promise<Row | undefined>,
  send: (res: ServerResponse, status: number, body: unknown) => void,
): Record<string, Handler> {
  /** The staff check, then a page: `count` and `rows` from two queries run at once. */
  const list =
    (
      path: string,
      page: () => Promise<{ count: number; rows: Row[] }>,
      body: (row: Row) => unknown | Promise<unknown[]>,
      whole?: (rows: Row[]) => Promise<unknown[]>,
    ): Handler =>
    async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      if (!user.is_staff && !user.is_superuser) {
        return send(res, 403, { detail: "You do not have permission to perform this action." });
      }
      const { count, rows } = await page();
      send(res, 200, {
        count,
        next: count > 20 ? `http://${req.headers.host}${path}?page=2` : null,
        previous: null,
        results: whole ? await whole(rows) : rows.map(body),
      });
    };
  const counted = async (countSql: string, pageSql: string) => {
    const [{ rows: n }, { rows }] = await Promise.all([pool.query(countSql), pool.query(pageSql)]);
    return { count: Number(n[0]?.n ?? 0), rows };
  };

  const planBody = (p: Row) => {
    const amount = Number(p.amount);
    const currency = String(p.currency);
    return {
      id: p.id,
      name: p.name,
      description: p.description,
      stripe_price_id: p.stripe_price_id,
      amount: formatMinor(amount, currency),
      currency,
      interval: p.interval,
      features: p.features,
      monthly_amount: formatMinor(
        monthlyAmount({ amount, currency, interval: String(p.interval) }),
        currency,
      ),
      trial_days: p.trial_days,
      per_seat: p.per_seat,
      min_quantity: p.min_quantity,
      max_quantity: p.max_quantity,
      entitlements: p.entitlements,
    };
  };

  const paymentBody = (row: Row, refunded: number) => {
    const currency = String(row.currency);
    const money = (v: unknown) => formatMinor(Number(v), currency);
    return {
      id: row.id,
      stripe_payment_intent_id: row.stripe_payment_intent_id,
      stripe_invoice_id: row.stripe_invoice_id,
      amount: money(row.amount),
      currency,
      status: row.status,
      description: row.description,
      quantity: row.quantity,
      unit_amount: row.unit_amount === null ? null : money(row.unit_amount),
      discount_amount: money(row.discount_amount),
      promotion_code: row.promotion_code,
      created_at: iso(row.occurred_at),
      user_id: row.user_id,
      stripe_charge_id: row.stripe_charge_id,
      stripe_refund_id: row.stripe_refund_id,
      attempt: row.attempt,
      failure_message: row.failure_message,
      amount_refunded: formatMinor(refunded, currency),
    };
  };

  /** The metrics from one read-only repeatable-read transaction, as the app computes them. */
  const metrics = async (now: Date) => {
    const client = await pool.connect();
    try {
      await client.query("begin isolation level repeatable read read only");
      const at = [now.toISOString()];
      const mrr = (await client.query(METRICS.mrr, at)).rows;
      const subscriptions = (await client.query(METRICS.subscriptions)).rows;
      const [trials] = (await client.query(METRICS.trials, at)).rows;
      const [churn] = (await client.query(METRICS.churned, at)).rows;
      const [recovery] = (await client.query(METRICS.recovery, at)).rows;
      await client.query("commit");
      return { mrr, subscriptions, trials, churned: churn?.churned ?? 0, recovery };
    } finally {
      client.release();
    }
  };

  return {
    // The metrics' transaction and the failure counts at once, as the app runs them; pg-boss's
    // queue list by the columns it reads (`getQueues` reads every column of every queue row).
    "GET /api/admin/overview/": async (req, res) => {
      const user = await userOf(req);
      if (!user) return send(res, 401, { detail: "Authentication credentials were not provided." });
      if (!user.is_staff && !user.is_superuser) {
        return send(res, 403, { detail: "You do not have permission to perform this action." });
      }
      const now = new Date();
      const since = new Date(now.getTime() - WINDOW_DAYS * 86_400_000);
      const [m, failed, events, mails, queues] = await Promise.all([
        metrics(now),
        pool.query(
          "select count(*)::int as n from payments where status = 'failed' and occurred_at >= $1",
          [since],
        ),
        pool.query("select status, count(*)::int as n from stripe_events group by status"),
        pool.query("select count(*)::int as n from emails where status = 'failed'"),
        pool.query("select * from pgboss.queue q order by q.name"),
      ]);
      const byStatus = new Map(events.rows.map((r) => [r.status, r.n]));
      send(res, 200, {
        metrics: {
          computed_at: now.toISOString(),
          window_days: WINDOW_DAYS,
          mrr: m.mrr.map(({ currency, amount }) => {
            const exponent = currencyExponent(currency);
            return { currency, amount: (Number(amount) / 10 ** exponent).toFixed(exponent) };
          }),
          subscriptions: m.subscriptions,
          trials: m.trials ?? { ended: 0, converted: 0 },
          churned: m.churned,
          recovery: m.recovery ?? { failed: 0, recovered: 0 },
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
      });
    },
    "GET /api/admin/users/": list(
      "/api/admin/users/",
      () =>
        counted(
          "select count(*)::int as n from users",
          `select id, email, username, first_name, last_name, is_active, is_staff, is_superuser, email_verified_at, stripe_customer_id, last_login, created_at from users order by created_at desc, id desc ${PAGE}`,
        ),
      (u) => ({
        id: u.id,
        email: u.email,
        username: u.username,
        first_name: u.first_name,
        last_name: u.last_name,
        is_active: u.is_active,
        is_staff: u.is_staff,
        is_superuser: u.is_superuser,
        email_verified: u.email_verified_at !== null,
        stripe_customer_id: u.stripe_customer_id,
        last_login: iso(u.last_login),
        created_at: iso(u.created_at),
      }),
    ),
    // The subscription and its plan in one query (the app reads each row's plan once more).
    "GET /api/admin/subscriptions/": list(
      "/api/admin/subscriptions/",
      () =>
        counted(
          "select count(*)::int as n from subscriptions",
          `select s.*, to_jsonb(p) as plan from subscriptions s left join plans p on p.id = s.plan_id order by s.stripe_created_at desc, s.seq desc ${PAGE}`,
        ),
      (s) => {
        const plan = s.plan as Row | null;
        return {
          id: s.id,
          plan: plan ? planBody(plan) : null,
          stripe_subscription_id: s.stripe_subscription_id,
          status: s.status,
          is_active: s.status === "active" || s.status === "trialing",
          current_period_start: iso(s.current_period_start),
          current_period_end: iso(s.current_period_end),
          cancel_at_period_end: s.cancel_at_period_end || (s.cancel_at !== null && !s.ended_at),
          canceled_at: iso(s.canceled_at),
          quantity: s.quantity,
          unit_amount:
            s.unit_amount === null || !plan
              ? null
              : formatMinor(Number(s.unit_amount), String(plan.currency)),
          discount: discountBody(s.discount),
          created_at: iso(s.created_at),
          updated_at: iso(s.updated_at),
          user_id: s.user_id,
          stripe_customer_id: s.stripe_customer_id,
          trial_start: iso(s.trial_start),
          trial_end: iso(s.trial_end),
          ended_at: iso(s.ended_at),
        };
      },
    ),
    // The page, then what was refunded of its succeeded charges (one query, when there are any).
    "GET /api/admin/payments/": list(
      "/api/admin/payments/",
      () =>
        counted(
          "select count(*)::int as n from payments",
          `select * from payments order by occurred_at desc, created_at desc, id desc ${PAGE}`,
        ),
      () => [],
      async (rows) => {
        const charges = [
          ...new Set(
            rows.flatMap((r) =>
              r.status === "succeeded" && r.stripe_charge_id ? [String(r.stripe_charge_id)] : [],
            ),
          ),
        ];
        const sums =
          charges.length === 0
            ? []
            : (
                await pool.query(
                  "select stripe_charge_id as charge, sum(amount) as refunded from payments where status = 'refunded' and stripe_charge_id = any($1) group by stripe_charge_id",
                  [charges],
                )
              ).rows;
        const byCharge = new Map(sums.map((s) => [s.charge, Number(s.refunded)]));
        return rows.map((r) =>
          paymentBody(
            r,
            r.status === "succeeded" && r.stripe_charge_id
              ? (byCharge.get(r.stripe_charge_id) ?? 0)
              : 0,
          ),
        );
      },
    ),
    "GET /api/admin/webhooks/events/": list(
      "/api/admin/webhooks/events/",
      () =>
        counted(
          "select count(*)::int as n from stripe_events",
          // The app reads every column, the payload too.
          `select * from stripe_events order by received_at desc, id desc ${PAGE}`,
        ),
      (e) => ({
        id: e.id,
        type: e.type,
        status: e.status,
        attempts: e.attempts,
        last_error: e.last_error,
        created: iso(e.created),
        received_at: iso(e.received_at),
        processed_at: iso(e.processed_at),
      }),
    ),
  };
}
