import type { IncomingMessage, ServerResponse } from "node:http";
import type pg from "pg";
import { formatMinor } from "../src/billing/money.ts";
import { monthlyAmount } from "../src/billing/plan-rank.ts";
import { discountBody } from "../src/billing/subscription-discounts.ts";
import { overview } from "./baseline-overview.ts";

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
export function adminRoutes(
  pool: pg.Pool,
  userOf: (req: IncomingMessage) => Promise<Row | undefined>,
  send: (res: ServerResponse, status: number, body: unknown) => void,
): Record<string, Handler> {
  /** The app's guard: signed in (401), then staff (403); true when the caller may go on. */
  const staff = async (req: IncomingMessage, res: ServerResponse) => {
    const user = await userOf(req);
    if (!user) send(res, 401, { detail: "Authentication credentials were not provided." });
    else if (!user.is_staff && !user.is_superuser) {
      send(res, 403, { detail: "You do not have permission to perform this action." });
    } else return true;
    return false;
  };
  /** The staff check, then the first page (`count` and `rows`) and its body. */
  const list =
    (
      path: string,
      page: () => Promise<{ count: number; rows: Row[] }>,
      body: (row: Row) => unknown,
      whole?: (rows: Row[]) => Promise<unknown[]>,
    ): Handler =>
    async (req, res) => {
      if (!(await staff(req, res))) return;
      const { count, rows } = await page();
      send(res, 200, {
        count,
        next: count > 20 ? `http://${req.headers.host}${path}?page=2` : null,
        previous: null,
        results: whole ? await whole(rows) : rows.map(body),
      });
    };
  /** The page and its count, two queries at once. */
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

  /** The registered queues' dead-letter queues (the app has their names; read here once). */
  let deadQueues: Promise<string[]> | undefined;

  return {
    // Every plan, active first, one query; the app cuts the page (a catalog is short).
    "GET /api/admin/plans/": async (req, res) => {
      if (!(await staff(req, res))) return;
      const { rows } = await pool.query(
        "select * from plans order by is_active desc, amount asc, name asc",
      );
      send(res, 200, {
        count: rows.length,
        next: rows.length > 20 ? `http://${req.headers.host}/api/admin/plans/?page=2` : null,
        previous: null,
        results: rows.slice(0, 20).map((p) => ({
          ...planBody(p),
          is_active: p.is_active,
          stripe_product_id: p.stripe_product_id,
        })),
      });
    },
    "GET /api/admin/jobs/emails/": list(
      "/api/admin/jobs/emails/",
      () =>
        counted(
          "select count(*)::int as n from emails",
          `select id, recipient, template, cause_key, status, attempts, last_error, sent_at, provider_message_id, created_at, user_id, subject from emails order by created_at desc, id desc ${PAGE}`,
        ),
      (e) => ({
        id: e.id,
        user_id: e.user_id,
        recipient: e.recipient,
        template: e.template,
        subject: e.subject,
        cause: e.cause_key,
        status: e.status,
        attempts: e.attempts,
        last_error: e.last_error,
        sent_at: iso(e.sent_at),
        provider_message_id: e.provider_message_id,
        created_at: iso(e.created_at),
      }),
    ),
    // Dead letters waiting in any dead-letter queue: the page and its count in one query, as the
    // app reads pg-boss's job table (the count alone only for a page past the end).
    "GET /api/admin/jobs/": list(
      "/api/admin/jobs/",
      async () => {
        deadQueues ??= pool
          .query("select name from pgboss.queue where name like '%.dead'")
          .then(({ rows }) => rows.map((r) => String(r.name)));
        const { rows } = await pool.query(
          `select id, name, source_name, data, source_retry_count, source_created_on, created_on, coalesce(source_output, output) ->> 'message' as error, count(*) over () as total from pgboss.job where name = any($1) and state in ('created', 'retry', 'failed') order by created_on desc, id desc ${PAGE}`,
          [await deadQueues],
        );
        return { count: Number(rows[0]?.total ?? 0), rows };
      },
      (j) => ({
        id: j.id,
        queue: j.source_name ?? String(j.name).replace(/\.dead$/, ""),
        payload: j.data,
        error: j.error,
        retry_count: j.source_retry_count ?? 0,
        queued_at:
          j.source_created_on === null ? null : new Date(String(j.source_created_on)).toISOString(),
        dead_lettered_at: iso(j.created_on),
      }),
    ),
    "GET /api/admin/overview/": async (req, res) => {
      if (await staff(req, res)) send(res, 200, await overview(pool));
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
