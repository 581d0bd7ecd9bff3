import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { and, eq, sql } from "drizzle-orm";
import { users } from "../../src/accounts/accounts-tables.ts";
import { auditLog } from "../../src/audit/audit-tables.ts";
import { billingDepsOf } from "../../src/billing/billing-deps.ts";
import { payments } from "../../src/billing/billing-tables.ts";
import { billing } from "../../src/billing/index.ts";
import {
  HEAL_KINDS,
  type ReconcileOptions,
  type ReconcileReport,
  reconcile,
} from "../../src/billing/reconcile.ts";
import { readCheckpoint } from "../../src/billing/reconcile-checkpoint.ts";
import { reconcileCommands } from "../../src/billing/reconcile-cli.ts";
import { reconcileJob } from "../../src/billing/reconcile-jobs.ts";
import { reconcileCheckpoints } from "../../src/billing/reconcile-tables.ts";
import { createStripeClient } from "../../src/billing/stripe-client.ts";
import { loadConfig } from "../../src/config.ts";
import type { Db } from "../../src/platform/db/client.ts";
import { createFaults } from "../../stripe-emulator/faults.ts";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import {
  billingLife,
  billingState,
  deliverInOrder,
  openSide,
  type Side,
  takeHeld,
  twinPlan,
  twinUser,
} from "../helpers/reconcile-life.ts";

// Reconciliation (docs/operations.md, 'Reconciliation'): a whole billing life whose webhooks
// never arrived is healed from Stripe into one database, and must end exactly where in-order
// delivery of its events ends in another.

const KEY = "sk_test_reconcile";
const faults = createFaults();
const emulator = await startStripeEmulator({ stages: [faults.stage] });
emulator.holdDeliveries(true); // no endpoint listens: held ids are what delivery would have sent
const stripe = createStripeClient(KEY, emulator.url);
let healed: Side;
let reference: Side;
let price: string;

const FAST = { retries: 6, baseMs: 5 };

function run(options: Partial<ReconcileOptions> = {}): Promise<ReconcileReport> {
  const { services } = healed;
  return reconcile(
    { ...billingDepsOf(services), logger: services.logger },
    { maxObjects: 10_000, backoff: FAST, ...options },
  );
}

const nothing = Object.fromEntries(HEAL_KINDS.map((k) => [k, 0]));

const counts = async (db: Db) => {
  const state = await billingState(db);
  return Object.fromEntries(Object.entries(state).map(([k, rows]) => [k, rows.length]));
};

/** Audit rows the reconciler wrote; and whether the webhook path audits at all (the audit branch). */
async function audits(db: Db) {
  return db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.actorKind, "system"), eq(auditLog.actorId, "billing.reconcile")));
}
const webhookPathAudits = async (db: Db) =>
  db.$count(auditLog, eq(auditLog.actorKind, "stripe_event"));

before(async () => {
  healed = await openSide(stripe, emulator);
  reference = await openSide(stripe, emulator);
  price = await twinPlan(stripe, healed, reference);
});

after(async () => {
  await healed?.close();
  await reference?.close();
  await emulator.close();
});

describe("reconciliation with Stripe", () => {
  test("a billing life whose deliveries were all lost: the dry run reports and writes nothing; the run heals it to in-order delivery's state, audited once; a second run heals nothing", async () => {
    const who = await twinUser(stripe, healed, reference);
    await billingLife(emulator, stripe, price, who);
    const events = await takeHeld(emulator, KEY);
    assert.ok(events.length >= 20, `${events.length} events`);
    await deliverInOrder(reference, events);

    const before = await counts(healed.db);
    const dry = await run({ dryRun: true });
    assert.equal(dry.dryRun, true);
    assert.deepEqual(await counts(healed.db), before, "a dry run writes nothing");
    assert.equal(await healed.db.$count(reconcileCheckpoints), 0, "nor the checkpoint");

    const report = await run();
    assert.deepEqual(report.unresolved, []);
    assert.equal(report.complete, true);
    assert.deepEqual(report.healed, dry.healed, "the dry run foresaw every heal");
    assert.equal(report.healed.subscription, 1);
    assert.ok(report.healed.invoice >= 3, JSON.stringify(report.healed));
    assert.equal(report.healed.payment, 3, "first payment, renewal, recovered renewal");
    assert.equal(report.healed.payment_failed, 2, "two failed attempts");
    assert.equal(report.healed.refund, 1);

    const want = await billingState(reference.db);
    const got = await billingState(healed.db);
    assert.deepEqual(got, want);
    assert.ok(want.payments?.some((p) => p.includes('"status":"refunded"')));

    const checkpoint = await readCheckpoint(healed.db);
    assert.equal(checkpoint.fullPassDone, true);
    assert.ok(checkpoint.eventsSince && checkpoint.eventsSince > 0);

    // Each healed fact once in the audit trail, as the reconciler's: the payments one entry each
    // (subject and attempt), the subscription's creation, and nothing under any other actor.
    const rows = await audits(healed.db);
    assert.ok(rows.every((r) => r.reason === "reconcile"));
    const facts = rows.map((r) => `${r.kind} ${r.subjectId} ${JSON.stringify(r.after)}`);
    assert.equal(new Set(facts).size, facts.length, "each healed fact audited once");
    const paymentFacts = rows.filter((r) => r.kind.startsWith("payment."));
    assert.deepEqual(
      paymentFacts.map((r) => `${r.kind} ${r.subjectId} ${r.after.attempt ?? ""}`).sort(),
      (await healed.db.select().from(payments))
        .map((p) => {
          const kind = { succeeded: "recorded", failed: "failed", refunded: "refunded" }[p.status];
          const attempt = p.status === "failed" ? p.attempt : "";
          return `payment.${kind} ${p.stripeRefundId ?? p.stripeInvoiceId} ${attempt}`;
        })
        .sort(),
    );
    assert.equal(rows.filter((r) => r.kind === "subscription.created").length, 1);
    assert.ok(await webhookPathAudits(reference.db), "delivery audits as the events");
    const billingKinds = sql`${auditLog.kind} like 'payment.%' or ${auditLog.kind} like 'subscription.%'`;
    const allBilling = await healed.db.$count(auditLog, billingKinds);
    assert.equal(
      allBilling,
      paymentFacts.length + rows.filter((r) => r.kind.startsWith("subscription.")).length,
    );

    const auditRows = await healed.db.$count(auditLog);
    const again = await run();
    assert.deepEqual(again.healed, nothing);
    assert.deepEqual(await billingState(healed.db), want);
    assert.equal(await healed.db.$count(auditLog), auditRows, "a second run audits nothing");
  });

  test("a run stopped at its budget, then one that crashes mid-way, are continued from the checkpoint; 429s are waited out", async () => {
    const who = await twinUser(stripe, healed, reference);
    const start = (await readCheckpoint(healed.db)).eventsSince ?? 0;
    await billingLife(emulator, stripe, price, who);
    const events = await takeHeld(emulator, KEY);
    await deliverInOrder(reference, events);

    const limited = faults.inject({
      method: "GET",
      path: /^\/v1\/events$/,
      fault: "429",
      times: 2,
    });
    const bounded = await run({ maxObjects: 8 });
    assert.equal(bounded.complete, false);
    assert.ok(bounded.examined < 8 + 200, `${bounded.examined} read`);
    assert.equal(limited.fired, 2, "two 429s met and waited out");
    const afterBounded = (await readCheckpoint(healed.db)).eventsSince ?? 0;
    assert.ok(afterBounded > start, "the checkpoint advanced with the pages done");

    // A run that fails at the life's refund, windows after the checkpoint: the SDK's retries (2)
    // and ours (429 only) do not hide three 500s.
    const broken = faults.inject({
      method: "GET",
      path: /^\/v1\/refunds$/,
      fault: "500",
      times: 3,
    });
    await assert.rejects(run(), { statusCode: 500 });
    assert.equal(broken.fired, 3);
    const afterCrash = await readCheckpoint(healed.db);
    assert.ok(
      (afterCrash.eventsSince ?? 0) > afterBounded,
      "windows done before the failure stay done",
    );
    assert.equal(await healed.db.$count(payments, eq(payments.status, "refunded")), 1, "not yet");
    const lease = await healed.db.select().from(reconcileCheckpoints);
    assert.equal(lease[0]?.leaseOwner, null, "a failed run gives the lease back");

    let report = await run();
    while (!report.complete) report = await run();
    assert.deepEqual(report.unresolved, []);
    assert.deepEqual(await billingState(healed.db), await billingState(reference.db));
    assert.equal(await healed.db.$count(payments, eq(payments.status, "refunded")), 2);
    assert.deepEqual((await run()).healed, nothing);
  });

  test("a Checkout subscription whose completion was never delivered: the owner is linked through its session, as the webhook path does", async () => {
    const who = await twinUser(stripe, healed, reference, false);
    const session = await stripe.checkout.sessions.create({
      mode: "subscription",
      line_items: [{ price, quantity: 1 }],
      client_reference_id: who.userId,
      customer_email: who.email,
      success_url: "https://app.example.test/billing?done=1",
      cancel_url: "https://app.example.test/plans",
    });
    await emulator.completeCheckoutSession(session.id, "pm_card_visa");
    await deliverInOrder(reference, await takeHeld(emulator, KEY));

    const report = await run();
    assert.deepEqual(report.unresolved, []);
    assert.equal(report.healed.subscription, 1);
    assert.equal(report.healed.payment, 1);
    assert.deepEqual(await billingState(healed.db), await billingState(reference.db));
    const linked = async (db: Db) =>
      (await db.select().from(users).where(eq(users.id, who.userId)))[0]?.stripeCustomerId;
    assert.ok(await linked(healed.db));
    assert.equal(await linked(healed.db), await linked(reference.db));
  });

  test("billing.reconcile is scheduled every RECONCILE_INTERVAL (hourly by default)", async () => {
    const schedules = (env: Record<string, string>) =>
      billing.schedules?.(loadConfig({ NODE_ENV: "test", ...env })) ?? {};
    assert.equal(schedules({})["billing.reconcile"], "0 */1 * * *");
    assert.equal(schedules({ RECONCILE_INTERVAL: "6h" })["billing.reconcile"], "0 */6 * * *");
    assert.equal(schedules({ RECONCILE_INTERVAL: "15m" })["billing.reconcile"], "*/15 * * * *");
    assert.throws(() => loadConfig({ NODE_ENV: "test", RECONCILE_INTERVAL: "7h" }));
    assert.equal(schedules({ RECONCILE_INTERVAL: "0" })["billing.reconcile"], undefined);
  });

  test("the emulator refuses `type` with `types`, and more than 20 `types`, as Stripe does", async () => {
    await assert.rejects(stripe.events.list({ type: "invoice.paid", types: ["invoice.paid"] }), {
      statusCode: 400,
    });
    const many = Array.from({ length: 21 }, () => "invoice.paid" as const);
    await assert.rejects(stripe.events.list({ types: many }), { statusCode: 400, param: "types" });
  });

  test("one run at a time: a lease held by another run refuses; an expired one is taken over", async () => {
    await healed.db
      .update(reconcileCheckpoints)
      .set({ leaseOwner: "another-worker", leaseUntil: sql`now() + interval '5 minutes'` });
    await assert.rejects(run(), { name: "ReconcileBusy" });
    const job = { id: "scheduled", retryCount: 0, lastAttempt: true };
    await reconcileJob.handler({}, healed.services, job); // skipped, not failed
    const [held] = await healed.db.select().from(reconcileCheckpoints);
    assert.equal(held?.leaseOwner, "another-worker", "the skipped run left the lease alone");
    await healed.db
      .update(reconcileCheckpoints)
      .set({ leaseUntil: sql`now() - interval '1 second'` });
    assert.deepEqual((await run()).healed, nothing);
  });

  test("--since re-reads an older window without moving the checkpoint; the CLI prints each kind", async () => {
    // The first life's refund, months before the checkpoint (the second's is in the re-read overlap).
    const [refund] = await healed.db
      .select()
      .from(payments)
      .where(eq(payments.status, "refunded"))
      .orderBy(payments.occurredAt)
      .limit(1);
    assert.ok(refund);
    await healed.db.delete(payments).where(eq(payments.id, refund.id));
    const checkpoint = await readCheckpoint(healed.db);
    assert.deepEqual((await run()).healed, nothing, "the checkpoint is past that refund");

    const lines: string[] = [];
    const command = reconcileCommands["billing:reconcile"];
    assert.ok(command);
    const context = (values: Record<string, string | boolean>) => ({
      config: healed.services.config,
      logger: healed.services.logger,
      values,
      positionals: [],
      services: healed.services,
      out: (line: string) => lines.push(line),
      stdin: process.stdin,
    });
    const since = new Date(((checkpoint.eventsSince ?? 0) - 200 * 86_400) * 1000).toISOString();
    assert.equal(await command.run(context({ "dry-run": true, since })), 0);
    assert.ok(lines.includes("would heal refund: 1"), lines.join("\n"));
    lines.length = 0;
    assert.equal(await command.run(context({ since })), 0);
    assert.ok(lines.includes("healed refund: 1"), lines.join("\n"));
    assert.ok(lines.includes("healed subscription: 0"));
    assert.deepEqual(await readCheckpoint(healed.db), checkpoint, "the checkpoint stays");
    const metrics = await healed.services.metrics.registry.metrics();
    assert.match(
      metrics,
      /^billing_reconcile_healed_total\{kind="refund"\} 1$/m,
      "the dry run not counted",
    );
    assert.match(metrics, /^billing_reconcile_healed_total\{kind="subscription"\} 0$/m);
    assert.deepEqual(await billingState(healed.db), await billingState(reference.db));
    await assert.rejects(command.run(context({ since: "yesterday-ish" })), {
      name: "Error",
      message: /neither an ISO date nor unix seconds/,
    });
  });
});
