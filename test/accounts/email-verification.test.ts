import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import { accountTokens, users } from "../../src/accounts/accounts-tables.ts";
import type { TestApp } from "../helpers/app.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { bearer, type Registered, registerUser } from "./helpers.ts";
import { linkToken, mailsTo, nthMail, smtpEnv, startMailingApp } from "./mailbox.ts";

const WELCOME = /^Welcome to SaaS Billing!$/;
const VERIFY = /^Confirm your email address$/;

let smtp: SmtpServer;
let t: TestApp;
let close: () => Promise<void>;

before(async () => {
  ({ t, smtp, close } = await startMailingApp({
    THROTTLE_VERIFY_EMAIL_RESEND_ACCOUNT: "2/hour",
    THROTTLE_VERIFY_EMAIL_RESEND_IP: "10000/hour",
    THROTTLE_ACCOUNT_TOKEN_IP: "10000/min",
  }));
});
after(() => close());

const verify = (token: unknown) =>
  t.app.inject({ method: "POST", url: "/api/auth/verify-email/", payload: { token } });
const resend = (u: Registered) =>
  t.app.inject({
    method: "POST",
    url: "/api/auth/verify-email/resend/",
    headers: bearer(u.access),
  });
async function verified(u: Registered): Promise<boolean> {
  const res = await t.app.inject({ url: "/api/auth/profile/", headers: bearer(u.access) });
  assert.equal(res.statusCode, 200);
  return res.json().email_verified;
}

describe("email verification", () => {
  test("the welcome email's link verifies the address, once", async () => {
    const u = await registerUser(t.app);
    assert.equal(await verified(u), false);
    const welcome = await nthMail(smtp, u.email, WELCOME);
    assert.match(welcome.text, /Thanks for signing up\. Your account is ready\./);
    assert.match(welcome.text, /The link works for 3 days\./);
    const token = linkToken(welcome, "/verify-email");

    const ok = await verify(token);
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(ok.json(), { message: "Email verified." });
    assert.equal(await verified(u), true);

    const again = await verify(token);
    assert.equal(again.statusCode, 400);
    assert.deepEqual(again.json(), { token: ["This link has already been used."] });
    // Registration sent one email, the welcome with the link: no separate verification email.
    assert.equal(smtp.received.filter((m) => m.to.includes(u.email.toLowerCase())).length, 1);
  });

  test("a resend supersedes the earlier link; a verified user cannot resend", async () => {
    const u = await registerUser(t.app);
    const first = linkToken(await nthMail(smtp, u.email, WELCOME), "/verify-email");
    const sent = await resend(u);
    assert.equal(sent.statusCode, 200);
    assert.deepEqual(sent.json(), { message: "Verification email sent." });
    const mail = await nthMail(smtp, u.email, VERIFY);
    assert.match(mail.text, new RegExp(`Please confirm that ${u.email} is your email address`));
    const second = linkToken(mail, "/verify-email");
    assert.notEqual(second, first);

    const old = await verify(first);
    assert.equal(old.statusCode, 400);
    assert.deepEqual(old.json(), {
      token: ["This link was replaced by a newer one. Use the link in the latest email."],
    });
    assert.equal(await verified(u), false);
    assert.equal((await verify(second)).statusCode, 200);

    const done = await resend(u);
    assert.equal(done.statusCode, 400);
    assert.deepEqual(done.json(), { error: "Your email address is already verified." });
    assert.equal(mailsTo(smtp, u.email, VERIFY).length, 1, "each resend is one email");
  });

  test("an expired link is refused and a new one works", async () => {
    const u = await registerUser(t.app);
    const token = linkToken(await nthMail(smtp, u.email, WELCOME), "/verify-email");
    // EMAIL_VERIFICATION_LIFETIME passing: the row's expiry moved into the past.
    await t.services.database.db
      .update(accountTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(accountTokens.userId, u.id));
    const res = await verify(token);
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { token: ["This link has expired. Request a new one."] });
    assert.equal((await resend(u)).statusCode, 200);
    const fresh = linkToken(await nthMail(smtp, u.email, VERIFY), "/verify-email");
    assert.equal((await verify(fresh)).statusCode, 200);
  });

  test("a link sent to an address the account no longer has does not verify the new one", async () => {
    const u = await registerUser(t.app);
    const token = linkToken(await nthMail(smtp, u.email, WELCOME), "/verify-email");
    await t.services.database.db
      .update(users)
      .set({ email: `moved-${u.username}@example.com` })
      .where(eq(users.id, u.id));
    const res = await verify(token);
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { token: ["This link is no longer valid. Request a new one."] });
    assert.equal(await verified(u), false);
  });

  test("unknown, malformed and missing tokens are clear 400s", async () => {
    assert.deepEqual((await verify("A".repeat(43))).json(), { token: ["Invalid token."] });
    const missing = await t.app.inject({
      method: "POST",
      url: "/api/auth/verify-email/",
      payload: {},
    });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(Object.keys(missing.json()), ["token"]);
    assert.equal((await verify(42)).statusCode, 400);
  });

  test("resending needs a signed-in user and is throttled per account; the last link still works", async () => {
    const anonymous = await t.app.inject({ method: "POST", url: "/api/auth/verify-email/resend/" });
    assert.equal(anonymous.statusCode, 401);
    const u = await registerUser(t.app);
    // No parameters: a body is ignored, but must still be JSON (the answers are documented ones).
    const notJson = await t.app.inject({
      method: "POST",
      url: "/api/auth/verify-email/resend/",
      headers: { ...bearer(u.access), "content-type": "application/octet-stream" },
      payload: "x",
    });
    assert.equal(notJson.statusCode, 415);
    assert.equal((await resend(u)).statusCode, 200);
    assert.equal((await resend(u)).statusCode, 200);
    const throttled = await resend(u);
    assert.equal(throttled.statusCode, 429);
    assert.ok(Number(throttled.headers["retry-after"]) > 0);
    const last = linkToken(await nthMail(smtp, u.email, VERIFY, 2), "/verify-email");
    assert.equal((await verify(last)).statusCode, 200);
    assert.equal(mailsTo(smtp, u.email, VERIFY).length, 2);
  });
});

describe("REQUIRE_VERIFIED_EMAIL=on", () => {
  let b: BillingTestApp;
  let mail: SmtpServer;
  before(async () => {
    mail = await startSmtp(() => 0);
    b = await startBillingApp({ env: smtpEnv(mail.port, { REQUIRE_VERIFIED_EMAIL: "on" }) });
  });
  after(async () => {
    await b.close();
    await mail.close();
  });

  test("subscribing answers 403 until the address is verified, then works", async () => {
    const plan = await b.plan();
    const customer = await b.signUp();
    const refused = await b.subscribe(customer, plan.id);
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, {
      error:
        "Verify your email address first: follow the link we emailed you, or request a new one " +
        "(POST /api/auth/verify-email/resend/).",
    });
    assert.deepEqual(await b.subscriptionsOf(customer.userId), [], "nothing reached Stripe");
    const token = linkToken(await nthMail(mail, customer.email, WELCOME), "/verify-email");
    const ok = await b.http("POST", "/api/auth/verify-email/", { body: { token } });
    assert.equal(ok.status, 200);
    const created = await b.subscribe(customer, plan.id);
    assert.equal(created.status, 201, JSON.stringify(created.body));
  });
});
