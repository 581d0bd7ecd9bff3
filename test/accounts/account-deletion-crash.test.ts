import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { accountDeletions, users } from "../../src/accounts/accounts-tables.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { type BillingTestApp, startBillingApp, WEBHOOK_SECRET } from "../helpers/billing.ts";
import { TEST_DATABASE_URL } from "../helpers/database.ts";
import { type Running, runCli, startProcess } from "../helpers/process.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";

// A deletion whose worker is SIGKILLed halfway (the subscription canceled at Stripe, the card's
// detach reaching Stripe while its answer never reaches the worker) completes on a restarted
// worker exactly once: one cancellation, one detach, one goodbye email. Then the operator's
// command in its own process. The worker and the command are other processes on the same
// database, so PostgreSQL only (PGlite belongs to one process).

const skip = !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL)";
/** The worker processes' key: tells their Stripe calls from the test's own. */
const WORKER_KEY = "sk_test_deletion_worker";

const requests: string[] = [];
let killOnDetach: (() => Promise<void>) | undefined;
const watch: Stage = async (ex, next) => {
  if (ex.headers.authorization === `Bearer ${WORKER_KEY}` && ex.method !== "GET") {
    requests.push(`${ex.method} ${ex.path}`);
    const kill = killOnDetach;
    if (kill && /^\/v1\/payment_methods\/[^/]+\/detach$/.test(ex.path)) {
      killOnDetach = undefined;
      // The worker dies with the request in flight; Stripe still carries it out.
      await kill();
    }
  }
  return next();
};

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function startWorker(t: BillingTestApp, smtp: SmtpServer, cwd: string, url: string): Running {
  const worker = startProcess(
    "src/worker.ts",
    {
      NODE_ENV: "test",
      LOG_LEVEL: "info",
      DATA_DIR: cwd,
      DATABASE_URL: url,
      MIGRATE_ON_START: "false",
      STRIPE_SECRET_KEY: WORKER_KEY,
      STRIPE_API_BASE: t.emulator.url,
      STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
      EMAIL_HOST: "127.0.0.1",
      EMAIL_PORT: String(smtp.port),
      EMAIL_USE_TLS: "false",
      // A killed worker's job comes back once its heartbeat lapses (10 s), not after JOB_TIMEOUT.
      JOB_HEARTBEAT: "10",
      WEBHOOK_RETRY_DELAY: "1",
    },
    cwd,
  );
  cleanups.push(async () => {
    if (worker.child.exitCode === null && worker.child.signalCode === null) {
      worker.child.kill("SIGKILL");
      await worker.exited;
    }
  });
  return worker;
}

test("a deletion killed halfway completes exactly once on restart", {
  skip,
  timeout: 180_000,
}, async () => {
  const smtp = await startSmtp(() => 0);
  cleanups.push(() => smtp.close());
  // The app only takes requests and webhooks; the spawned worker runs every job.
  const t = await startBillingApp({ worker: false, stages: [watch] });
  cleanups.push(() => t.close());
  const url = t.testDatabase.url;
  assert.ok(url);
  const cwd = await mkdtemp(join(tmpdir(), "billing-deletion-"));
  cleanups.push(() => rm(cwd, { recursive: true, force: true }));
  const first = startWorker(t, smtp, cwd, url);
  await waitFor(() => first.output().includes("worker ready"), {
    what: "the first worker",
    timeoutMs: 60_000,
  });

  const customer = await t.signUp();
  const plan = await t.plan();
  assert.equal((await t.subscribe(customer, plan.id)).status, 201);
  await t.settle();
  const [sub] = await t.subscriptionsOf(customer.userId);
  assert.ok(sub?.stripeSubscriptionId);
  const subscriptionId = sub.stripeSubscriptionId;

  killOnDetach = async () => {
    first.child.kill("SIGKILL");
    await first.exited;
  };
  const res = await t.http("DELETE", "/api/auth/profile/", {
    token: customer.token,
    body: { password: "correct-Horse-battery-9" },
  });
  assert.equal(res.status, 204);
  assert.equal(await first.exited, "SIGKILL");
  const { db } = t.services.database;
  const [halfway] = await db
    .select()
    .from(accountDeletions)
    .where(eq(accountDeletions.userId, customer.userId));
  assert.equal(halfway?.completedAt, null);
  assert.equal((await t.stripe.subscriptions.retrieve(subscriptionId)).status, "canceled");

  const second = startWorker(t, smtp, cwd, url);
  await waitFor(
    async () => {
      const [row] = await db
        .select()
        .from(accountDeletions)
        .where(eq(accountDeletions.userId, customer.userId));
      return row?.completedAt ?? undefined;
    },
    { what: "the deletion to complete on the restarted worker", timeoutMs: 90_000 },
  );
  const to = customer.email.toLowerCase();
  await waitFor(() => smtp.received.some((m) => m.to.includes(to) && /deleted/.test(m.raw)), {
    what: "the goodbye email",
    timeoutMs: 30_000,
  });

  assert.deepEqual(
    requests.filter((r) => r.startsWith("DELETE /v1/subscriptions/")),
    [`DELETE /v1/subscriptions/${subscriptionId}`],
  );
  assert.equal(requests.filter((r) => r.endsWith("/detach")).length, 1);
  const ended = await t.stripe.events.list({ type: "customer.subscription.deleted", limit: 100 });
  assert.equal(
    ended.data.filter((e) => (e.data.object as { id: string }).id === subscriptionId).length,
    1,
  );
  // The server has the message a moment before the worker records it sent.
  const goodbyes = await waitFor(async () => {
    const rows = await db
      .select()
      .from(emails)
      .where(and(eq(emails.userId, customer.userId), eq(emails.template, "accounts.goodbye")));
    return rows.every((r) => r.status === "sent") ? rows : undefined;
  });
  assert.equal(goodbyes.length, 1);
  assert.equal(
    smtp.received.filter((m) => m.to.includes(to) && /account has been deleted/.test(m.raw)).length,
    1,
  );
  const [row] = await db.select().from(users).where(eq(users.id, customer.userId));
  assert.ok(row?.email.endsWith("@deleted.invalid"));
  second.child.kill("SIGTERM");
  await second.exited;
});

test("npm run cli -- users:delete deletes an account from another process", {
  skip,
  timeout: 120_000,
}, async () => {
  const smtp = await startSmtp(() => 0);
  cleanups.push(() => smtp.close());
  const t = await startBillingApp({
    env: { EMAIL_HOST: "127.0.0.1", EMAIL_PORT: String(smtp.port), EMAIL_USE_TLS: "false" },
  });
  cleanups.push(() => t.close());
  const url = t.testDatabase.url;
  assert.ok(url);
  const cwd = await mkdtemp(join(tmpdir(), "billing-users-delete-"));
  cleanups.push(() => rm(cwd, { recursive: true, force: true }));
  const customer = await t.signUp();
  const plan = await t.plan();
  assert.equal((await t.subscribe(customer, plan.id)).status, 201);
  await t.settle();
  const [sub] = await t.subscriptionsOf(customer.userId);
  assert.ok(sub?.stripeSubscriptionId);

  const env = {
    NODE_ENV: "test",
    DATA_DIR: cwd,
    DATABASE_URL: url,
    MIGRATE_ON_START: "false",
    STRIPE_SECRET_KEY: WORKER_KEY,
    STRIPE_API_BASE: t.emulator.url,
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  };
  const run = await runCli(["users:delete", "--email", customer.email.toUpperCase()], env, cwd);
  assert.equal(run.code, 0, run.output);
  assert.match(run.output, new RegExp(`User ${customer.email} \\(${customer.userId}\\) deleted`));
  const { db } = t.services.database;
  const [deletion] = await db
    .select()
    .from(accountDeletions)
    .where(eq(accountDeletions.userId, customer.userId));
  assert.equal(deletion?.requestedBy, "operator");
  assert.ok(deletion?.completedAt);
  assert.equal(
    (await t.stripe.subscriptions.retrieve(sub.stripeSubscriptionId)).status,
    "canceled",
  );
  // The app's worker sends the goodbye email the command queued.
  const to = customer.email.toLowerCase();
  await waitFor(() => smtp.received.some((m) => m.to.includes(to) && /deleted/.test(m.raw)), {
    what: "the goodbye email",
  });
  const again = await runCli(["users:delete", "--email", customer.email], env, cwd);
  assert.notEqual(again.code, 0);
  assert.match(again.output, /No user with email/);
});
