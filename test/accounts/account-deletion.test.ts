import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { accountCommands } from "../../src/accounts/accounts-cli.ts";
import { accountDeletions, sessions, users } from "../../src/accounts/accounts-tables.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import {
  type BillingTestApp,
  type Customer,
  DAY,
  latestPaymentIntent,
  startBillingApp,
} from "../helpers/billing.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";

const PASSWORD = "correct-Horse-battery-9";

function smtpEnv(port: number): Record<string, string> {
  return {
    EMAIL_HOST: "127.0.0.1",
    EMAIL_PORT: String(port),
    EMAIL_USE_TLS: "false",
    EMAIL_RETRY_DELAY: "0",
    FRONTEND_URL: "https://app.example.test",
  };
}

async function deleted(t: BillingTestApp, userId: string) {
  return waitFor(
    async () => {
      const [row] = await t.services.database.db
        .select()
        .from(accountDeletions)
        .where(eq(accountDeletions.userId, userId));
      return row?.completedAt ? row : undefined;
    },
    { what: "the deletion to complete", timeoutMs: 30_000 },
  );
}

async function userRow(t: BillingTestApp, userId: string) {
  const [row] = await t.services.database.db.select().from(users).where(eq(users.id, userId));
  assert.ok(row);
  return row;
}

const goodbyes = (smtp: SmtpServer, address: string) =>
  smtp.received.filter(
    (m) =>
      m.to.includes(address.toLowerCase()) &&
      /Subject: Your .* account has been deleted/.test(m.raw),
  );

async function subscribed(
  t: BillingTestApp,
): Promise<{ customer: Customer; subscriptionId: string }> {
  const customer = await t.signUp();
  const plan = await t.plan();
  const res = await t.subscribe(customer, plan.id);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  await t.settle();
  const [sub] = await t.subscriptionsOf(customer.userId);
  assert.ok(sub?.stripeSubscriptionId);
  return { customer, subscriptionId: sub.stripeSubscriptionId };
}

/** A billing app delivering to its own SMTP server, for the tests of one `describe`. */
function withApp(env: Record<string, string>, use: (t: BillingTestApp, smtp: SmtpServer) => void) {
  let t: BillingTestApp | undefined;
  let smtp: SmtpServer | undefined;
  before(async () => {
    smtp = await startSmtp(() => 0);
    t = await startBillingApp({ env: { ...smtpEnv(smtp.port), ...env } });
    use(t, smtp);
  });
  after(async () => {
    await t?.close();
    await smtp?.close();
  });
}

const deleteProfile = (t: BillingTestApp, token: string, password: string) =>
  t.http("DELETE", "/api/auth/profile/", { token, body: { password } });

describe("deleting an account (ACCOUNT_DELETE_CANCEL=immediately)", () => {
  let t: BillingTestApp;
  let smtp: SmtpServer;
  withApp({}, (app, server) => {
    t = app;
    smtp = server;
  });

  test("a wrong password is a 400 on `password` and changes nothing; no token is a 401", async () => {
    const customer = await t.signUp();
    const wrong = await deleteProfile(t, customer.token, "not-the-password");
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { password: ["Password is incorrect."] });
    assert.equal(
      (await t.http("GET", "/api/auth/profile/", { token: customer.token })).status,
      200,
    );
    const anonymous = await t.http("DELETE", "/api/auth/profile/", {
      body: { password: PASSWORD },
    });
    assert.equal(anonymous.status, 401);
  });

  test("cancels at Stripe, detaches the cards, says goodbye once, anonymizes, keeps the payments", async () => {
    const { customer, subscriptionId } = await subscribed(t);
    const { db } = t.services.database;
    const before = await userRow(t, customer.userId);
    assert.ok(before.stripeCustomerId);
    const payments = await t.paymentsOf(customer.userId);
    assert.equal(payments.length, 1);

    // The welcome email and the receipt delivered first: their copies are erased below.
    const sentBefore = await waitFor(
      async () => {
        const rows = await db.select().from(emails).where(eq(emails.userId, customer.userId));
        return rows.length >= 2 && rows.every((e) => e.status === "sent") ? rows : undefined;
      },
      { what: "the earlier emails to be sent" },
    );
    const res = await deleteProfile(t, customer.token, PASSWORD);
    assert.equal(res.status, 204);
    assert.equal(res.body, null);
    // Locked out at once, before the job runs.
    const locked = await t.http("GET", "/api/auth/profile/", { token: customer.token });
    assert.equal(locked.status, 401);

    await deleted(t, customer.userId);
    const sub = await t.stripe.subscriptions.retrieve(subscriptionId);
    assert.equal(sub.status, "canceled");
    const cards = await t.stripe.paymentMethods.list({ customer: before.stripeCustomerId });
    assert.equal(cards.data.length, 0);

    const row = await userRow(t, customer.userId);
    assert.notEqual(row.email.toLowerCase(), customer.email.toLowerCase());
    assert.ok(!row.email.includes(customer.email.split("@")[0] ?? "?"));
    assert.equal(row.firstName, "");
    assert.equal(row.lastName, "");
    assert.ok(!row.username.startsWith("buyer_"));
    assert.ok(!row.passwordHash.startsWith("$argon2"));
    assert.equal(row.isActive, false);
    // Kept: webhooks still find the account through its Stripe customer.
    assert.equal(row.stripeCustomerId, before.stripeCustomerId);
    const left = await db.select().from(sessions).where(eq(sessions.userId, customer.userId));
    assert.equal(left.length, 0);

    await waitFor(() => goodbyes(smtp, customer.email).length === 1, { what: "the goodbye email" });
    await t.settle();
    // The payment stays, still the account's; the subscription's end arrived by webhook.
    assert.deepEqual(
      (await t.paymentsOf(customer.userId)).map((p) => p.id),
      payments.map((p) => p.id),
    );
    assert.equal((await t.subscriptionsOf(customer.userId))[0]?.status, "canceled");
    // Earlier emails keep their row but no longer the address or the text.
    const earlier = await db.select().from(emails).where(eq(emails.userId, customer.userId));
    const ids = new Set(sentBefore.map((e) => e.id));
    const others = earlier.filter((e) => ids.has(e.id));
    assert.equal(others.length, sentBefore.length);
    for (const email of others) {
      assert.equal(email.recipient, row.email);
      assert.equal(email.textBody, "");
    }
    assert.equal(goodbyes(smtp, customer.email).length, 1);
  });

  test("the address can register again, in any case, once the account is deleted", async () => {
    const customer = await t.signUp();
    assert.equal((await deleteProfile(t, customer.token, PASSWORD)).status, 204);
    await deleted(t, customer.userId);
    const again = await t.http("POST", "/api/auth/register/", {
      body: {
        email: customer.email.toUpperCase(),
        username: `again_${customer.userId.slice(0, 8)}`,
        password: PASSWORD,
        password_confirm: PASSWORD,
      },
    });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.notEqual(again.body.user.id, customer.userId);
    // The old account cannot be signed in to, by the old address or the placeholder.
    const row = await userRow(t, customer.userId);
    for (const email of [row.email]) {
      const login = await t.http("POST", "/api/auth/login/", {
        body: { email, password: PASSWORD },
      });
      assert.equal(login.status, 400);
    }
  });

  test("a refund after the deletion is still recorded against the anonymized account", async () => {
    const { customer, subscriptionId } = await subscribed(t);
    const paymentIntent = await latestPaymentIntent(t.stripe, subscriptionId);
    assert.equal((await deleteProfile(t, customer.token, PASSWORD)).status, 204);
    await deleted(t, customer.userId);
    await t.stripe.refunds.create({ payment_intent: paymentIntent });
    await t.settle();
    const statuses = (await t.paymentsOf(customer.userId)).map((p) => p.status).sort();
    assert.deepEqual(statuses, ["refunded", "succeeded"]);
  });

  test("users:delete does the same for operators, and a second run finds nothing to do", async () => {
    const { customer, subscriptionId } = await subscribed(t);
    const lines: string[] = [];
    const command = accountCommands["users:delete"];
    assert.ok(command);
    const run = () =>
      command.run({
        config: t.config,
        logger: t.services.logger,
        values: { email: customer.email },
        positionals: [],
        services: t.services,
        out: (line) => lines.push(line),
        stdin: process.stdin,
      });
    assert.equal(await run(), 0);
    assert.match(lines.join("\n"), /deleted/);
    const [deletion] = await t.services.database.db
      .select()
      .from(accountDeletions)
      .where(eq(accountDeletions.userId, customer.userId));
    assert.equal(deletion?.requestedBy, "operator");
    assert.ok(deletion?.completedAt);
    assert.equal((await t.stripe.subscriptions.retrieve(subscriptionId)).status, "canceled");
    // The address is forgotten: the operator's second attempt finds no such user.
    await assert.rejects(run(), /No user with email/);
    // Nor can the anonymized account be brought back.
    const activate = accountCommands["users:activate"];
    assert.ok(activate);
    const row = await userRow(t, customer.userId);
    await assert.rejects(
      activate.run({
        config: t.config,
        logger: t.services.logger,
        values: { email: row.email },
        positionals: [],
        services: t.services,
        out: () => {},
        stdin: process.stdin,
      }),
      /is deleted; it cannot be activated/,
    );
    assert.equal((await userRow(t, customer.userId)).isActive, false);
    await waitFor(() => goodbyes(smtp, customer.email).length === 1, { what: "the goodbye email" });
  });
});

describe("deleting an account (ACCOUNT_DELETE_CANCEL=period_end)", () => {
  let t: BillingTestApp;
  let smtp: SmtpServer;
  withApp({ ACCOUNT_DELETE_CANCEL: "period_end" }, (app, server) => {
    t = app;
    smtp = server;
  });

  test("the subscription runs to its period's end; its end arrives on the anonymized account", async () => {
    const { customer, subscriptionId } = await subscribed(t);
    assert.equal((await deleteProfile(t, customer.token, PASSWORD)).status, 204);
    await deleted(t, customer.userId);
    const sub = await t.stripe.subscriptions.retrieve(subscriptionId);
    assert.equal(sub.status, "active");
    assert.equal(sub.cancel_at_period_end, true);
    await waitFor(() => goodbyes(smtp, customer.email).length === 1, { what: "the goodbye email" });
    assert.match(goodbyes(smtp, customer.email)[0]?.raw ?? "", /ends with the period you paid for/);

    // The late webhook (the subscription ending at the period's end) is recorded all the same.
    await t.advance(32 * DAY);
    assert.equal((await t.stripe.subscriptions.retrieve(subscriptionId)).status, "canceled");
    const [local] = await t.subscriptionsOf(customer.userId);
    assert.equal(local?.status, "canceled");
    assert.equal((await t.paymentsOf(customer.userId)).length, 1);
  });
});

describe("a deleted account's late webhooks", () => {
  let t: BillingTestApp;
  withApp({}, (app) => {
    t = app;
  });

  test("a renewal Stripe reports only after the deletion is recorded against the anonymized account", async () => {
    const { customer, subscriptionId } = await subscribed(t);
    // The renewal happens at Stripe, but its events reach us only after the account is gone.
    t.emulator.holdDeliveries(true);
    await t.emulator.advanceTime(31 * DAY + 2 * 3600);
    await t.emulator.idle();
    const renewed = await t.stripe.invoices.list({ subscription: subscriptionId, limit: 10 });
    assert.equal(renewed.data.filter((i) => i.status === "paid").length, 2);
    assert.equal((await deleteProfile(t, customer.token, PASSWORD)).status, 204);
    await deleted(t, customer.userId);
    assert.equal((await t.paymentsOf(customer.userId)).length, 1);

    await t.emulator.deliver(t.emulator.heldEvents());
    t.emulator.holdDeliveries(false);
    await t.settle();
    const payments = await t.paymentsOf(customer.userId);
    assert.deepEqual(
      payments.map((p) => p.status),
      ["succeeded", "succeeded"],
    );
    assert.equal((await t.subscriptionsOf(customer.userId))[0]?.status, "canceled");
    assert.ok((await userRow(t, customer.userId)).email.endsWith("@deleted.invalid"));
  });
});
