import { randomBytes } from "node:crypto";
import { sql } from "drizzle-orm";
import pg from "pg";
import type Stripe from "stripe";
import { users } from "../src/accounts/accounts-tables.ts";
import { hashPassword } from "../src/accounts/passwords.ts";
import { signToken } from "../src/accounts/tokens.ts";
import { payments } from "../src/billing/billing-tables.ts";
import { createPlan } from "../src/billing/plans-service.ts";
import { syncSubscription } from "../src/billing/stripe-events.ts";
import { loadConfig } from "../src/config.ts";
import type { Database } from "../src/platform/db/client.ts";
import type { JobDeps } from "../src/platform/feature.ts";
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
}

export const SECRET_KEY = `bench-${randomBytes(24).toString("hex")}`;
export const PASSWORD = "correct-Horse-battery-9";

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
 * subscribed user give the payments page something to read.
 */
export async function seed(
  database: Database,
  stripe: Stripe,
  options: { userCount: number; subscribed: number; plans: number },
): Promise<Seeded> {
  const { db } = database;
  const hash = await hashPassword(PASSWORD, {
    PASSWORD_HASH_MEMORY_KIB: 19456,
    PASSWORD_HASH_ITERATIONS: 2,
    PASSWORD_HASH_CONCURRENCY: 1,
  });
  const planRows = [];
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
  // subscription never queues; an unstarted queue object satisfies the type.
  const jobs = new Jobs<JobDeps>(database, {
    defaultRetry: { limit: 0, delaySeconds: 1, backoff: false },
    log: console,
  }).register(...jobDefinitions);
  // The defaults: the emails (product name, links) are never sent from here.
  const deps = { db, stripe, jobs, config: loadConfig({}) };
  const subscriptionIds: string[] = [];
  for (let i = 0; i < options.subscribed; i++) {
    const userId = ids[i];
    const plan = planRows[i % planRows.length];
    if (!userId || !plan) break;
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
    subscriptionIds.push(sub.id);
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
  }

  const tokenConfig = loadConfig({ SECRET_KEY, ACCESS_TOKEN_LIFETIME: "2h" });
  const tokens = await Promise.all(
    ids.map(async (id) => (await signToken(tokenConfig, "access", id)).token),
  );
  return {
    tokens,
    emails: values.map((v) => v.email),
    password: PASSWORD,
    subscriptionIds,
  };
}
