import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, describe, test } from "node:test";
import pg from "pg";
import { pino } from "pino";
import Stripe from "stripe";
import { createStripeClient, STRIPE_API_VERSION } from "../../src/billing/stripe-client.ts";
import { HANDLED_EVENT_TYPES } from "../../src/billing/stripe-events.ts";
import { checkWebhookEndpoints } from "../../src/billing/webhook-endpoint-check.ts";
import { StripeApiError } from "../../stripe-emulator/errors.ts";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import {
  databaseUrlFor,
  dropPostgresDatabase,
  freshDataDir,
  TEST_DATABASE_URL,
} from "../helpers/database.ts";
import { freePort, ROOT, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** Log lines written through a real pino logger, parsed. */
function captureLogs() {
  const lines: { level: number; msg: string; [key: string]: unknown }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: pino({ level: "debug" }, stream), lines };
}

/** Answers as Stripe does for a restricted key without the webhook endpoints permission. */
const restrictedKeys: Stage = async (ex, next) => {
  const key = (ex.headers.authorization ?? "").replace("Bearer ", "");
  if (key.startsWith("rk_test_") && ex.path.startsWith("/v1/webhook_endpoints")) {
    throw new StripeApiError(403, {
      type: "invalid_request_error",
      message: `The provided key '${key.slice(0, 12)}…' does not have the required permissions for this endpoint. Having the 'rak_webhook_read' permission would allow this request to continue.`,
    });
  }
  return next();
};

describe("the webhook endpoint's enabled events", () => {
  test("docs/operations.md lists exactly the event types of the handler table", async () => {
    const doc = await readFile(join(ROOT, "docs/operations.md"), "utf8");
    const block = /<!-- handled events:[^>]*-->\n([\s\S]*?)<!-- end of handled events -->/.exec(
      doc,
    );
    assert.ok(block?.[1], "the handled-events block is in docs/operations.md");
    const listed = [...block[1].matchAll(/^- `([^`]+)`$/gm)].map((m) => m[1]);
    assert.deepEqual(listed, [...HANDLED_EVENT_TYPES]);
    assert.ok(listed.includes("invoice.payment_succeeded") && listed.includes("invoice.paid"));
  });

  test("at start, the API warns naming the types its Stripe endpoint does not send", async () => {
    // The standalone emulator stands in for real Stripe: a key and an API base, as in production.
    const stripe = await startStripeEmulator();
    cleanups.push(() => stripe.close());
    const client = createStripeClient("sk_test_endpoint_check", stripe.url);
    const ours = await client.webhookEndpoints.create({
      url: "https://billing.example.com/api/webhooks/stripe/",
      // Set up for the original: no invoice.paid, no refunds, no 3-D Secure reminders.
      enabled_events: [
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "customer.subscription.trial_will_end",
        "invoice.payment_succeeded",
        "invoice.payment_failed",
      ],
    });
    await client.webhookEndpoints.create({
      url: "https://other.example.com/hooks",
      enabled_events: ["customer.created"],
    });
    const complete = await client.webhookEndpoints.create({
      url: "https://billing-eu.example.com/api/webhooks/stripe",
      enabled_events: ["*"],
    });
    const cwd = await mkdtemp(join(tmpdir(), "billing-endpoint-check-"));
    cleanups.push(() => rm(cwd, { recursive: true, force: true }));
    const env: Record<string, string> = {
      PORT: String(await freePort()),
      HOST: "127.0.0.1",
      STRIPE_SECRET_KEY: "sk_test_endpoint_check",
      STRIPE_API_BASE: stripe.url,
      STRIPE_WEBHOOK_SECRET: "whsec_endpoint_check_0123456789abcdef",
    };
    if (TEST_DATABASE_URL) {
      const name = `billing_check_${randomBytes(4).toString("hex")}`;
      const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
      await admin.connect();
      await admin.query(`create database ${name}`);
      await admin.end();
      cleanups.push(() => dropPostgresDatabase(name));
      env.DATABASE_URL = databaseUrlFor(name);
    } else {
      env.DATA_DIR = await freshDataDir(join(cwd, "data"));
    }
    const running = startProcess("src/main.ts", env, cwd);
    cleanups.push(async () => {
      running.child.kill("SIGINT");
      await running.exited;
    });
    const line = await waitFor(
      () =>
        running
          .output()
          .split("\n")
          .find((l) => l.includes("Stripe webhook endpoint does not send")),
      { timeoutMs: 60_000, what: "the missing events warning" },
    );
    const warning = JSON.parse(line);
    assert.equal(warning.level, 40);
    assert.equal(warning.endpoint, ours.id);
    // Set up for the original: none of the invoice store's events, nor Checkout's (issue 22).
    assert.deepEqual(warning.missing, [
      "invoice.paid",
      "invoice.payment_action_required",
      "invoice.created",
      "invoice.finalized",
      "invoice.updated",
      "invoice.voided",
      "invoice.marked_uncollectible",
      "checkout.session.completed",
      "checkout.session.expired",
      "charge.refunded",
    ]);
    assert.match(
      warning.msg,
      /invoice\.paid, invoice\.payment_action_required, invoice\.created, .*, charge\.refunded/,
    );
    // The API is up; the endpoint of another service and the complete one are not named.
    assert.equal((await fetch(`${await running.url}/healthz`)).status, 200);
    const output = running.output();
    assert.equal(output.match(/does not send/g)?.length, 1);
    assert.ok(!output.includes(complete.id));
    running.child.kill("SIGINT");
    assert.equal(await running.exited, 0);
  });

  test("a key that may not list endpoints, or Stripe out of reach, is only logged", async () => {
    const stripe = await startStripeEmulator({ stages: [restrictedKeys] });
    cleanups.push(() => stripe.close());
    const restricted = captureLogs();
    await checkWebhookEndpoints(
      {
        stripe: createStripeClient("rk_test_no_webhook_read", stripe.url),
        webhookSecret: undefined,
        emulator: undefined,
      },
      restricted.logger,
    );
    assert.deepEqual(
      restricted.lines.map((l) => [l.level, l.msg]),
      [[20, "Stripe webhook endpoints not checked: they could not be listed"]],
    );
    assert.match(String(restricted.lines[0]?.reason), /rak_webhook_read/);

    const unreachable = captureLogs();
    const offline = new Stripe("sk_test_offline", {
      apiVersion: STRIPE_API_VERSION,
      maxNetworkRetries: 0,
      host: "127.0.0.1",
      port: await freePort(),
      protocol: "http",
    });
    await checkWebhookEndpoints(
      { stripe: offline, webhookSecret: undefined, emulator: undefined },
      unreachable.logger,
    );
    assert.deepEqual(
      unreachable.lines.map((l) => [l.level, l.msg]),
      [[30, "Stripe webhook endpoints not checked: they could not be listed"]],
    );
  });

  test("no endpoint for this service (stripe listen) is information; only disabled ones, a warning", async () => {
    const stripe = await startStripeEmulator();
    cleanups.push(() => stripe.close());
    const deps = {
      stripe: createStripeClient("sk_test_listen", stripe.url),
      webhookSecret: undefined,
      emulator: undefined,
    };
    const none = captureLogs();
    await checkWebhookEndpoints(deps, none.logger);
    assert.deepEqual(
      none.lines.map((l) => l.level),
      [30],
    );
    const old = await deps.stripe.webhookEndpoints.create({
      url: "https://billing.example.com/api/webhooks/stripe/",
      enabled_events: ["*"],
    });
    await deps.stripe.webhookEndpoints.update(old.id, { disabled: true });
    const disabled = captureLogs();
    await checkWebhookEndpoints(deps, disabled.logger);
    assert.deepEqual(
      disabled.lines.map((l) => [l.level, l.endpoints]),
      [[40, [old.id]]],
    );
  });
});
