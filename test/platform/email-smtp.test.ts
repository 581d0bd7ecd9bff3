import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { and, eq } from "drizzle-orm";
import { welcomeEmail } from "../../src/accounts/accounts-emails.ts";
import { queueEmail } from "../../src/platform/email/email-service.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import { deadLetterQueue } from "../../src/platform/jobs/definitions.ts";
import { registerUser, startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";
import { startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";

function smtpEnv(port: number, extra: Record<string, string> = {}): Record<string, string> {
  return {
    EMAIL_HOST: "127.0.0.1",
    EMAIL_PORT: String(port),
    EMAIL_USE_TLS: "false",
    EMAIL_RETRY_DELAY: "0",
    DEFAULT_FROM_EMAIL: "Billing <billing@example.test>",
    FRONTEND_URL: "https://app.example.test",
    ...extra,
  };
}

async function emailRow(t: TestApp, userId: string) {
  const [row] = await t.services.database.db
    .select()
    .from(emails)
    .where(and(eq(emails.userId, userId), eq(emails.template, welcomeEmail.name)));
  return row;
}

describe("welcome email over SMTP", () => {
  let smtp: Awaited<ReturnType<typeof startSmtp>>;
  let t: TestApp;
  before(async () => {
    smtp = await startSmtp((rcpt) => (rcpt.startsWith("flaky") ? 2 : 0));
    t = await startAccountsApp({ env: smtpEnv(smtp.port) });
  });
  after(async () => {
    await t.close();
    await smtp.close();
  });

  test("registration sends the welcome email with a text and an HTML part", async () => {
    const u = await registerUser(t.app);
    const to = u.email.toLowerCase();
    const message = await waitFor(() => smtp.received.find((m) => m.to.includes(to)), {
      what: "the welcome email at the SMTP server",
    });
    assert.match(message.raw, /Subject: Welcome to SaaS Billing!/);
    assert.match(message.raw, /From: Billing <billing@example\.test>/);
    assert.match(message.raw, /Content-Type: text\/plain/);
    assert.match(message.raw, /Content-Type: text\/html/);
    assert.match(message.raw, /https:\/\/app\.example\.test\/plans/);
    const row = await waitFor(async () => {
      const r = await emailRow(t, u.id);
      return r?.status === "sent" ? r : undefined;
    });
    assert.equal(row.attempts, 1);
    assert.ok(row.sentAt);
    assert.match(row.providerMessageId ?? "", /^<.+>$/);
    assert.equal(row.causeKey, u.id);
  });

  test("refused twice, the email is still delivered exactly once", async () => {
    const u = await registerUser(t.app, { email: `flaky-${Date.now()}@example.com` });
    const to = u.email.toLowerCase();
    const row = await waitFor(
      async () => {
        const r = await emailRow(t, u.id);
        return r?.status === "sent" ? r : undefined;
      },
      { what: "the email to be sent after two refusals" },
    );
    assert.equal(row.attempts, 3);
    assert.equal(smtp.attempts.get(to), 3);
    assert.equal(smtp.received.filter((m) => m.to.includes(to)).length, 1);
    assert.equal(row.lastError, null);
  });

  test("queueing the same cause twice records and sends one email", async () => {
    const u = await registerUser(t.app);
    const again = await t.services.database.db.transaction((tx) =>
      queueEmail(tx, t.services, {
        to: u.email,
        template: welcomeEmail,
        data: { firstName: "Ada", username: u.username },
        causeKey: u.id,
      }),
    );
    assert.equal(again, false);
    const to = u.email.toLowerCase();
    await waitFor(async () => (await emailRow(t, u.id))?.status === "sent");
    const rows = await t.services.database.db
      .select()
      .from(emails)
      .where(eq(emails.causeKey, u.id));
    assert.equal(rows.length, 1);
    assert.equal(smtp.received.filter((m) => m.to.includes(to)).length, 1);
  });

  test("an email to a deleted account's .invalid placeholder is not recorded or sent", async () => {
    const causeKey = `deleted-${Date.now()}`;
    const queued = await t.services.database.db.transaction((tx) =>
      queueEmail(tx, t.services, {
        to: "deleted-0d6c1a2e@deleted.INVALID",
        template: welcomeEmail,
        data: { firstName: "", username: "deleted" },
        causeKey,
      }),
    );
    assert.equal(queued, false);
    const rows = await t.services.database.db
      .select()
      .from(emails)
      .where(eq(emails.causeKey, causeKey));
    assert.deepEqual(rows, []);
  });
});

describe("while SMTP is down", () => {
  let t: TestApp;
  before(async () => {
    // A port nothing listens on: start a server for a free port, then close it.
    const gone = await startSmtp(() => 0);
    await gone.close();
    t = await startAccountsApp({ env: smtpEnv(gone.port, { EMAIL_RETRY_LIMIT: "1" }) });
  });
  after(() => t.close());

  test("registration commits; the email is retried, then marked failed and dead-lettered", async () => {
    const u = await registerUser(t.app);
    const login = await t.app.inject({
      method: "POST",
      url: "/api/auth/login/",
      payload: { email: u.email, password: u.password },
    });
    assert.equal(login.statusCode, 200, "the account exists although no email could be sent");
    const row = await waitFor(
      async () => {
        const r = await emailRow(t, u.id);
        return r?.status === "failed" ? r : undefined;
      },
      { what: "the email to be marked failed" },
    );
    assert.equal(row.attempts, 2);
    assert.match(row.lastError ?? "", /ECONNREFUSED|connect/i);
    const dead = await waitFor(async () => {
      const jobs = await t.services.jobs.boss.findJobs<{ emailId: string }>(
        deadLetterQueue("email.send"),
        { data: { emailId: row.id } },
      );
      return jobs[0];
    });
    assert.equal(dead.data.emailId, row.id);
  });
});
