import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { Registry } from "prom-client";
import { payments, plans, subscriptions } from "../../src/billing/billing-tables.ts";
import { refreshBusinessMetrics } from "../../src/billing/business-metrics.ts";
import { businessMetricsCommands } from "../../src/billing/business-metrics-cli.ts";
import { registerBusinessGauges } from "../../src/billing/business-metrics-gauges.ts";
import { businessMetricsJob } from "../../src/billing/business-metrics-jobs.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

// The metrics aggregate the whole database: this file's database holds exactly the billing facts
// below (and the demo plans the embedded default seeds, which nobody subscribes to).

const DAY = 86_400_000;
const now = new Date();
const ago = (days: number) => new Date(now.getTime() - days * DAY);

let t: TestApp;

type PlanRow = typeof plans.$inferInsert;
type SubRow = Partial<typeof subscriptions.$inferInsert>;

async function plan(values: Omit<PlanRow, "stripePriceId" | "stripeProductId">): Promise<string> {
  const [row] = await t.services.database.db
    .insert(plans)
    .values({ ...values, stripePriceId: `price_${randomUUID()}`, stripeProductId: "prod_x" })
    .returning({ id: plans.id });
  assert.ok(row);
  return row.id;
}

async function subscription(planId: string, values: SubRow): Promise<string> {
  const [row] = await t.services.database.db
    .insert(subscriptions)
    .values({
      userId: randomUUID(),
      planId,
      stripeSubscriptionId: `sub_${randomUUID()}`,
      stripeCustomerId: "cus_x",
      status: "active",
      started: true,
      stripeCreatedAt: ago(90),
      stripeSyncedAt: now,
      ...values,
    })
    .returning({ id: subscriptions.id });
  assert.ok(row);
  return row.id;
}

async function payment(
  subscriptionId: string | null,
  values: { invoice: string; status: string; at: Date; amount?: number; attempt?: number },
): Promise<void> {
  await t.services.database.db.insert(payments).values({
    userId: randomUUID(),
    subscriptionId,
    stripeInvoiceId: values.invoice,
    amount: values.amount ?? 1000,
    currency: "usd",
    status: values.status,
    attempt: values.attempt ?? 0,
    occurredAt: values.at,
  });
}

const discount = (d: Partial<Record<string, unknown>>) => ({
  code: null,
  percent_off: null,
  amount_off: null,
  currency: null,
  ends_at: null,
  ...d,
});

/** The gauges' samples in a `/metrics` text: `name{labels}` → value. */
async function scrape(): Promise<Map<string, number>> {
  const res = await t.app.inject({ method: "GET", url: "/metrics" });
  assert.equal(res.statusCode, 200);
  const samples = new Map<string, number>();
  for (const line of res.body.split("\n")) {
    // The business gauges: not reconciliation's counter (billing_reconcile_healed_total).
    const m = /^(billing_(?!reconcile_)\w+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) samples.set(m[1], Number(m[2]));
  }
  return samples;
}

before(async () => {
  // Daily at midnight: the schedule does not run in the middle of these tests.
  t = await startTestApp({ env: { BUSINESS_METRICS_INTERVAL: "1d" } });
  const basic = await plan({ name: "Basic", amount: 1000, currency: "usd", interval: "month" });
  const basicYear = await plan({ name: "Basic", amount: 12000, currency: "usd", interval: "year" });
  const teamEur = await plan({
    name: "Team EUR",
    amount: 2000,
    currency: "eur",
    interval: "month",
    perSeat: true,
  });
  const teamJpy = await plan({
    name: "Team JPY",
    amount: 500,
    currency: "jpy",
    interval: "month",
    perSeat: true,
  });

  // MRR, usd: 1000 + 12000/12 + 1000·75% + (1000 − 300) + past_due 1000 + the converted trial 1000.
  await subscription(basic, { unitAmount: 1000 });
  await subscription(basicYear, { unitAmount: 12000 });
  await subscription(basic, { unitAmount: 1000, discount: discount({ percent_off: 25 }) });
  await subscription(basic, {
    unitAmount: 1000,
    discount: discount({ amount_off: 300, currency: "usd", ends_at: ago(-10).toISOString() }),
  });
  await subscription(basic, { status: "past_due", unitAmount: 1000 });
  // Not revenue: a trial running, a first payment outstanding.
  await subscription(basic, { status: "trialing", trialStart: ago(3), trialEnd: ago(-11) });
  await subscription(basic, { status: "incomplete", started: false });
  // eur: 3 seats of 2000; the discount ended, so it no longer counts.
  await subscription(teamEur, {
    quantity: 3,
    unitAmount: 2000,
    discount: discount({ percent_off: 50, ends_at: ago(1).toISOString() }),
  });
  // jpy (no minor unit): 2 seats of 500; an amount off in another currency takes nothing off.
  await subscription(teamJpy, {
    quantity: 2,
    unitAmount: 500,
    discount: discount({ amount_off: 100, currency: "usd" }),
  });

  // Churn: a paying subscription ended 5 days ago counts; one ended 40 days ago does not.
  const churned = await subscription(basic, { status: "canceled", endedAt: ago(5) });
  await payment(churned, { invoice: `in_${randomUUID()}`, status: "succeeded", at: ago(35) });
  const longGone = await subscription(basic, { status: "canceled", endedAt: ago(40) });
  await payment(longGone, { invoice: `in_${randomUUID()}`, status: "succeeded", at: ago(70) });

  // Trials: converted (paid at its end), dropped after it (no payment ever succeeded), canceled
  // during it, and one that ended before the window.
  const converted = await subscription(basic, {
    unitAmount: 1000,
    trialStart: ago(24),
    trialEnd: ago(10),
  });
  await payment(converted, { invoice: `in_${randomUUID()}`, status: "succeeded", at: ago(10) });
  await subscription(basic, {
    status: "canceled",
    trialStart: ago(19),
    trialEnd: ago(5),
    endedAt: ago(2),
  });
  await subscription(basic, {
    status: "canceled",
    trialStart: ago(7),
    trialEnd: ago(-7),
    endedAt: ago(1),
  });
  const oldTrial = await subscription(basicYear, {
    status: "canceled",
    trialStart: ago(59),
    trialEnd: ago(45),
    endedAt: ago(44),
  });

  // Recovery: an invoice failed twice then paid, one still failing, one that failed and was paid
  // before the window, and one whose first failure is before the window.
  const a = `in_${randomUUID()}`;
  await payment(oldTrial, { invoice: a, status: "failed", at: ago(10), attempt: 1 });
  await payment(oldTrial, { invoice: a, status: "failed", at: ago(8), attempt: 2 });
  await payment(oldTrial, { invoice: a, status: "succeeded", at: ago(6), amount: 0 });
  await payment(null, { invoice: `in_${randomUUID()}`, status: "failed", at: ago(3), attempt: 1 });
  const c = `in_${randomUUID()}`;
  await payment(null, { invoice: c, status: "failed", at: ago(40), attempt: 1 });
  await payment(null, { invoice: c, status: "succeeded", at: ago(35) });
  const d = `in_${randomUUID()}`;
  await payment(null, { invoice: d, status: "failed", at: ago(45), attempt: 1 });
  await payment(null, { invoice: d, status: "failed", at: ago(20), attempt: 2 });
});

after(() => t.close());

describe("business metrics", () => {
  test("before the first run /metrics has no business gauge values", async () => {
    const samples = await scrape();
    assert.equal(samples.get("billing_metrics_computed_timestamp_seconds"), 0);
    assert.deepEqual(
      [...samples.keys()].filter((k) => k !== "billing_metrics_computed_timestamp_seconds"),
      [],
    );
  });

  test("known subscriptions give the exact gauge values", async () => {
    await refreshBusinessMetrics(t.services.database.db, now);
    const samples = await scrape();
    assert.deepEqual(Object.fromEntries(samples), {
      'billing_mrr{currency="eur"}': 60,
      'billing_mrr{currency="jpy"}': 1000,
      'billing_mrr{currency="usd"}': 54.5,
      'billing_subscriptions{status="active",plan="Basic"}': 5,
      'billing_subscriptions{status="active",plan="Team EUR"}': 1,
      'billing_subscriptions{status="active",plan="Team JPY"}': 1,
      'billing_subscriptions{status="canceled",plan="Basic"}': 5,
      'billing_subscriptions{status="incomplete",plan="Basic"}': 1,
      'billing_subscriptions{status="past_due",plan="Basic"}': 1,
      'billing_subscriptions{status="trialing",plan="Basic"}': 1,
      'billing_trials_ended{window="30d"}': 3,
      'billing_trials_converted{window="30d"}': 1,
      'billing_trial_conversion_ratio{window="30d"}': 1 / 3,
      'billing_churned_subscriptions{window="30d"}': 1,
      'billing_failed_invoices{window="30d"}': 2,
      'billing_recovered_invoices{window="30d"}': 1,
      'billing_payment_recovery_ratio{window="30d"}': 0.5,
      billing_metrics_computed_timestamp_seconds: now.getTime() / 1000,
    });
  });

  test("a yearly price counts a twelfth a month, to the cent", async () => {
    const odd = await plan({ name: "Odd", amount: 29000, currency: "usd", interval: "year" });
    const id = await subscription(odd, { unitAmount: 29000 });
    await refreshBusinessMetrics(t.services.database.db, now);
    // 29000 / 12 = 2416.67 minor units, over the 5450 above.
    const usd = (await scrape()).get('billing_mrr{currency="usd"}') ?? 0;
    assert.ok(Math.abs(usd - 78.6667) < 1e-9, String(usd));
    await t.services.database.db.delete(subscriptions).where(eq(subscriptions.id, id));
  });

  test("an older run never replaces a newer snapshot", async () => {
    await refreshBusinessMetrics(t.services.database.db, now);
    await refreshBusinessMetrics(t.services.database.db, ago(1));
    assert.equal(
      (await scrape()).get("billing_metrics_computed_timestamp_seconds"),
      now.getTime() / 1000,
    );
  });

  test("a snapshot that cannot be read leaves the gauges out, not the scrape; one read a scrape", async () => {
    const registry = new Registry();
    let reads = 0;
    const errors: unknown[] = [];
    registerBusinessGauges(
      registry,
      async () => {
        reads++;
        throw new Error("connection refused");
      },
      (err) => errors.push(err),
    );
    const text = await registry.metrics();
    assert.match(text, /^billing_metrics_computed_timestamp_seconds 0$/m);
    assert.doesNotMatch(text, /^billing_mrr\{/m);
    assert.equal(reads, 1, "ten gauges, one read");
    assert.equal(errors.length, 1);
  });

  test("the job runs on BUSINESS_METRICS_INTERVAL's schedule", async () => {
    const schedules = await t.services.jobs.boss.getSchedules(businessMetricsJob.name);
    assert.deepEqual(
      schedules.map((s) => s.cron),
      ["0 0 * * *"],
    );
  });

  test("the scheduled job stores a snapshot, and billing:metrics prints one", async () => {
    const done = t.services.jobs.boss
      .getSpy(businessMetricsJob.name)
      .waitForJob(() => true, "completed");
    await t.services.database.db.transaction((tx) =>
      t.services.jobs.enqueue(tx, businessMetricsJob, {}, { key: randomUUID() }),
    );
    await done;
    const computed = (await scrape()).get("billing_metrics_computed_timestamp_seconds") ?? 0;
    assert.ok(computed > now.getTime() / 1000, "a newer snapshot");

    const lines: string[] = [];
    const command = businessMetricsCommands["billing:metrics"];
    assert.ok(command);
    await command.run({
      config: t.config,
      logger: t.services.logger,
      values: {},
      positionals: [],
      services: t.services,
      out: (line) => lines.push(line),
      stdin: process.stdin,
    });
    assert.ok(lines.includes("mrr usd 54.50"), lines.join("\n"));
    assert.ok(lines.includes("subscriptions active Team EUR: 1"), lines.join("\n"));
    assert.ok(lines.includes("failed invoices (last 30 days): 2, recovered: 1"), lines.join("\n"));
  });
});
