import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { inArray } from "drizzle-orm";
import { welcomeEmail } from "../../src/accounts/accounts-emails.ts";
import { queueEmail } from "../../src/platform/email/email-service.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import { deadLetterQueue } from "../../src/platform/jobs/definitions.ts";
import { startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";

// SMTP outage: the mail server refuses every delivery for a while. Every email must arrive exactly
// once after it recovers, and none may be dead-lettered while it still has retries left.

const FULL = process.env.RELIABILITY_SCALE === "full";
const COUNT = FULL ? 300 : 10;
// Shortened from 60 s, but long enough that the due retries stay within what the worker can send
// per second: a retry that comes due is the oldest job, so retries due faster than the worker's
// rate would starve the emails not yet tried.
const RETRY_DELAY = FULL ? "20" : "3";

let smtp: SmtpServer;
let down = true;
let t: TestApp;

before(async () => {
  smtp = await startSmtp(() => (down ? Number.POSITIVE_INFINITY : 0));
  t = await startAccountsApp({
    env: {
      EMAIL_HOST: "127.0.0.1",
      EMAIL_PORT: String(smtp.port),
      EMAIL_USE_TLS: "false",
      EMAIL_RETRY_DELAY: RETRY_DELAY,
      // More retries than the outage below lasts.
      EMAIL_RETRY_LIMIT: "30",
    },
  });
});
after(async () => {
  await t.close();
  await smtp.close();
});

test(`${COUNT} emails queued during an SMTP outage are each delivered exactly once after it`, async () => {
  const run = randomBytes(4).toString("hex");
  const recipients = Array.from({ length: COUNT }, (_, i) => `outage-${run}-${i}@example.test`);
  const { db } = t.services.database;
  for (const [i, to] of recipients.entries()) {
    const data = { username: `user${i}`, firstName: "" };
    const causeKey = `outage:${run}:${i}`;
    // Each cause is queued twice, as a retried request would: one email either way.
    for (let twice = 0; twice < 2; twice++) {
      await db.transaction((tx) =>
        queueEmail(tx, t.services, { to, template: welcomeEmail, data, causeKey }),
      );
    }
  }

  const rows = () => db.select().from(emails).where(inArray(emails.recipient, recipients));
  // The outage is felt: every email has failed at least twice before the server comes back.
  await waitFor(async () => (await rows()).every((row) => row.attempts >= 2), {
    timeoutMs: FULL ? 300_000 : 60_000,
    what: "every email to fail twice",
  });
  assert.equal(smtp.received.length, 0);
  assert.ok((await rows()).every((row) => row.status === "retrying"));
  down = false;

  await waitFor(async () => (await rows()).every((row) => row.status === "sent"), {
    timeoutMs: FULL ? 300_000 : 60_000,
    what: "every email to be sent",
  });
  const delivered = smtp.received.flatMap((message) => message.to).sort();
  assert.deepEqual(delivered, [...recipients].sort(), "each recipient exactly once");
  assert.equal((await rows()).length, COUNT);
  const dead = await t.services.jobs.boss.findJobs(deadLetterQueue("email.send"));
  assert.equal(dead.length, 0, "nothing dead-lettered while retries remained");
});
