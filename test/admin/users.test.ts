import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { accountCommands } from "../../src/accounts/accounts-cli.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import { type BillingTestApp, DAY, startBillingApp } from "../helpers/billing.ts";
import { waitFor } from "../helpers/wait.ts";
import { type AdminCall, staffCaller } from "./helpers.ts";

// Finding a customer and everything about them, acting on the account, and the staff commands.

let t: BillingTestApp;
let staffId: string;
let admin: (
  method: string,
  url: string,
  options?: { body?: unknown; key?: string; token?: string },
) => Promise<AdminCall>;
before(async () => {
  t = await startBillingApp();
  const caller = await staffCaller(t.app, t.services.database.db, () => t.signUp());
  admin = caller.call;
  staffId = caller.staff.userId;
});
after(() => t?.close());

const PASSWORD = "correct-Horse-battery-9";

async function login(email: string) {
  return t.http("POST", "/api/auth/login/", { body: { email, password: PASSWORD } });
}

/** Runs an operator command against the test app's services, as `npm run cli` would. */
async function command(name: string, values: Record<string, string>) {
  const lines: string[] = [];
  const run = accountCommands[name]?.run;
  assert.ok(run, name);
  const code = await run({
    config: t.config,
    logger: t.services.logger,
    values,
    positionals: [],
    services: t.services,
    out: (line) => lines.push(line),
    stdin: Readable.from([]),
  });
  return { code, out: lines.join("\n") };
}

describe("finding users", () => {
  test("search finds by part of the email, by name, by Stripe customer id", async () => {
    const plan = await t.plan();
    const buyer = await t.signUp();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    const fragment = buyer.email.slice(0, 12).toUpperCase();
    const byEmail = await admin("GET", `/api/admin/users/?search=${encodeURIComponent(fragment)}`);
    assert.equal(byEmail.status, 200);
    assert.deepEqual(
      byEmail.body.results.map((u: { id: string }) => u.id),
      [buyer.userId],
    );
    const customer = byEmail.body.results[0].stripe_customer_id;
    assert.match(customer, /^cus_/);
    const byCustomer = await admin("GET", `/api/admin/users/?search=${customer}`);
    assert.deepEqual(
      byCustomer.body.results.map((u: { id: string }) => u.id),
      [buyer.userId],
    );
    const byName = await admin("GET", "/api/admin/users/?search=ada");
    assert.ok(byName.body.results.some((u: { id: string }) => u.id === buyer.userId));
    const none = await admin("GET", "/api/admin/users/?search=%25%25nobody%25");
    assert.equal(none.body.count, 0, "% matches itself, not anything");
  });

  test("a user's detail has their subscription, invoices, payments, emails and sessions", async () => {
    const plan = await t.plan({ amount: 1234 });
    const buyer = await t.signUp();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    await t.settle();
    const res = await admin("GET", `/api/admin/users/${buyer.userId}/`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const d = res.body;
    assert.equal(d.user.email, buyer.email);
    assert.equal(d.subscription.status, "active");
    assert.equal(d.subscription.plan.id, plan.id);
    assert.equal(d.subscriptions.length, 1);
    assert.deepEqual(
      d.payments.map((p: { amount: string; status: string }) => [p.amount, p.status]),
      [["12.34", "succeeded"]],
    );
    assert.equal(d.invoices.length, 1);
    assert.ok(d.emails.some((e: { template: string }) => e.template === "accounts.welcome"));
    assert.equal(d.sessions.length, 1, "the sign-up session");
    assert.ok(Array.isArray(d.audit));
    const unknown = await admin("GET", "/api/admin/users/00000000-0000-4000-8000-000000000000/");
    assert.deepEqual([unknown.status, unknown.body], [404, { error: "User not found." }]);
  });
});

describe("acting on an account", () => {
  test("deactivate locks the user out and ends their sessions; activate lets them sign in again", async () => {
    const buyer = await t.signUp();
    const off = await admin("POST", `/api/admin/users/${buyer.userId}/deactivate/`);
    assert.equal(off.status, 200, JSON.stringify(off.body));
    assert.equal(off.body.is_active, false);
    const profile = await t.http("GET", "/api/auth/profile/", { token: buyer.token });
    assert.equal(profile.status, 401);
    assert.equal((await login(buyer.email)).status, 400);
    const detail = await admin("GET", `/api/admin/users/${buyer.userId}/`);
    assert.deepEqual(detail.body.sessions, []);

    const on = await admin("POST", `/api/admin/users/${buyer.userId}/activate/`);
    assert.equal(on.body.is_active, true);
    assert.equal((await login(buyer.email)).status, 200);
  });

  test("staff cannot deactivate themselves", async () => {
    const res = await admin("POST", `/api/admin/users/${staffId}/deactivate/`);
    assert.equal(res.status, 400);
    assert.match(res.body.error, /your own account/);
  });

  test("resend: a new verification email, or a copy of one of the user's emails", async () => {
    const buyer = await t.signUp();
    const { db } = t.services.database;
    const verification = await admin("POST", `/api/admin/users/${buyer.userId}/resend-email/`);
    assert.equal(verification.status, 202, JSON.stringify(verification.body));
    const rows = await db.select().from(emails).where(eq(emails.userId, buyer.userId));
    assert.deepEqual(rows.map((r) => r.template).sort(), [
      "accounts.verify_email",
      "accounts.welcome",
    ]);
    const welcome = rows.find((r) => r.template === "accounts.welcome");
    assert.ok(welcome);
    const copy = await admin("POST", `/api/admin/users/${buyer.userId}/resend-email/`, {
      body: { email_id: welcome.id },
    });
    assert.equal(copy.status, 202, JSON.stringify(copy.body));
    const sent = await waitFor(
      async () => {
        const [row] = await db.select().from(emails).where(eq(emails.id, copy.body.email_id));
        return row?.status === "sent" ? row : undefined;
      },
      { what: "the copy to be sent" },
    );
    assert.equal(sent.subject, welcome.subject);
    assert.equal(sent.textBody, welcome.textBody);

    const other = await t.signUp();
    const foreign = await admin("POST", `/api/admin/users/${other.userId}/resend-email/`, {
      body: { email_id: welcome.id },
    });
    assert.equal(foreign.status, 404, "another user's email is not theirs to resend");
  });
});

describe("staff commands", () => {
  test("users:grant-staff opens the admin API to a user; users:revoke-staff closes it", async () => {
    const user = await t.signUp();
    const asUser = () => admin("GET", "/api/admin/overview/", { token: user.token });
    assert.equal((await asUser()).status, 403);
    const granted = await command("users:grant-staff", { email: user.email.toUpperCase() });
    assert.equal(granted.code, 0, granted.out);
    assert.match(granted.out, /is now staff/);
    assert.equal((await asUser()).status, 200);
    const revoked = await command("users:revoke-staff", { email: user.email });
    assert.equal(revoked.code, 0, revoked.out);
    assert.equal((await asUser()).status, 403);
    await assert.rejects(command("users:grant-staff", { email: "ghost@example.com" }), /No user/);
  });
});

describe("overview", () => {
  test("MRR and counts computed now, with the recent failures", async () => {
    const plan = await t.plan({ amount: 4200, currency: "eur" });
    const buyer = await t.signUp();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    const res = await admin("GET", "/api/admin/overview/");
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const eur = res.body.metrics.mrr.find((m: { currency: string }) => m.currency === "eur");
    assert.ok(eur, "MRR in EUR");
    assert.ok(Number(eur.amount) >= 42);
    assert.ok(
      res.body.metrics.subscriptions.some(
        (s: { plan: string; status: string }) => s.plan === plan.name && s.status === "active",
      ),
    );
    assert.equal(res.body.metrics.window_days, 30);
    const { failures } = res.body;
    assert.equal(typeof failures.failed_payments, "number");
    assert.deepEqual(Object.keys(failures.webhook_events).sort(), [
      "failed",
      "pending",
      "retrying",
    ]);
    assert.ok(Array.isArray(failures.dead_jobs));
  });

  test("a declined renewal shows as a failed payment", async () => {
    const before = (await admin("GET", "/api/admin/overview/")).body.failures.failed_payments;
    const buyer = await t.signUp();
    const created = await t.subscribe(buyer, (await t.plan()).id);
    const subId = created.body.subscription.stripe_subscription_id;
    // The customer's card starts failing: the renewal is declined.
    const [customer] = (await t.stripe.customers.list({ email: buyer.email })).data;
    const failing = await t.stripe.paymentMethods.attach("pm_card_chargeCustomerFail", {
      customer: customer?.id ?? "",
    });
    await t.stripe.subscriptions.update(subId, { default_payment_method: failing.id });
    await t.advance(31 * DAY + 2 * 3600);
    const after = (await admin("GET", "/api/admin/overview/")).body.failures.failed_payments;
    assert.equal(after, before + 1);
  });
});
