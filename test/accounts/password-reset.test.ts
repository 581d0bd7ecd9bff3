import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { accountTokens } from "../../src/accounts/accounts-tables.ts";
import { passwordResetJob, sendPasswordReset } from "../../src/accounts/password-reset.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import type { TestApp } from "../helpers/app.ts";
import type { SmtpServer } from "../helpers/smtp.ts";
import { bearer, PASSWORD, type Registered, registerUser, uniqueName } from "./helpers.ts";
import { linkToken, mailsTo, nthMail, startMailingApp } from "./mailbox.ts";

const RESET = /^Reset your SaaS Billing password$/;
const CHANGED = /^Your SaaS Billing password was changed$/;
const NEW_PASSWORD = "Brand-New-Secret-42";
const ACCEPTED = {
  message: "If an account with this email exists, a password reset link has been sent.",
};

let smtp: SmtpServer;
let t: TestApp;
let close: () => Promise<void>;

before(async () => {
  ({ t, smtp, close } = await startMailingApp({
    THROTTLE_PASSWORD_RESET_IP: "5/hour",
    THROTTLE_PASSWORD_RESET_ACCOUNT: "2/hour",
    THROTTLE_ACCOUNT_TOKEN_IP: "10000/min",
  }));
});
after(() => close());

/** A fresh client address per test: the per-IP limit is under test too. */
function address(): string {
  const b = () => Math.floor(Math.random() * 250) + 1;
  return `10.${b()}.${b()}.${b()}`;
}

const requestReset = (email: string, from = address()) =>
  t.app.inject({
    method: "POST",
    url: "/api/auth/password-reset/",
    remoteAddress: from,
    payload: { email },
  });
const confirm = (token: string, password = NEW_PASSWORD, confirmation = password) =>
  t.app.inject({
    method: "POST",
    url: "/api/auth/password-reset/confirm/",
    payload: { token, new_password: password, new_password_confirm: confirmation },
  });
const login = (email: string, password: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/login/", payload: { email, password } });

/** The reset jobs queued for `email`: the work a reset request does. */
async function resetJobs(email: string): Promise<number> {
  return (await t.services.jobs.boss.findJobs(passwordResetJob.name, { data: { email } })).length;
}

/** Waits for the reset job of `email` to complete (it runs for every address). */
function resetJobDone(email: string) {
  return t.services.jobs.boss
    .getSpy(passwordResetJob.name)
    .waitForJob((data: { email?: string }) => data.email === email, "completed");
}

async function resetToken(u: Registered, n = 1): Promise<string> {
  return linkToken(await nthMail(smtp, u.email, RESET, n), "/reset-password");
}

describe("password reset", () => {
  test("the emailed link sets a new password, ends every session and sends a notice", async () => {
    const u = await registerUser(t.app);
    const res = await requestReset(u.email.toUpperCase());
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), ACCEPTED);
    const mail = await nthMail(smtp, u.email, RESET);
    assert.match(mail.text, /The link works once, for 1 hour/);
    const token = linkToken(mail, "/reset-password");

    // A refused password leaves the link usable.
    const weak = await confirm(token, "password");
    assert.equal(weak.statusCode, 400);
    assert.deepEqual(Object.keys(weak.json()), ["new_password"]);
    const mismatch = await confirm(token, NEW_PASSWORD, `${NEW_PASSWORD}x`);
    assert.deepEqual(mismatch.json(), { new_password_confirm: ["Passwords do not match."] });

    const ok = await confirm(token);
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { message: "Password has been reset with the new password." });

    const refresh = await t.app.inject({
      method: "POST",
      url: "/api/auth/token/refresh/",
      payload: { refresh: u.refresh },
    });
    assert.equal(refresh.statusCode, 401, "the refresh token from before the reset is revoked");
    assert.equal((await login(u.email, PASSWORD)).statusCode, 400);
    const signedIn = await login(u.email, NEW_PASSWORD);
    assert.equal(signedIn.statusCode, 200);
    assert.equal(signedIn.json().user.email_verified, true, "the link proved the address");

    const notice = await nthMail(smtp, u.email, CHANGED);
    assert.match(notice.text, /The password of your SaaS Billing account was changed/);
    assert.equal((await confirm(token, "Another-Secret-77")).statusCode, 400);
    assert.deepEqual((await confirm(token, "Another-Secret-77")).json(), {
      token: ["This link has already been used."],
    });
    assert.equal(mailsTo(smtp, u.email, RESET).length, 1);
    assert.equal(mailsTo(smtp, u.email, CHANGED).length, 1);
  });

  test("an unknown address gets the same answer and the same work, and no email", async () => {
    const u = await registerUser(t.app);
    const unknown = `${uniqueName("nobody")}@example.com`;
    const jobs = [resetJobDone(u.email), resetJobDone(unknown)];
    const [known, missing] = [await requestReset(u.email), await requestReset(unknown)];
    assert.equal(known.statusCode, missing.statusCode);
    assert.equal(known.body, missing.body);
    const headers = (h: Record<string, unknown>) => {
      const { date: _d, "x-request-id": _id, ...rest } = h;
      return rest;
    };
    assert.deepEqual(headers(known.headers), headers(missing.headers));
    // Each request did exactly one thing, the same: it queued a reset job, which ran.
    await Promise.all(jobs);
    assert.deepEqual([await resetJobs(u.email), await resetJobs(unknown)], [1, 1]);
    await nthMail(smtp, u.email, RESET);
    const toUnknown = await t.services.database.db
      .select()
      .from(emails)
      .where(eq(emails.recipient, unknown));
    assert.deepEqual(toUnknown, []);
    assert.equal(mailsTo(smtp, unknown, /./).length, 0);
  });

  test("a newer request supersedes the older link", async () => {
    const u = await registerUser(t.app);
    await requestReset(u.email);
    const first = await resetToken(u, 1);
    await requestReset(u.email);
    const second = await resetToken(u, 2);
    const old = await confirm(first);
    assert.equal(old.statusCode, 400);
    assert.deepEqual(old.json(), {
      token: ["This link was replaced by a newer one. Use the link in the latest email."],
    });
    assert.equal((await confirm(second)).statusCode, 200);
  });

  test("changing the password ends a pending reset link, and sends the notice too", async () => {
    const u = await registerUser(t.app);
    await requestReset(u.email);
    const token = await resetToken(u);
    const changed = await t.app.inject({
      method: "POST",
      url: "/api/auth/change-password/",
      headers: bearer(u.access),
      payload: {
        old_password: PASSWORD,
        new_password: NEW_PASSWORD,
        new_password_confirm: NEW_PASSWORD,
      },
    });
    assert.equal(changed.statusCode, 200);
    const res = await confirm(token, "Another-Secret-77");
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { token: ["This link is no longer valid. Request a new one."] });
    await nthMail(smtp, u.email, CHANGED);
    assert.equal((await login(u.email, NEW_PASSWORD)).statusCode, 200);
  });

  test("an expired link is refused", async () => {
    const u = await registerUser(t.app);
    await requestReset(u.email);
    const token = await resetToken(u);
    // PASSWORD_RESET_LIFETIME passing: the row's expiry moved into the past.
    await t.services.database.db
      .update(accountTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(accountTokens.userId, u.id));
    const res = await confirm(token);
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { token: ["This link has expired. Request a new one."] });
    assert.equal((await login(u.email, PASSWORD)).statusCode, 200, "the password is unchanged");
  });

  test("unknown and missing tokens are clear 400s", async () => {
    assert.deepEqual((await confirm("A".repeat(43))).json(), { token: ["Invalid token."] });
    const missing = await t.app.inject({
      method: "POST",
      url: "/api/auth/password-reset/confirm/",
      payload: { new_password: NEW_PASSWORD, new_password_confirm: NEW_PASSWORD },
    });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(Object.keys(missing.json()), ["token"]);
    const badEmail = await requestReset("not-an-email");
    assert.deepEqual(badEmail.json(), { email: ["Enter a valid email address."] });
  });

  test("a rerun of a reset job sends nothing more and keeps the link it sent", async () => {
    const u = await registerUser(t.app);
    const requestId = randomUUID();
    const deps = { ...t.services, db: t.services.database.db };
    await sendPasswordReset(deps, u.email, requestId);
    await sendPasswordReset(deps, u.email, requestId);
    const token = await resetToken(u);
    const rows = await t.services.database.db
      .select()
      .from(emails)
      .where(eq(emails.causeKey, requestId));
    assert.equal(rows.length, 1);
    assert.equal((await confirm(token)).statusCode, 200);
    assert.equal(mailsTo(smtp, u.email, RESET).length, 1);
  });
});

describe("password reset throttling", () => {
  test("an attacker cannot flood the inbox or lock the owner out", async () => {
    const u = await registerUser(t.app);
    const attacker = address();
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await requestReset(u.email, attacker));
    // THROTTLE_PASSWORD_RESET_ACCOUNT=2/hour: every answer is the same, two emails went out.
    for (const res of answers) assert.deepEqual([res.statusCode, res.json()], [200, ACCEPTED]);
    const blocked = await requestReset(u.email, attacker);
    assert.equal(blocked.statusCode, 429, "THROTTLE_PASSWORD_RESET_IP=5/hour for that client");
    assert.ok(Number(blocked.headers["retry-after"]) > 0);

    // The owner, from elsewhere, is answered as usual, and the last link sent still works.
    const owner = await requestReset(u.email);
    assert.deepEqual([owner.statusCode, owner.json()], [200, ACCEPTED]);
    // Of the two links sent (their jobs may run in either order), the newer one works.
    const tokens = [await resetToken(u, 1), await resetToken(u, 2)];
    const results = [];
    for (const token of tokens) results.push((await confirm(token)).statusCode);
    assert.deepEqual(results.sort(), [200, 400]);
    assert.equal(mailsTo(smtp, u.email, RESET).length, 2);
  });

  test("the per-address cap treats addresses with and without an account alike", async () => {
    const u = await registerUser(t.app);
    const unknown = `${uniqueName("nobody")}@example.com`;
    for (const email of [u.email, unknown]) {
      for (let i = 0; i < 3; i++) {
        const res = await requestReset(email);
        assert.deepEqual([res.statusCode, res.json()], [200, ACCEPTED]);
      }
    }
    // THROTTLE_PASSWORD_RESET_ACCOUNT=2/hour: two requests did work for each, the third none.
    assert.deepEqual([await resetJobs(u.email), await resetJobs(unknown)], [2, 2]);
  });
});
