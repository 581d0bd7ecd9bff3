import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import pg from "pg";
import { databaseUrlFor, dropPostgresDatabase, TEST_DATABASE_URL } from "../helpers/database.ts";
import { freePort, type Running, runCli, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

// README's "Running against PostgreSQL" with a separate worker: one standalone
// Stripe emulator shared by the API (WORKER=off) and the worker, as the README says to start them.
// With an in-process emulator each, payments never arrived.

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function stopped(running: Running): Promise<void> {
  if (running.child.exitCode !== null) return;
  running.child.kill("SIGTERM");
  await running.exited;
}

test("the API with WORKER=off and a worker, on PostgreSQL, share the standalone emulator: a payment arrives", {
  skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  timeout: 180_000,
}, async () => {
  const name = `billing_two_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
  await admin.connect();
  await admin.query(`create database ${name}`);
  await admin.end();
  cleanups.push(() => dropPostgresDatabase(name));
  const cwd = await mkdtemp(join(tmpdir(), "billing-two-"));
  cleanups.push(() => rm(cwd, { recursive: true, force: true }));

  // The API's port is needed before it starts: the emulator delivers webhooks to it.
  const apiPort = await freePort();
  const secret = "whsec_two_process_development_only_0123456789";
  const emulator = startProcess(
    "stripe-emulator/main.ts",
    {
      STRIPE_EMULATOR_PORT: "0",
      STRIPE_WEBHOOK_URL: `http://127.0.0.1:${apiPort}/api/webhooks/stripe/`,
      STRIPE_WEBHOOK_SECRET: secret,
    },
    cwd,
  );
  cleanups.push(() => stopped(emulator));
  const stripeUrl = await waitFor(
    () => /Stripe emulator listening on (http:\/\/\S+)/.exec(emulator.output())?.[1],
    { what: "the standalone emulator" },
  );
  const shared = {
    DATABASE_URL: databaseUrlFor(name),
    STRIPE_SECRET_KEY: "sk_test_two_process",
    STRIPE_API_BASE: stripeUrl,
    STRIPE_WEBHOOK_SECRET: secret,
    PASSWORD_HASH_MEMORY_KIB: "1024",
    PASSWORD_HASH_ITERATIONS: "1",
  };
  const api = startProcess(
    "src/main.ts",
    { ...shared, WORKER: "off", PORT: String(apiPort), HOST: "127.0.0.1" },
    cwd,
  );
  cleanups.push(() => stopped(api));
  const base = await api.url;
  const worker = startProcess("src/worker.ts", { ...shared, LOG_LEVEL: "info" }, cwd);
  cleanups.push(() => stopped(worker));
  await waitFor(() => worker.output().includes("worker ready"), { what: "worker ready" });

  // The standalone emulator starts empty: the demo catalog, as README says.
  const demo = await runCli(["plans:demo"], shared, cwd);
  assert.equal(demo.code, 0, demo.output);

  const json = { "content-type": "application/json" };
  const id = randomBytes(4).toString("hex");
  const registered = await fetch(`${base}/api/auth/register/`, {
    method: "POST",
    headers: json,
    body: JSON.stringify({
      email: `two${id}@example.com`,
      username: `two${id}`,
      password: "correct-Horse-battery-9",
      password_confirm: "correct-Horse-battery-9",
    }),
  });
  assert.equal(registered.status, 201);
  const { tokens } = (await registered.json()) as { tokens: { access: string } };
  const auth = { ...json, authorization: `Bearer ${tokens.access}` };
  const plans = (await (
    await fetch(`${base}/api/subscriptions/plans/`, { headers: auth })
  ).json()) as {
    results: { id: string; name: string }[];
  };
  const starter = plans.results.find((p) => p.name === "Starter");
  assert.ok(starter, JSON.stringify(plans));
  const created = await fetch(`${base}/api/subscriptions/create/`, {
    method: "POST",
    headers: auth,
    body: JSON.stringify({ plan_id: starter.id, payment_method_id: "pm_card_visa" }),
  });
  assert.equal(created.status, 201, await created.text());

  // The invoice's webhook reaches the API, whose stored event the worker processes: a payment.
  const payments = await waitFor(
    async () => {
      const list = (await (
        await fetch(`${base}/api/subscriptions/payments/`, { headers: auth })
      ).json()) as { count: number; results: { amount: string; status: string }[] };
      return list.count === 1 ? list : undefined;
    },
    { timeoutMs: 60_000, what: "the payment, through the worker" },
  );
  assert.deepEqual(
    payments.results.map((p) => [p.amount, p.status]),
    [["9.99", "succeeded"]],
  );
  assert.doesNotMatch(worker.output(), /No such|no user known/);
});
