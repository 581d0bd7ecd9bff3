import { createHash } from "node:crypto";
import type pg from "pg";

/**
 * Set-based growth of the tables for `npm run bench:growth`: one `insert … select` from
 * generate_series per table and step, so a million rows take about a minute instead of the hours
 * the API would. Row n of every table belongs to user n: user n has subscription n, payment n and
 * is the customer of event n. User 1 is the heavy user with HEAVY_PAYMENTS more payments.
 */

export const HEAVY_PAYMENTS = 2000;
const PLANS = 5;
/** Every row's timestamps count back from here, so a run's data does not depend on when it ran. */
const ANCHOR = "2026-11-01T00:00:00Z";
/** A well-formed argon2id string nobody can log in with: logins are not measured here. */
const PASSWORD_HASH =
  "$argon2id$v=19$m=19456,t=2,p=1$Z3Jvd3RoLWJlbmNoLXNhbHQ$Z3Jvd3RoLWJlbmNoLWhhc2gtbm90LWEtcmVhbC1vbmU";

/** The id `md5('growth-user-' || n)::uuid` gives user n, computed the same way here. */
export function userId(n: number): string {
  const hex = createHash("md5").update(`growth-user-${n}`).digest("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const subscriptionId = (n: number): string => `sub_growth_${n}`;

export async function seedPlans(client: pg.ClientBase): Promise<void> {
  await client.query(
    `insert into plans (id, name, stripe_price_id, stripe_product_id, amount, currency, interval)
     select md5('growth-plan-' || p)::uuid, 'Growth plan ' || p, 'price_growth_' || p,
            'prod_growth_' || p, 500 + p * 100, 'usd', 'month'
     from generate_series(0, $1::int - 1) p`,
    [PLANS],
  );
}

async function growUsers(client: pg.ClientBase, lo: number, hi: number): Promise<void> {
  await client.query(
    `insert into users (id, email, username, first_name, password_hash, stripe_customer_id,
                        created_at, updated_at)
     select md5('growth-user-' || g)::uuid, 'growth-' || g || '@example.com', 'growth_' || g,
            'Growth', $3, 'cus_growth_' || g, $4::timestamptz - g * interval '1 second', $4::timestamptz
     from generate_series($1::bigint, $2::bigint) g`,
    [lo, hi, PASSWORD_HASH, ANCHOR],
  );
}

async function growSubscriptions(client: pg.ClientBase, lo: number, hi: number): Promise<void> {
  await client.query(
    `insert into subscriptions (id, user_id, plan_id, stripe_subscription_id, stripe_customer_id,
                                status, current_period_start, current_period_end, started,
                                stripe_created_at, stripe_synced_at)
     select md5('growth-sub-' || g)::uuid, md5('growth-user-' || g)::uuid,
            md5('growth-plan-' || (g % $3))::uuid, 'sub_growth_' || g, 'cus_growth_' || g,
            'active', $4::timestamptz, $4::timestamptz + interval '1 month', true,
            $4::timestamptz - g * interval '1 second', $4::timestamptz
     from generate_series($1::bigint, $2::bigint) g`,
    [lo, hi, PLANS, ANCHOR],
  );
}

/**
 * One payment per new user, and the heavy user's whole history moved in among them: deleted and
 * inserted again interleaved with the new rows. A long-standing customer's payments sit one
 * per month among everybody else's, so at 1M rows its 2,000 payments are on about 2,000 different
 * heap pages; inserting them once at the start would keep them on a few dozen pages at every size
 * and hide what reading them costs.
 */
async function growPayments(client: pg.ClientBase, lo: number, hi: number): Promise<void> {
  await client.query(
    `delete from payments where user_id = md5('growth-user-1')::uuid and description = 'Heavy'`,
  );
  await client.query(
    `insert into payments (user_id, subscription_id, stripe_invoice_id, stripe_payment_intent_id,
                           amount, currency, status, description, occurred_at)
     select r.* from generate_series($1::bigint, $2::bigint) g,
     lateral (
       select md5('growth-user-' || g)::uuid, md5('growth-sub-' || g)::uuid, 'in_growth_' || g,
              'pi_growth_' || g, 500 + (g % $4) * 100, 'usd', 'succeeded', 'Growth plan ' || (g % $4),
              $5::timestamptz - (g % 1000) * interval '1 day'
       union all
       select md5('growth-user-1')::uuid, md5('growth-sub-1')::uuid, 'in_growth_heavy_' || h,
              'pi_growth_heavy_' || h, 500, 'usd', 'succeeded', 'Heavy',
              $5::timestamptz - h * interval '1 hour'
       from generate_series((g - $1) * $3 / ($2 - $1 + 1) + 1, (g - $1 + 1) * $3 / ($2 - $1 + 1)) h
     ) r(user_id, subscription_id, stripe_invoice_id, stripe_payment_intent_id, amount, currency,
         status, description, occurred_at)`,
    [lo, hi, HEAVY_PAYMENTS, PLANS, ANCHOR],
  );
}

/** Processed events with a payload of the size and shape of a small invoice event. */
async function growEvents(client: pg.ClientBase, lo: number, hi: number): Promise<void> {
  await client.query(
    `insert into stripe_events (id, type, created, api_version, payload, received_at, processed_at,
                                attempts, status)
     select 'evt_growth_' || g, 'invoice.paid', t, '2026-10-28.endive',
            jsonb_build_object(
              'id', 'evt_growth_' || g, 'object', 'event', 'api_version', '2026-10-28.endive',
              'created', extract(epoch from t)::bigint, 'type', 'invoice.paid', 'livemode', false,
              'pending_webhooks', 1,
              'request', jsonb_build_object('id', null, 'idempotency_key', null),
              'data', jsonb_build_object('object', jsonb_build_object(
                'id', 'in_growth_' || g, 'object', 'invoice', 'customer', 'cus_growth_' || g,
                'amount_paid', 500 + (g % 5) * 100, 'currency', 'usd', 'status', 'paid',
                'parent', jsonb_build_object('subscription_details',
                  jsonb_build_object('subscription', 'sub_growth_' || g))))),
            t, t, 1, 'processed'
     from generate_series($1::bigint, $2::bigint) g,
     lateral (select $3::timestamptz - g * interval '1 second' as t) ts`,
    [lo, hi, ANCHOR],
  );
}

/**
 * Grows every table from `from` to `to` rows, on two connections at once (users then events on
 * one; subscriptions then payments, which reference them, on the other), then VACUUM ANALYZE: the
 * statistics a live database would have, and the visibility map that autovacuum sets on an
 * insert-mostly table, which the payments count's index-only scan relies on.
 */
export async function grow(clients: [pg.ClientBase, pg.ClientBase], from: number, to: number) {
  const lo = from + 1;
  const [a, b] = clients;
  await Promise.all([
    (async () => {
      await growUsers(a, lo, to);
      await growEvents(a, lo, to);
    })(),
    (async () => {
      await growSubscriptions(b, lo, to);
      await growPayments(b, lo, to);
    })(),
  ]);
  await Promise.all([
    a.query("vacuum (analyze) users, stripe_events"),
    b.query("vacuum (analyze) subscriptions, payments"),
  ]);
}

export async function tableSizes(client: pg.ClientBase): Promise<Record<string, number>> {
  const sizes: Record<string, number> = {};
  for (const table of ["users", "subscriptions", "payments", "stripe_events"]) {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from ${table}`);
    sizes[table] = rows[0]?.n ?? 0;
  }
  return sizes;
}
