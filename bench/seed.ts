import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import pg from "pg";
import { pino } from "pino";
import type Stripe from "stripe";
import { users } from "../src/accounts/accounts-tables.ts";
import { hashPassword } from "../src/accounts/passwords.ts";
import { signToken } from "../src/accounts/tokens.ts";
import { payments } from "../src/billing/billing-tables.ts";
import { changeSubscription } from "../src/billing/change-service.ts";
import { invoices } from "../src/billing/hosted-tables.ts";
import { createPlan, type Plan } from "../src/billing/plans-service.ts";
import { createStripeClient } from "../src/billing/stripe-client.ts";
import { syncSubscription } from "../src/billing/stripe-events.ts";
import { loadConfig } from "../src/config.ts";
import { type Database, openDatabase, queryRows } from "../src/platform/db/client.ts";
import { runMigrations } from "../src/platform/db/migrate.ts";
import { SEND_EMAIL_QUEUE } from "../src/platform/email/email-jobs.ts";
import type { JobDeps } from "../src/platform/feature.ts";
import { deadLetterQueue } from "../src/platform/jobs/definitions.ts";
import { Jobs } from "../src/platform/jobs/jobs.ts";
import { jobDefinitions } from "../src/services.ts";

/** What the load generators need to know about the seeded data. */
export interface Seeded {
  /** Access tokens of seeded users, rotated through by authenticated requests. */
  tokens: string[];
  /** Login credentials (every seeded user has the same password). */
  emails: string[];
  password: string;
  /** Stripe subscriptions that exist in the emulator and the projection (webhook events name them). */
  subscriptionIds: string[];
  /**
   * Access tokens of the users with a downgrade scheduled for the period end (status shows their
   * `pending_change`). They are subscribed users besides the `subscriptionIds` ones, so the plain
   * status run and the webhook events stay as they were.
   */
  pendingTokens: string[];
  /** An access token of the one staff user (`is_staff`, not among `tokens`): the admin lists. */
  staffToken: string;
  /**
   * Subscribed users without a pending change who can upgrade (not on the dearest plan): the
   * preview route's requests (`?plan_id=` the next plan up) and the same Stripe calls made
   * directly (the subscription, its item and the new price).
   */
  previews: {
    token: string;
    planId: string;
    subscriptionId: string;
    itemId: string;
    priceId: string;
  }[];
}

export const SECRET_KEY = `bench-${randomBytes(24).toString("hex")}`;
export const PASSWORD = "correct-Horse-battery-9";
/** Dead-lettered "send email" jobs (of the pending changes' emails): more than a page. */
const DEAD_LETTERS = 25;
/** Invoices stored per subscribed user: the invoices page lists them all (one page). */
const INVOICES_PER_USER = 6;

/** Connects to the server's maintenance database to create or drop a bench database. */
export async function adminQuery(serverUrl: string, query: string): Promise<void> {
  const url = new URL(serverUrl);
  url.pathname = "/postgres";
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(query);
  } finally {
    await client.end();
  }
}

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * Seeds `userCount` users (one argon2id hash shared by all: hashing each would take minutes and
 * measures nothing), `plans` plans in Stripe and in the table, and `subscribed` users with a real
 * emulator subscription projected through the production sync code. A few payments per
 * subscribed user give the payments page something to read. `pending` more users subscribe to a
 * plan above the cheapest and schedule a downgrade to the plan below through the production
 * change code (`changeSubscription`: a Stripe subscription schedule and its row).
 */
/**
 * A new database at `url` (created already), migrated and seeded with Stripe objects in the
 * emulator at `stripeApiBase`; closed afterwards, for the servers under test to open.
 */
export async function seedDatabase(
  url: string,
  stripeApiBase: string,
  options: SeedOptions,
): Promise<Seeded> {
  const database = await openDatabase({ url, poolMax: 4 });
  try {
    await runMigrations(database);
    return await seed(database, createStripeClient("sk_test_bench", stripeApiBase), options);
  } finally {
    await database.close();
  }
}

export interface SeedOptions {
  userCount: number;
  subscribed: number;
  pending?: number;
  plans: number;
}

export async function seed(
  database: Database,
  stripe: Stripe,
  options: SeedOptions,
): Promise<Seeded> {
  const { db } = database;
  const hash = await hashPassword(PASSWORD, {
    PASSWORD_HASH_MEMORY_KIB: 19456,
    PASSWORD_HASH_ITERATIONS: 2,
    PASSWORD_HASH_CONCURRENCY: 1,
  });
  const planRows: Plan[] = [];
  for (let i = 0; i < options.plans; i++) {
    const product = await stripe.products.create({ name: `Bench plan ${i}` });
    const price = await stripe.prices.create({
      product: product.id,
      unit_amount: 500 + i * 100,
      currency: "usd",
      recurring: { interval: "month" },
    });
    planRows.push(
      await createPlan(db, stripe, {
        name: product.name,
        priceId: price.id,
        features: ["API access", "Email support"],
        // What an app's plans grant, so the access answer carries a realistic set.
        entitlements: { projects: 5 * (i + 1), api_access: true, sso: i > 2 },
      }),
    );
  }

  const tag = randomBytes(3).toString("hex");
  const values = Array.from({ length: options.userCount }, (_, i) => ({
    email: `bench-${tag}-${i}@example.com`,
    username: `bench_${tag}_${i}`,
    firstName: "Bench",
    passwordHash: hash,
  }));
  const ids: string[] = [];
  for (let i = 0; i < values.length; i += 1000) {
    const rows = await db
      .insert(users)
      .values(values.slice(i, i + 1000))
      .returning({ id: users.id });
    ids.push(...rows.map((r) => r.id));
  }

  // The sync code takes the job queue for cancellation emails, which a fresh active
  // subscription never queues; an unstarted queue object satisfies the type. A scheduled change
  // queues its email, so then the queue is started (inserting only, as an API process does).
  const jobs = new Jobs<JobDeps>(database, {
    defaultRetry: { limit: 0, delaySeconds: 1, backoff: false },
    log: console,
    background: false,
  }).register(...jobDefinitions);
  const pending = planRows.length > 1 ? (options.pending ?? 0) : 0;
  if (pending > 0) await jobs.start();
  // The defaults: the emails (product name, links) are never sent from here.
  const deps = { db, stripe, jobs, config: loadConfig({}) };
  const subscribe = async (i: number, plan: Plan) => {
    const userId = ids[i] ?? "";
    const customer = await stripe.customers.create({
      email: values[i]?.email ?? "",
      metadata: { user_id: userId },
    });
    const card = await stripe.paymentMethods.attach("pm_card_visa", { customer: customer.id });
    await db.update(users).set({ stripeCustomerId: customer.id }).where(sql`id = ${userId}`);
    const sub = await stripe.subscriptions.create({
      customer: customer.id,
      items: [{ price: plan.stripePriceId }],
      default_payment_method: card.id,
      metadata: { user_id: userId },
    });
    const row = await syncSubscription(deps, sub.id);
    return { userId, sub, row };
  };
  const subscriptionIds: string[] = [];
  const previewOf: {
    index: number;
    planId: string;
    subscriptionId: string;
    itemId: string;
    priceId: string;
  }[] = [];
  for (let i = 0; i < options.subscribed; i++) {
    const plan = planRows[i % planRows.length];
    if (!ids[i] || !plan) break;
    const { userId, sub, row } = await subscribe(i, plan);
    subscriptionIds.push(sub.id);
    const up = planRows[(i % planRows.length) + 1];
    const item = sub.items.data[0];
    if (up && item) {
      previewOf.push({
        index: i,
        planId: up.id,
        subscriptionId: sub.id,
        itemId: item.id,
        priceId: up.stripePriceId,
      });
    }
    await db.insert(payments).values(
      Array.from({ length: 5 }, (_, n) => ({
        userId,
        subscriptionId: row.id,
        stripeInvoiceId: `in_bench_${tag}_${i}_${n}`,
        amount: plan.amount,
        currency: plan.currency,
        status: "succeeded",
        description: plan.name,
        occurredAt: new Date(Date.now() - n * 30 * 86_400_000),
      })),
    );
    // And their invoices, as the invoice.* webhooks store them: the invoices page reads them.
    await db.insert(invoices).values(
      Array.from({ length: INVOICES_PER_USER }, (_, n) => {
        const start = new Date(Date.now() - (n + 1) * 30 * 86_400_000);
        const end = new Date(start.getTime() + 30 * 86_400_000);
        return {
          userId,
          stripeInvoiceId: `in_bench_${tag}_${i}_${n}`,
          stripeCustomerId: String(sub.customer),
          stripeSubscriptionId: sub.id,
          number: `BENCH-${tag}-${i}-${n}`,
          status: "paid",
          billingReason: n === INVOICES_PER_USER - 1 ? "subscription_create" : "subscription_cycle",
          total: plan.amount,
          amountDue: plan.amount,
          amountPaid: plan.amount,
          amountRemaining: 0,
          currency: plan.currency,
          periodStart: start,
          periodEnd: end,
          lines: [
            {
              description: `1 × ${plan.name} (at $${plan.amount / 100} / month)`,
              amount: plan.amount,
              quantity: 1,
              period_start: start.toISOString(),
              period_end: end.toISOString(),
            },
          ],
          hostedInvoiceUrl: `https://invoice.stripe.com/i/bench_${tag}_${i}_${n}`,
          invoicePdf: `https://pay.stripe.com/invoice/bench_${tag}_${i}_${n}/pdf`,
          stripeCreatedAt: start,
          stripeSyncedAt: new Date(),
        };
      }),
    );
  }

  // A downgrade to the plan below, scheduled for the period end as a user's POST change/ would.
  const changeDeps = { ...deps, logger: pino({ level: "silent" }) };
  const pendingIndexes: number[] = [];
  for (let j = 0; j < pending; j++) {
    const i = subscriptionIds.length + j;
    const k = 1 + (j % (planRows.length - 1));
    const plan = planRows[k];
    const lower = planRows[k - 1];
    if (!ids[i] || !plan || !lower) break;
    const { userId } = await subscribe(i, plan);
    const result = await changeSubscription(changeDeps, userId, { plan_id: lower.id });
    if (result.outcome !== "scheduled" || !result.subscription.pending_change) {
      throw new Error(`seed: the downgrade of user ${i} was ${result.outcome}, not scheduled`);
    }
    pendingIndexes.push(i);
  }
  if (pending > 0) {
    // Dead letters for the admin's jobs list, as a send that spent its retries leaves them: the
    // emails' send jobs in their dead-letter queue (no worker reads it).
    const mails = await queryRows<{ id: string }>(
      db,
      sql`select id from emails order by created_at limit ${DEAD_LETTERS}`,
    );
    for (const { id } of mails) {
      await jobs.boss.send(deadLetterQueue(SEND_EMAIL_QUEUE), { emailId: id });
    }
    await jobs.stop(10_000);
    // The "plan change scheduled" emails are not part of any measurement: a worker would send
    // them during the webhook end-to-end run.
    await db.execute(sql`delete from pgboss.job where name = ${SEND_EMAIL_QUEUE}`);
  }

  // Support staff reading the admin lists; besides the seeded users, so their runs stay as they were.
  const [staff] = await db
    .insert(users)
    .values({
      email: `bench-${tag}-staff@example.com`,
      username: `bench_${tag}_staff`,
      firstName: "Staff",
      passwordHash: hash,
      isStaff: true,
    })
    .returning({ id: users.id });
  if (!staff) throw new Error("seed: the staff user was not inserted");

  const tokenConfig = loadConfig({ SECRET_KEY, ACCESS_TOKEN_LIFETIME: "2h" });
  const tokens = await Promise.all(
    ids.map(async (id) => (await signToken(tokenConfig, "access", id)).token),
  );
  return {
    tokens,
    emails: values.map((v) => v.email),
    password: PASSWORD,
    subscriptionIds,
    pendingTokens: pendingIndexes.map((i) => tokens[i] ?? ""),
    staffToken: (await signToken(tokenConfig, "access", staff.id)).token,
    previews: previewOf.map(({ index, ...rest }) => ({ token: tokens[index] ?? "", ...rest })),
  };
}
