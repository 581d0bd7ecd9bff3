import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { accountTokens } from "../../src/accounts/accounts-tables.ts";
import type { Stage } from "../../stripe-emulator/server.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";
import { type SmtpServer, startSmtp } from "../helpers/smtp.ts";
import { waitFor } from "../helpers/wait.ts";
import { type Mail, mailsTo, nthMail, smtpEnv } from "./mailbox.ts";

const PASSWORD = "correct-Horse-battery-9";
const CONFIRM = /Confirm your new .* email address/;
const NOTICE = /A new email address was requested/;

/** Stripe writes the email-change job sent, by idempotency key. */
const stripeEmailWrites: string[] = [];
const watch: Stage = async (ex, next) => {
  const key = ex.headers["idempotency-key"];
  if (typeof key === "string" && key.startsWith("email-change:")) stripeEmailWrites.push(key);
  return next();
};

function confirmToken(mail: Mail): string {
  const pattern = /https:\/\/app\.example\.test\/confirm-email-change\?token=([A-Za-z0-9_-]+)/;
  const text = pattern.exec(mail.text)?.[1];
  assert.ok(text, mail.text);
  assert.equal(pattern.exec(mail.html)?.[1], text);
  return text;
}

let t: BillingTestApp;
let smtp: SmtpServer;
before(async () => {
  smtp = await startSmtp(() => 0);
  t = await startBillingApp({ env: smtpEnv(smtp.port), stages: [watch] });
});
after(async () => {
  await t.close();
  await smtp.close();
});

const newAddress = (tag: string) =>
  `${tag}-${Math.random().toString(16).slice(2, 10)}@new.example.com`;

const requestChange = (c: Customer, newEmail: string, password = PASSWORD) =>
  t.http("POST", "/api/auth/change-email/", {
    token: c.token,
    body: { new_email: newEmail, password },
  });

const confirm = (token: string) =>
  t.http("POST", "/api/auth/change-email/confirm/", { body: { token } });

const login = (email: string) =>
  t.http("POST", "/api/auth/login/", { body: { email, password: PASSWORD } });

describe("changing the email address", () => {
  test("the change waits for the link sent to the new address; then the Stripe customer follows once", async () => {
    const customer = await t.signUp();
    const plan = await t.plan();
    assert.equal((await t.subscribe(customer, plan.id)).status, 201);
    await t.settle();
    const target = newAddress("moved");
    const res = await requestChange(customer, target);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { message: "Confirmation email sent to the new address." });

    const notice = await nthMail(smtp, customer.email, NOTICE);
    assert.match(notice.text, new RegExp(target.replace(/[.]/g, "\\.")));
    const mail = await nthMail(smtp, target, CONFIRM);
    const token = confirmToken(mail);
    // Nothing changed yet.
    const profile = await t.http("GET", "/api/auth/profile/", { token: customer.token });
    assert.equal(profile.body.email, customer.email);
    assert.equal((await login(customer.email)).status, 200);

    const done = await confirm(token);
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(done.body, { message: "Email address changed.", email: target });
    const after = await t.http("GET", "/api/auth/profile/", { token: customer.token });
    assert.equal(after.body.email, target);
    assert.equal(after.body.email_verified, true);
    assert.equal((await login(target.toUpperCase())).status, 200);
    assert.equal((await login(customer.email)).status, 400);

    const [user] = await t.subscriptionsOf(customer.userId);
    assert.ok(user);
    const stripeCustomer = await waitFor(
      async () => {
        const c = await t.stripe.customers.retrieve(user.stripeCustomerId ?? "");
        return !c.deleted && c.email === target ? c : undefined;
      },
      { what: "the Stripe customer's email to follow" },
    );
    assert.equal(stripeCustomer.email, target);
    await t.settle();
    const [used] = await t.services.database.db
      .select({ id: accountTokens.id })
      .from(accountTokens)
      .where(eq(accountTokens.userId, customer.userId));
    assert.deepEqual(stripeEmailWrites, [`email-change:${used?.id}`]);

    // The link works once.
    const again = await confirm(token);
    assert.equal(again.status, 400);
    assert.deepEqual(again.body, { token: ["This link has already been used."] });
  });

  test("a wrong password, the current address or one another account holds (any case) is refused", async () => {
    const customer = await t.signUp();
    const other = await t.signUp();
    const wrong = await requestChange(customer, newAddress("x"), "not-it");
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body, { password: ["Password is incorrect."] });
    const same = await requestChange(customer, customer.email.toUpperCase());
    assert.equal(same.status, 400);
    assert.deepEqual(same.body, { new_email: ["This is already your email address."] });
    const taken = await requestChange(customer, other.email.toUpperCase());
    assert.equal(taken.status, 400);
    assert.deepEqual(taken.body, { new_email: ["user with this email already exists."] });
    const invalid = await requestChange(customer, "not-an-address");
    assert.equal(invalid.status, 400);
    const anonymous = await t.http("POST", "/api/auth/change-email/", {
      body: { new_email: newAddress("y"), password: PASSWORD },
    });
    assert.equal(anonymous.status, 401);
    assert.equal(mailsTo(smtp, other.email, CONFIRM).length, 0);
  });

  test("an address taken between request and confirmation is refused, and the link stays unspent", async () => {
    const customer = await t.signUp();
    const target = newAddress("race");
    assert.equal((await requestChange(customer, target)).status, 200);
    const token = confirmToken(await nthMail(smtp, target, CONFIRM));
    const squatter = await t.http("POST", "/api/auth/register/", {
      body: {
        email: target.toUpperCase(),
        username: `squat_${customer.userId.slice(0, 8)}`,
        password: PASSWORD,
        password_confirm: PASSWORD,
      },
    });
    assert.equal(squatter.status, 201);
    const refused = await confirm(token);
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body, {
      token: ["This address is no longer free: user with this email already exists."],
    });
    const profile = await t.http("GET", "/api/auth/profile/", { token: customer.token });
    assert.equal(profile.body.email, customer.email);
    const [row] = await t.services.database.db
      .select()
      .from(accountTokens)
      .where(eq(accountTokens.userId, customer.userId));
    assert.equal(row?.usedAt, null);
  });

  test("a newer request supersedes the older link; an expired link is refused", async () => {
    const customer = await t.signUp();
    const first = newAddress("first");
    const second = newAddress("second");
    assert.equal((await requestChange(customer, first)).status, 200);
    const oldToken = confirmToken(await nthMail(smtp, first, CONFIRM));
    assert.equal((await requestChange(customer, second)).status, 200);
    const newToken = confirmToken(await nthMail(smtp, second, CONFIRM));
    const superseded = await confirm(oldToken);
    assert.equal(superseded.status, 400);
    assert.deepEqual(superseded.body, {
      token: ["This link was replaced by a newer one. Use the link in the latest email."],
    });
    // The link's lifetime runs out (EMAIL_CHANGE_LIFETIME): moved into the past.
    await t.services.database.db
      .update(accountTokens)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(accountTokens.userId, customer.userId));
    const expired = await confirm(newToken);
    assert.equal(expired.status, 400);
    assert.deepEqual(expired.body, { token: ["This link has expired. Request a new one."] });
    assert.equal((await confirm("made-up-token")).status, 400);
  });
});
