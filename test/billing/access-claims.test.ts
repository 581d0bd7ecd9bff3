import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { billingCommands } from "../../src/billing/billing-cli.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { type BillingTestApp, type Customer, startBillingApp } from "../helpers/billing.ts";
import { runCommand } from "../helpers/commands.ts";

const PASSWORD = "correct-Horse-battery-9";

/** A JWT's payload, as any service holding it reads it. */
function payloadOf(token: string): Record<string, unknown> {
  const [, payload] = token.split(".");
  return JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8"));
}

describe("ACCESS_CLAIMS=on", () => {
  let t: BillingTestApp;
  before(async () => {
    t = await startBillingApp({ env: { ACCESS_CLAIMS: "on" } });
  });
  after(() => t?.close());

  const login = async (c: Customer) => {
    const res = await t.http("POST", "/api/auth/login/", {
      body: { email: c.email, password: PASSWORD },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.tokens as { access: string; refresh: string };
  };
  const refresh = async (token: string) => {
    const res = await t.http("POST", "/api/auth/token/refresh/", { body: { refresh: token } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body as { access: string; refresh: string };
  };

  test("a user without a subscription is told so in the token", async () => {
    const buyer = await t.signUp();
    assert.deepEqual(payloadOf(buyer.token).entitlements, { allowed: false, features: {} });
  });

  test("login and refresh sign the plan's entitlements; a token keeps what it was signed with", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 1900 });
    const set = (json: string) =>
      runCommand(t, billingCommands, "plans:set", [plan.id, "--entitlements", json]);
    assert.equal((await set('{"projects": 10, "api_access": true}')).code, 0);
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    await t.settle();

    const first = await login(buyer);
    const granted = { allowed: true, features: { projects: 10, api_access: true } };
    assert.deepEqual(payloadOf(first.access).entitlements, granted);
    // The same answer as the access route, at signing time.
    const route = await t.http("GET", "/api/subscriptions/access/", { token: first.access });
    assert.deepEqual(route.body.entitlements, granted.features);
    // Only the access token carries it.
    assert.equal(payloadOf(first.refresh).entitlements, undefined);

    // The plan changes: a refreshed token says so; the one signed before still says what it said
    // (its staleness is bounded by ACCESS_TOKEN_LIFETIME).
    assert.equal((await set('{"projects": 3}')).code, 0);
    const next = await refresh(first.refresh);
    assert.deepEqual(payloadOf(next.access).entitlements, {
      allowed: true,
      features: { projects: 3 },
    });
    assert.deepEqual(payloadOf(first.access).entitlements, granted);

    // Canceled now: the next token is refused access, and names nothing granted.
    const [sub] = await t.subscriptionsOf(buyer.userId);
    assert.ok(sub);
    await t.stripe.subscriptions.cancel(sub.stripeSubscriptionId);
    await t.settle();
    const after = await refresh(next.refresh);
    assert.deepEqual(payloadOf(after.access).entitlements, { allowed: false, features: {} });
  });
});

describe("ACCESS_CLAIMS off (the default)", () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({
      env: { PASSWORD_HASH_MEMORY_KIB: "1024", PASSWORD_HASH_ITERATIONS: "1" },
    });
  });
  after(() => t?.close());

  test("access tokens carry exactly simplejwt's claims and the session", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/register/",
      payload: {
        email: "claims-off@example.com",
        username: "claims_off",
        password: PASSWORD,
        password_confirm: PASSWORD,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const { access, refresh } = res.json().tokens;
    // Key order included: the token's bytes are what they were before the setting existed.
    assert.deepEqual(Object.keys(payloadOf(access)), [
      "token_type",
      "user_id",
      "jti",
      "iat",
      "exp",
      "sid",
    ]);
    assert.deepEqual(Object.keys(payloadOf(refresh)), Object.keys(payloadOf(access)));
  });
});
