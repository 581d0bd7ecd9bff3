import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { inArray, sql } from "drizzle-orm";
import pg from "pg";
import { payments, subscriptions } from "../../src/billing/billing-tables.ts";
import { handleStripeEvents, receiveStripeEvent as receiveEvent } from "../../src/billing/index.ts";
import { createStripeClient } from "../../src/billing/stripe-client.ts";
import { loadConfig } from "../../src/config.ts";
import { type Db, openDatabase, queryRows } from "../../src/platform/db/client.ts";
import { SEND_EMAIL_QUEUE } from "../../src/platform/email/email-jobs.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import type { Services } from "../../src/platform/feature.ts";
import { deadLetterQueue } from "../../src/platform/jobs/definitions.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { openServices } from "../../src/services.ts";
import { PROCESS_EVENT_QUEUE } from "../../src/webhooks/webhook-jobs.ts";
import { processStoredEvent } from "../../src/webhooks/webhook-ledger.ts";
import { EventStore } from "../../src/webhooks/webhook-service.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { signPayload, startStripeEmulator } from "../../stripe-emulator/index.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { assertSameAuditTrail } from "../helpers/audit-trail.ts";
import {
  type Captured,
  captureEvents,
  live,
  pool,
  shuffle,
  startCohorts,
} from "../helpers/lives.ts";
import { startPostgresServer } from "../helpers/postgres-server.ts";
import { freePort, type Running, startProcess } from "../helpers/process.ts";
import { startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";

// Webhook storm: every Stripe event of many billing lives is delivered three times, shuffled, 24 at
// a time, to the API process while the worker process is SIGKILLed twice in the middle of a job and
// restarted. The projection must end exactly where one in-order delivery of each event ends (a
// second database, fed in order), with no duplicate payment and no email sent twice, and the audit
// trail must hold the same transitions, each once.
// Full size: at least 5,000 distinct events, so 15,000 deliveries.

const FULL = process.env.RELIABILITY_SCALE === "full";
const COHORTS = FULL ? 24 : 1;
const MIN_EVENTS = FULL ? 5_000 : 200;
const IN_FLIGHT = 24;
const KEY = "sk_test_webhook_storm";
/** The API and worker processes' key: tells their Stripe calls from the test's own. */
const PROCESS_KEY = "sk_test_webhook_storm_processes";
const SECRET = "whsec_webhook_storm_0123456789abcdef0123456789";
const QUEUES = [PROCESS_EVENT_QUEUE, SEND_EMAIL_QUEUE];
const SETTLE_MS = FULL ? 480_000 : 60_000;
/** The delivery order's seed; another value reproduces another storm. */
const SEED = Number(process.env.STORM_SEED ?? 11);

/** Set while a kill is wanted: the worker's next Stripe read (mid-job) runs it before its answer. */
let killOnNextRead: (() => Promise<void>) | undefined;
const killStage: Stage = async (ex, next) => {
  const kill = killOnNextRead;
  if (kill && ex.method === "GET" && ex.headers.authorization === `Bearer ${PROCESS_KEY}`) {
    killOnNextRead = undefined;
    await kill();
  }
  return next();
};

const pgServer = await startPostgresServer();
const emulator = await startStripeEmulator({ stages: [killStage] });
emulator.holdDeliveries(true); // no endpoint listens; held ids give the creation order
const stripe = createStripeClient(KEY, emulator.url);
const smtp = await startSmtp(() => 0);
const cwd = await mkdtemp(join(tmpdir(), "billing-storm-"));
const urlOf = (name: string) => pgServer.url.replace(/\/postgres$/, `/${name}`);
const env = {
  NODE_ENV: "test",
  LOG_LEVEL: "warn",
  DATA_DIR: cwd,
  DATABASE_URL: urlOf("storm"),
  STRIPE_SECRET_KEY: PROCESS_KEY,
  STRIPE_API_BASE: emulator.url,
  STRIPE_WEBHOOK_SECRET: SECRET,
  EMAIL_HOST: "127.0.0.1",
  EMAIL_PORT: String(smtp.port),
  EMAIL_USE_TLS: "false",
  // A killed worker's jobs stay active until they time out: 4 s here instead of 15 min.
  JOB_TIMEOUT: "4",
  WEBHOOK_RETRY_DELAY: "1",
  EMAIL_RETRY_DELAY: "1",
  // The storm's state must come from its deliveries alone, not from a run on the hour.
  RECONCILE_INTERVAL: "0",
  PASSWORD_HASH_MEMORY_KIB: "1024",
  PASSWORD_HASH_ITERATIONS: "1",
};
const running: Running[] = [];
const opened: { close(): Promise<void> }[] = [];

async function services(database: string): Promise<Services> {
  const config = loadConfig({
    ...env,
    DATABASE_URL: urlOf(database),
    LOG_LEVEL: "silent",
    STRIPE_SECRET_KEY: KEY,
  });
  const s = await openServices(config, createLogger(config));
  opened.push(s);
  return s;
}

async function admin(query: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgServer.url });
  await client.connect();
  await client.query(query).finally(() => client.end());
}

after(async () => {
  killOnNextRead = undefined;
  for (const r of running) if (r.child.exitCode === null) r.child.kill("SIGKILL");
  for (const s of opened) await s.close().catch(() => {});
  await emulator.close();
  await smtp.close();
  await pgServer.destroy();
  await rm(cwd, { recursive: true, force: true });
});

const signed = (payload: string) => signPayload(payload, SECRET, Math.floor(Date.now() / 1000));

/** Each user's subscriptions, payments and emails, without our own ids and write times. */
async function projection(db: Db): Promise<Map<string, Record<string, string[]>>> {
  const byUser = new Map<string, Record<string, string[]>>();
  const add = (user: string | null, kind: string, row: object) => {
    const entry = byUser.get(user ?? "") ?? { subscriptions: [], payments: [], emails: [] };
    entry[kind]?.push(JSON.stringify(row));
    byUser.set(user ?? "", entry);
  };
  const subs = await db.select().from(subscriptions);
  const stripeIdOf = new Map(subs.map((s) => [s.id, s.stripeSubscriptionId]));
  // `seq` is the order of arrival in our table, which a shuffled storm is free to change.
  for (const { id, createdAt, updatedAt, stripeSyncedAt, seq, ...row } of subs) {
    add(row.userId, "subscriptions", row);
  }
  for (const { id, createdAt, subscriptionId, ...row } of await db.select().from(payments)) {
    add(row.userId, "payments", { ...row, subscription: stripeIdOf.get(subscriptionId ?? "") });
  }
  for (const e of await db.select().from(emails)) {
    const { recipient, template, causeKey, subject, textBody, htmlBody } = e;
    add(e.userId, "emails", { recipient, template, causeKey, subject, textBody, htmlBody });
  }
  for (const entry of byUser.values()) for (const list of Object.values(entry)) list.sort();
  return byUser;
}

/** `key:n` lines of a grouped count. */
const counts = async (db: Db, query: ReturnType<typeof sql>) =>
  (await queryRows<{ key: string; n: number }>(db, query)).map((r) => `${r.key}:${r.n}`);

function messageId(raw: string): string {
  return /^message-id:\s*(<[^>\r\n]+>)/im.exec(raw)?.[1] ?? "";
}

async function startWorker(): Promise<Running> {
  const worker = startProcess("src/worker.ts", { ...env, LOG_LEVEL: "info" }, cwd);
  running.push(worker);
  await waitFor(() => worker.output().includes("worker ready"), {
    timeoutMs: 60_000,
    what: "the worker process",
  });
  return worker;
}

/** The API process alone (WORKER=off): webhook intake stores and enqueues, nothing more. */
async function startApi(): Promise<string> {
  const port = await freePort();
  const api = `http://127.0.0.1:${port}`;
  const env_ = { ...env, WORKER: "off", HOST: "127.0.0.1", PORT: `${port}` };
  running.push(startProcess("src/main.ts", env_, cwd));
  const ready = () =>
    fetch(`${api}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
  await waitFor(ready, { timeoutMs: 60_000, what: "the API process" });
  return api;
}

/** Two identical databases of users and a plan, then the events of their billing lives. */
async function prepare() {
  await admin("create database storm");
  const setup = await services("storm");
  const { price, plus, cohorts } = await startCohorts(setup, stripe, COHORTS);
  await setup.close();
  opened.length = 0;
  await admin("create database reference template storm");
  for (const cohort of cohorts) await live(stripe, { price, plus }, cohort);
  return captureEvents(emulator, KEY);
}

/** The reference: each event once, in creation order, processed before the next arrives. */
async function deliverInOrder(reference: Services, events: Captured[]) {
  const started = Date.now();
  const intake = {
    store: new EventStore({ db: reference.database.db, jobs: reference.jobs }),
    stripe: reference.stripe.stripe,
    webhookSecret: SECRET,
  };
  const handle: Parameters<typeof processStoredEvent>[1] = (events, batch) =>
    handleStripeEvents(reference, events, batch);
  for (const { id, payload } of events) {
    await receiveEvent(intake, Buffer.from(payload), signed(payload));
    const outcome = await processStoredEvent({ db: reference.database.db }, handle, id, true);
    assert.ok(outcome === "processed" || outcome === "ignored", `${id}: ${outcome}`);
  }
  return (Date.now() - started) / 1000;
}

/** Watches the storm database and kills the worker process at chosen moments. */
function observe(db: Db, total: number) {
  const processed = () =>
    db.$count(stripeEvents, inArray(stripeEvents.status, ["processed", "ignored"]));
  const settled = async () => {
    const done = await processed();
    return done === total && (await db.$count(stripeEvents)) === done;
  };
  const activeJobs = async () =>
    (
      await queryRows<{ id: string }>(
        db,
        sql`select id from pgboss.job where name = ${PROCESS_EVENT_QUEUE} and state = 'active'`,
      )
    ).map((r) => r.id);
  const sentIds = async () =>
    new Set((await db.select({ id: emails.providerMessageId }).from(emails)).map((r) => r.id));

  return {
    processed,
    settled,
    async reached(share: number) {
      const what = `${share * 100} % of the events processed`;
      await waitFor(async () => (await processed()) >= total * share, {
        timeoutMs: SETTLE_MS,
        what,
      });
    },
    /** SIGKILLs `worker` inside its next Stripe read (mid-job); returns the webhook jobs it held. */
    async killMidJob(worker: Running): Promise<string[]> {
      const killed = new Promise<string[]>((resolve, reject) => {
        killOnNextRead = async () => {
          try {
            // SMTP cannot be exactly-once across a crash between the server's "250 OK" and the
            // row update (email-jobs.ts): hold new messages and let the accepted ones be
            // recorded, so the kill lands among webhook and email jobs but never in that gap.
            await smtp.pause();
            await waitFor(async () => {
              const sent = await sentIds();
              return smtp.received.every((m) => sent.has(messageId(m.raw)));
            });
            worker.child.kill("SIGKILL");
            await worker.exited;
            // Nothing else works jobs (the API runs WORKER=off): what is active now was orphaned.
            const held = await activeJobs();
            smtp.resume();
            resolve(held);
          } catch (err) {
            reject(err);
          }
        };
      });
      const finished = waitFor(settled, { timeoutMs: SETTLE_MS, what: "a kill" }).then(() => {
        throw new Error("every event was processed before the kill could land");
      });
      return Promise.race([killed, finished]);
    },
    async drained() {
      await waitFor(settled, { timeoutMs: SETTLE_MS, what: "every stored event to be processed" });
      const open = sql`select name as key, count(*)::int as n from pgboss.job
        where name in ${QUEUES} and state in ('created', 'retry', 'active') group by name`;
      const idle = async () => (await counts(db, open)).length === 0;
      await waitFor(idle, { timeoutMs: SETTLE_MS, what: "every job to finish" });
    },
  };
}

/**
 * Every event three times, shuffled, IN_FLIGHT at a time. The worker is killed once 5 % are
 * processed (the last third of the deliveries waits for it, so it arrives while the worker is
 * dead and restarting) and again at half; each time a new one is started.
 */
async function storm(
  api: string,
  first: Running,
  events: Captured[],
  watch: ReturnType<typeof observe>,
) {
  const post = async ({ payload }: Captured) => {
    const res = await fetch(`${api}/api/webhooks/stripe/`, {
      method: "POST",
      headers: { "content-type": "application/json", "stripe-signature": signed(payload) },
      body: payload,
    });
    await res.arrayBuffer();
    return res.status;
  };
  const deliveries = shuffle(
    events.flatMap((e) => [e, e, e]),
    SEED,
  );
  const third = Math.floor(deliveries.length / 3);
  const started = Date.now();
  const timeline: string[] = [];
  const mark = (what: string) =>
    timeline.push(`${what} ${((Date.now() - started) / 1000).toFixed(1)}`);
  let worker = first;
  const head = pool(deliveries.slice(0, 2 * third), IN_FLIGHT, post);
  await watch.reached(0.05);
  const firstKill = await watch.killMidJob(worker);
  mark("kill");
  const tail = pool(deliveries.slice(2 * third), IN_FLIGHT, post);
  worker = await startWorker();
  mark("restart");
  const statuses = [...(await head), ...(await tail)];
  mark("delivered");
  await watch.reached(0.5);
  const secondKill = await watch.killMidJob(worker);
  mark("kill");
  worker = await startWorker();
  mark("restart");
  await watch.drained();
  mark("drained");
  return { statuses, kills: [firstKill, secondKill], timeline: timeline.join(", ") };
}

/** Each event stored once and processed; nothing dead-lettered; the killed jobs ran again. */
async function assertNothingLost(db: Db, events: Captured[], kills: string[][]) {
  const stored = await db.select({ id: stripeEvents.id }).from(stripeEvents);
  assert.deepEqual(stored.map((r) => r.id).sort(), events.map((e) => e.id).sort());
  const dead = await counts(
    db,
    sql`select name as key, count(*)::int as n from pgboss.job
      where name in ${QUEUES.map(deadLetterQueue)} group by name`,
  );
  assert.deepEqual(dead, [], "nothing dead-lettered");
  for (const held of kills) {
    assert.ok(held.length > 0, "the worker held a webhook job when it was killed");
    const rows = await queryRows<{ state: string; retry: number }>(
      db,
      sql`select state, retry_count as retry from pgboss.job
        where name = ${PROCESS_EVENT_QUEUE} and id in ${held}`,
    );
    assert.equal(rows.length, held.length);
    for (const row of rows) {
      assert.ok(row.state === "completed" && row.retry >= 1, JSON.stringify(row));
    }
  }
}

/** One payment row per fact, one SMTP delivery per email; and every kind of fact occurred. */
async function assertNoDuplicates(db: Db): Promise<number> {
  const facts = await counts(
    db,
    sql`select concat_ws(':', stripe_invoice_id, status, attempt, stripe_refund_id) as key,
      count(*)::int as n from ${payments} group by 1 having count(*) > 1`,
  );
  assert.deepEqual(facts, [], "no duplicate payment");
  const rows = await db.select().from(emails);
  assert.ok(rows.every((r) => r.status === "sent"));
  const delivered = smtp.received.map((m) => messageId(m.raw)).sort();
  const recorded = rows.map((r) => r.providerMessageId ?? "").sort();
  assert.deepEqual(delivered, recorded, "each email delivered once");

  const distinct = async (column: string, table: typeof payments | typeof subscriptions) =>
    (
      await queryRows<{ v: string }>(
        db,
        sql`select distinct ${sql.raw(column)} as v from ${table} order by 1`,
      )
    ).map((r) => r.v);
  assert.deepEqual(await distinct("status", payments), ["failed", "refunded", "succeeded"]);
  assert.deepEqual(await distinct("status", subscriptions), ["active", "canceled"]);
  // The lives' plan changes landed: an upgrade's proration paid, a scheduled move to 2 seats made.
  assert.ok((await distinct("description", payments)).includes("Lives Plus (subscription_update)"));
  assert.deepEqual(await distinct("quantity", subscriptions), [1, 2]);
  assert.deepEqual([...new Set(rows.map((r) => r.template))].sort(), [
    "accounts.welcome",
    "billing.cancellation",
    "billing.payment_failed",
    "billing.subscription_confirmation",
    "billing.trial_converted",
    "billing.trial_ending",
  ]);
  return rows.length;
}

test(`webhook storm: ${FULL ? "≥ 5,000" : "≥ 200"} events ×3, shuffled, concurrent, worker SIGKILLed twice → one in-order delivery's state`, async () => {
  const started = Date.now();
  const events = await prepare();
  assert.ok(events.length >= MIN_EVENTS, `${events.length} distinct events`);
  const reference = await services("reference");
  const stormDb = await openDatabase({ url: urlOf("storm"), poolMax: 4 });
  opened.push(stormDb);
  const { db } = stormDb;
  // Stripe stands still (test clocks), so the reference is computed while the storm runs.
  const storming = Promise.all([startApi(), startWorker()]).then(([api, worker]) =>
    storm(api, worker, events, observe(db, events.length)),
  );
  const [{ statuses, kills, timeline }, inOrderSeconds] = await Promise.all([
    storming,
    deliverInOrder(reference, events),
  ]);

  assert.equal(statuses.length, events.length * 3);
  assert.deepEqual([...new Set(statuses)], [200], "every delivery answered 200");
  await assertNothingLost(db, events, kills);
  const expected = await projection(reference.database.db);
  const actual = await projection(db);
  for (const [user, want] of expected) assert.deepEqual(actual.get(user), want, `user ${user}`);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  const sent = await assertNoDuplicates(db);
  const audited = await assertSameAuditTrail(db, reference.database.db, events);

  const alive = running.filter((r) => r.child.exitCode === null && r.child.signalCode === null);
  for (const r of alive) r.child.kill("SIGTERM");
  for (const r of alive) assert.equal(await r.exited, 0, r.output());
  process.stdout.write(
    `# ${events.length} events, ${statuses.length} deliveries, ${sent} emails, ` +
      `${audited} audit rows; ` +
      `the kills caught ${kills.map((k) => k.length).join(" and ")} webhook jobs; ` +
      `storm (s): ${timeline}; in-order reference ${inOrderSeconds.toFixed(1)} s, ` +
      `whole test ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
});
