import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { billingCommands } from "../../src/billing/billing-cli.ts";
import { type BillingTestApp, DAY, startBillingApp } from "../helpers/billing.ts";
import { runCommand, switchCard } from "../helpers/commands.ts";

const SERVICE_TOKEN = randomBytes(32).toString("hex");
const OTHER_SERVICE_TOKEN = randomBytes(32).toString("hex");

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp({ env: { SERVICE_TOKENS: `${OTHER_SERVICE_TOKEN},${SERVICE_TOKEN}` } });
});
after(() => t?.close());

const cli = (name: string, args: string[]) => runCommand(t, billingCommands, name, args);

async function listedPlan(token: string, id: string) {
  const res = await t.http("GET", "/api/subscriptions/plans/?page=1", { token });
  const all = [res.body.results];
  for (let page = 2; res.body.count > 20 * (page - 1); page++) {
    all.push(
      (await t.http("GET", `/api/subscriptions/plans/?page=${page}`, { token })).body.results,
    );
  }
  return all.flat().find((p: { id: string }) => p.id === id);
}

/** A plan granting 10 projects and API access, set as an operator would. */
async function planWithEntitlements() {
  const plan = await t.plan({ amount: 1900 });
  const set = await cli("plans:set", [
    plan.id,
    "--entitlements",
    '{"projects": 10, "api_access": true, "sso": false}',
  ]);
  assert.equal(set.code, 0, set.out);
  return plan;
}

const access = (token: string, query = "") =>
  t.http("GET", `/api/subscriptions/access/${query}`, { token });

describe("entitlements on plans", () => {
  test("plans:set writes them to the price's metadata and the plan; the plans list shows them", async () => {
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    const price = await t.stripe.prices.retrieve(plan.stripe_price_id);
    assert.equal(price.metadata.entitlements, '{"api_access":true,"projects":10,"sso":false}');
    // Trial and seat settings are untouched.
    assert.equal(price.metadata.trial_days, "0");
    const listed = await listedPlan(buyer.token, plan.id);
    assert.deepEqual(listed.entitlements, { api_access: true, projects: 10, sso: false });
    assert.deepEqual({ ...listed, entitlements: {} }, plan);
    const shown = (await cli("plans:list", [])).out.split("\n").find((l) => l.startsWith(plan.id));
    assert.match(shown ?? "", /\t\{"api_access":true,"projects":10,"sso":false\}$/);
    // '{}' takes them all away, and deletes the metadata key.
    assert.equal((await cli("plans:set", [plan.id, "--entitlements", "{}"])).code, 0);
    assert.equal(
      (await t.stripe.prices.retrieve(plan.stripe_price_id)).metadata.entitlements,
      undefined,
    );
    assert.deepEqual((await listedPlan(buyer.token, plan.id)).entitlements, {});
  });

  test("bad entitlements are a usage error that changes nothing", async () => {
    const plan = await planWithEntitlements();
    for (const bad of [
      '{"projects": "10"}',
      '{"projects": 1.5}',
      '{"projects": -1}',
      "[1]",
      "nope",
      '{"Projects": 1}',
      "",
    ]) {
      const res = await cli("plans:set", [plan.id, "--entitlements", bad]);
      assert.equal(res.code, 2, bad);
      assert.match(res.out, /^Error: .*entitlements/, bad);
    }
    const tooLong = JSON.stringify(
      Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`feature_${i}`, 1000])),
    );
    assert.match((await cli("plans:set", [plan.id, "--entitlements", tooLong])).out, /500/);
    const price = await t.stripe.prices.retrieve(plan.stripe_price_id);
    assert.equal(price.metadata.entitlements, '{"api_access":true,"projects":10,"sso":false}');
  });

  test("plans:create takes them; plans:sync mirrors the dashboard's and skips unreadable ones", async () => {
    const product = await t.stripe.products.create({
      name: `Ent ${randomBytes(3).toString("hex")}`,
    });
    const price = await t.stripe.prices.create({
      product: product.id,
      unit_amount: 4200,
      currency: "usd",
      recurring: { interval: "month" },
    });
    const created = await cli("plans:create", [
      "--name",
      product.name,
      "--price",
      price.id,
      "--entitlements",
      '{"seats_included": 5}',
    ]);
    assert.equal(created.code, 0, created.out);
    assert.match(created.out, /\t\{"seats_included":5\}$/);
    // Edited in the dashboard, then synced.
    await t.stripe.prices.update(price.id, { metadata: { entitlements: '{"seats_included": 8}' } });
    const other = await t.stripe.prices.create({
      product: product.id,
      unit_amount: 42000,
      currency: "usd",
      recurring: { interval: "year" },
      metadata: { entitlements: "{projects: 3}" },
    });
    const synced = await cli("plans:sync", []);
    assert.equal(synced.code, 1);
    assert.match(synced.out, new RegExp(`${price.id}\\t-\\t\\{"seats_included":8\\}`));
    assert.match(synced.out, new RegExp(`skipped ${other.id}: entitlements must be a JSON object`));
  });
});

describe("the access route", () => {
  test("no subscription: refused, no plan, nothing granted", async () => {
    const buyer = await t.signUp();
    const res = await access(buyer.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      allowed: false,
      reason: "no_subscription",
      until: null,
      plan: null,
      entitlements: {},
    });
    assert.equal((await t.http("GET", "/api/subscriptions/access/")).status, 401);
  });

  test("an active subscription is allowed with its plan's entitlements; ?feature= answers one", async () => {
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    const res = await access(buyer.token);
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, {
      allowed: true,
      reason: "active",
      until: null,
      plan: { ...plan, entitlements: { api_access: true, projects: 10, sso: false } },
      entitlements: { api_access: true, projects: 10, sso: false },
    });
    const projects = await access(buyer.token, "?feature=projects");
    assert.deepEqual(
      [projects.body.allowed, projects.body.reason, projects.body.feature, projects.body.value],
      [true, "active", "projects", 10],
    );
    for (const [feature, value] of [
      ["sso", false],
      ["storage", null],
    ] as const) {
      const res = await access(buyer.token, `?feature=${feature}`);
      assert.deepEqual(
        [res.body.allowed, res.body.reason, res.body.until, res.body.value],
        [false, "feature_not_included", null, value],
        feature,
      );
    }
    const bad = await access(buyer.token, "?feature=Not-A-Name");
    assert.equal(bad.status, 400);
    assert.ok(bad.body.feature);
  });

  test("a cancellation at period end keeps access until then; an immediate one ends it", async () => {
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    const sub = (await t.subscribe(buyer, plan.id)).body.subscription;
    await t.http("POST", "/api/subscriptions/cancel/", { token: buyer.token, body: {} });
    await t.settle();
    const canceling = await access(buyer.token, "?feature=api_access");
    assert.deepEqual(
      [canceling.body.allowed, canceling.body.reason, canceling.body.until, canceling.body.value],
      [true, "canceling", sub.current_period_end, true],
    );
    await t.http("POST", "/api/subscriptions/cancel/", {
      token: buyer.token,
      body: { cancel_immediately: true },
    });
    await t.settle();
    const ended = await access(buyer.token, "?feature=api_access");
    assert.deepEqual(
      [ended.body.allowed, ended.body.reason, ended.body.entitlements, ended.body.value],
      [false, "canceled", {}, null],
    );
    assert.equal(ended.body.plan.id, plan.id);
  });

  test("a first payment awaiting 3-D Secure is refused (GRACE_INCOMPLETE 0)", async () => {
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    const res = await t.subscribe(buyer, plan.id, "pm_card_authenticationRequired");
    assert.equal(res.body.subscription.status, "incomplete");
    const answer = await access(buyer.token);
    assert.deepEqual(
      [answer.body.allowed, answer.body.reason, answer.body.until],
      [false, "payment_incomplete", null],
    );
  });
});

describe("the internal access route", () => {
  const internal = (userId: string, authorization?: string) =>
    fetch(`${t.url}/api/internal/access/${userId}/`, {
      headers: authorization ? { authorization } : {},
    }).then(async (res) => ({
      status: res.status,
      body: (await res.json()) as Record<string, unknown>,
    }));

  test("a service token gets the user's own answer", async () => {
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    await t.subscribe(buyer, plan.id);
    const own = await access(buyer.token, "?feature=projects");
    for (const token of [SERVICE_TOKEN, OTHER_SERVICE_TOKEN]) {
      const res = await fetch(`${t.url}/api/internal/access/${buyer.userId}/?feature=projects`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), own.body);
    }
  });

  test("no token, a wrong one or a user's JWT is a 401; an unknown user a 404", async () => {
    const buyer = await t.signUp();
    assert.deepEqual(await internal(buyer.userId), {
      status: 401,
      body: { detail: "Authentication credentials were not provided." },
    });
    for (const wrong of [
      `Bearer ${SERVICE_TOKEN.slice(0, -1)}`,
      `Bearer ${SERVICE_TOKEN}x`,
      `Bearer ${buyer.token}`,
      `Bearer ${SERVICE_TOKEN},${OTHER_SERVICE_TOKEN}`,
    ]) {
      const res = await internal(buyer.userId, wrong);
      assert.equal(res.status, 401, wrong);
      assert.equal(res.body.code, "token_not_valid");
    }
    assert.equal((await internal(buyer.userId, `Basic ${SERVICE_TOKEN}`)).status, 401);
    assert.deepEqual(await internal(randomUUID(), `Bearer ${SERVICE_TOKEN}`), {
      status: 404,
      body: { detail: "Not found." },
    });
    const notId = await internal("not-a-uuid", `Bearer ${SERVICE_TOKEN}`);
    assert.equal(notId.status, 400);
  });
});

describe("past_due grace (the emulator's clock)", () => {
  test("a failed renewal keeps access for GRACE_PAST_DUE from the first failure, retries or not", async () => {
    await t.resetStripe();
    const buyer = await t.signUp();
    const plan = await planWithEntitlements();
    const created = await t.subscribe(buyer, plan.id);
    const subId = created.body.subscription.stripe_subscription_id;
    await switchCard(t, buyer, subId, "pm_card_chargeCustomerFail");
    await t.advance(31 * DAY + 2 * 3600);
    const [firstFailure] = (await t.paymentsOf(buyer.userId)).filter((p) => p.status === "failed");
    assert.ok(firstFailure);
    const graceEnd = new Date(firstFailure.occurredAt.getTime() + 7 * DAY * 1000).toISOString();
    const pastDue = await access(buyer.token, "?feature=projects");
    assert.deepEqual(
      [pastDue.body.allowed, pastDue.body.reason, pastDue.body.until, pastDue.body.value],
      [true, "payment_past_due", graceEnd, 10],
    );
    // Stripe's retry fails too: the grace still counts from the first failure.
    await t.advance(4 * DAY);
    const failures = (await t.paymentsOf(buyer.userId)).filter((p) => p.status === "failed");
    assert.ok(failures.length >= 2, `retries: ${failures.length}`);
    const again = await access(buyer.token);
    assert.deepEqual([again.body.reason, again.body.until], ["payment_past_due", graceEnd]);
  });
});
