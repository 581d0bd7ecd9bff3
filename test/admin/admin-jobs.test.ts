import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";
import { ADMIN_ENV, type AdminCall, auditRows, staffCaller } from "./ops-helpers.ts";

// Dead-lettered jobs and failed emails for staff, and retrying them. Emails to "flaky-…" addresses
// are refused once by the SMTP server; with no retries (EMAIL_RETRY_LIMIT=0) that first refusal
// fails the email and dead-letters its send job, and a retry is then delivered.

let smtp: SmtpServer;
let t: BillingTestApp;
let call: AdminCall;
before(async () => {
  smtp = await startSmtp((rcpt) => (rcpt.startsWith("flaky-") ? 1 : 0));
  t = await startBillingApp({
    env: {
      ...ADMIN_ENV,
      EMAIL_HOST: "127.0.0.1",
      EMAIL_PORT: String(smtp.port),
      EMAIL_USE_TLS: "false",
      EMAIL_RETRY_LIMIT: "0",
      EMAIL_RETRY_DELAY: "0",
    },
  });
  ({ call } = await staffCaller(t));
});
after(async () => {
  await t?.close();
  await smtp?.close();
});

/** Registers a flaky-… user, whose welcome email fails; answers the failed email as listed. */
async function failedWelcome() {
  const id = randomBytes(6).toString("hex");
  const email = `flaky-${id}@example.com`;
  const res = await t.http("POST", "/api/auth/register/", {
    body: {
      email,
      username: `flaky_${id}`,
      password: "correct-Horse-battery-9",
      password_confirm: "correct-Horse-battery-9",
    },
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return waitFor(
    async () => {
      const list = await call("GET", "/api/admin/jobs/emails/?status=failed");
      assert.equal(list.status, 200, JSON.stringify(list.body));
      return list.body.results.find((e: { recipient: string }) => e.recipient === email);
    },
    { what: "the welcome email to fail" },
  );
}

async function deadLetterOf(emailId: string) {
  return waitFor(
    async () => {
      const list = await call("GET", "/api/admin/jobs/?queue=email.send");
      assert.equal(list.status, 200, JSON.stringify(list.body));
      return list.body.results.find(
        (j: { payload: { emailId?: string } }) => j.payload.emailId === emailId,
      );
    },
    { what: "the email's dead letter" },
  );
}

async function emailStatus(id: string): Promise<string | undefined> {
  const list = await call("GET", "/api/admin/jobs/emails/");
  return list.body.results.find((e: { id: string }) => e.id === id)?.status;
}

describe("admin jobs and emails", () => {
  test("a failed email is listed with its error and dead letter; retried, it is sent once", async () => {
    const email = await failedWelcome();
    assert.equal(email.attempts, 1);
    assert.match(email.last_error, /Mailbox busy/);
    const letter = await deadLetterOf(email.id);
    assert.equal(letter.queue, "email.send");
    assert.match(letter.error, /Mailbox busy/);

    const key = randomUUID();
    const res = await call("POST", `/api/admin/jobs/emails/${email.id}/retry/`, { key });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.status, "queued");
    await waitFor(async () => (await emailStatus(email.id)) === "sent", {
      what: "the retried email to be sent",
    });
    assert.equal(smtp.received.filter((m) => m.to.includes(email.recipient)).length, 1);

    // The dead letter is gone; the same request again is answered as the first time.
    const dead = await call("GET", "/api/admin/jobs/?queue=email.send");
    assert.ok(!dead.body.results.some((j: { id: string }) => j.id === letter.id));
    const again = await call("POST", `/api/admin/jobs/emails/${email.id}/retry/`, { key });
    assert.equal(again.status, 202);
    assert.deepEqual(again.body, res.body);
    // Without the key, a sent email is not sent again.
    const sent = await call("POST", `/api/admin/jobs/emails/${email.id}/retry/`);
    assert.equal(sent.status, 409);
    assert.deepEqual(sent.body, { error: "Only a failed email can be retried; this one is sent." });
    assert.equal(smtp.received.filter((m) => m.to.includes(email.recipient)).length, 1);
    const audits = await auditRows(t.services.database.db, "admin.email_retried", email.id);
    assert.equal(audits.length, 1);
    assert.equal(audits[0]?.actorKind, "admin");
  });

  test("a dead-lettered job sent back to its queue runs again: the email is sent", async () => {
    const email = await failedWelcome();
    const letter = await deadLetterOf(email.id);
    const res = await call("POST", `/api/admin/jobs/${letter.id}/retry/`);
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.equal(res.body.id, letter.id);
    assert.equal(res.body.queue, "email.send");
    await waitFor(async () => (await emailStatus(email.id)) === "sent", {
      what: "the redriven email to be sent",
    });
    const dead = await call("GET", "/api/admin/jobs/?queue=email.send");
    assert.ok(!dead.body.results.some((j: { id: string }) => j.id === letter.id));
    // A retried request (no key) finds nothing left to retry.
    const again = await call("POST", `/api/admin/jobs/${letter.id}/retry/`);
    assert.equal(again.status, 404);
    const audits = await auditRows(t.services.database.db, "admin.job_retried", letter.id);
    assert.equal(audits.length, 1);
  });

  test("the list of every queue's dead letters: newest first, its fields and count; past the end a 404", async () => {
    const first = await deadLetterOf((await failedWelcome()).id);
    const second = await deadLetterOf((await failedWelcome()).id);
    const all = await call("GET", "/api/admin/jobs/");
    assert.equal(all.status, 200, JSON.stringify(all.body));
    const ids = all.body.results.map((j: { id: string }) => j.id);
    assert.ok(ids.indexOf(second.id) < ids.indexOf(first.id), "newest first");
    assert.equal(all.body.count, all.body.results.length);
    const listed = all.body.results.find((j: { id: string }) => j.id === second.id);
    assert.deepEqual(listed, second);
    assert.equal(listed.retry_count, 0);
    assert.ok(Date.parse(listed.queued_at) <= Date.parse(listed.dead_lettered_at));
    assert.equal(all.body.next, null);
    assert.equal((await call("GET", "/api/admin/jobs/?page=2")).status, 404);
  });

  test("unknown ids are a 404, bad filters a 400, an unknown queue an empty page", async () => {
    assert.equal((await call("POST", `/api/admin/jobs/${randomUUID()}/retry/`)).status, 404);
    assert.equal((await call("POST", `/api/admin/jobs/emails/${randomUUID()}/retry/`)).status, 404);
    assert.equal((await call("GET", "/api/admin/jobs/emails/?status=lost")).status, 400);
    const none = await call("GET", "/api/admin/jobs/?queue=no.such.queue");
    assert.deepEqual(none.body, { count: 0, next: null, previous: null, results: [] });
  });
});
