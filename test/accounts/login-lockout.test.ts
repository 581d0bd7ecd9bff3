import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TestApp } from "../helpers/app.ts";
import { PASSWORD, registerUser, startAccountsApp, uniqueName } from "./helpers.ts";

const REDIS_URL = process.env.REDIS_URL;

// Per-IP limits out of the way: only the per-account rules are under test. Clients differ by the
// connection's address (no proxy is trusted in tests, so that is `request.ip`).
const ENV = {
  THROTTLE_LOGIN_IP: "10000/min",
  THROTTLE_LOGIN_ACCOUNT: "3/min",
  THROTTLE_LOGIN_ACCOUNT_TOTAL: "5/hour",
};

function login(t: TestApp, from: string, email: string, password = "Wrong-Guess-1") {
  return t.app.inject({
    method: "POST",
    url: "/api/auth/login/",
    remoteAddress: from,
    payload: { email, password },
  });
}

async function status(t: TestApp, from: string, email: string, password?: string) {
  return (await login(t, from, email, password)).statusCode;
}

/** A fresh address for each test, so tests sharing a Redis or an app never share a client. */
function address(): string {
  const b = () => Math.floor(Math.random() * 250) + 1;
  return `10.${b()}.${b()}.${b()}`;
}

function lockoutTests(env: () => Record<string, string>) {
  let t: TestApp;
  before(async () => {
    t = await startAccountsApp({ env: env() });
  });
  after(() => t.close());

  test("the owner signs in from their own client while another hammers their email", async () => {
    const victim = await registerUser(t.app);
    const attacker = address();
    for (let i = 0; i < 3; i++) assert.equal(await status(t, attacker, victim.email), 400);
    // The attacker's client is stopped, even when it finally sends the right password...
    const refused = await login(t, attacker, victim.email, PASSWORD);
    assert.equal(refused.statusCode, 429);
    assert.ok(Number(refused.headers["retry-after"]) <= 60);
    // ...and the owner, from a client that has not been failing, is not.
    assert.equal(await status(t, address(), victim.email.toUpperCase(), PASSWORD), 200);
  });

  test("successful logins are not counted against the account", async () => {
    const u = await registerUser(t.app);
    const home = address();
    for (let i = 0; i < 5; i++) assert.equal(await status(t, home, u.email, PASSWORD), 200);
  });

  test("past the account-wide total, failing clients are refused and clean ones still sign in", async () => {
    const victim = await registerUser(t.app);
    const [a, b, c, owner] = [address(), address(), address(), address()];
    // Five failures from three addresses reach the account-wide total (5/hour).
    for (let i = 0; i < 2; i++) assert.equal(await status(t, a, victim.email), 400);
    for (let i = 0; i < 2; i++) assert.equal(await status(t, b, victim.email), 400);
    assert.equal(await status(t, c, victim.email), 400);
    // Each of them is below its own limit (3/min) but has failed: refused, right password or not.
    assert.equal(await status(t, a, victim.email), 429);
    assert.equal(await status(t, c, victim.email, PASSWORD), 429);
    // A new guesser gets one try, then is refused.
    const d = address();
    assert.equal(await status(t, d, victim.email), 400);
    assert.equal(await status(t, d, victim.email), 429);
    // The owner has not been failing: signed in.
    assert.equal(await status(t, owner, victim.email, PASSWORD), 200);
  });

  test("an IPv6 client is its /64: rotating addresses within it does not reset the count", async () => {
    const victim = await registerUser(t.app);
    const prefix = `2001:db8:${Math.floor(Math.random() * 0xffff).toString(16)}:1`;
    for (const host of ["::1", "::2", ":0:0:0:3"]) {
      assert.equal(await status(t, `${prefix}${host}`, victim.email), 400);
    }
    assert.equal(await status(t, `${prefix}::4`, victim.email, PASSWORD), 429);
    assert.equal(await status(t, "2001:db8:ffff:2::1", victim.email, PASSWORD), 200);
  });

  test("an unknown email is throttled like a real one", async () => {
    const email = `${uniqueName()}@example.com`;
    const guesser = address();
    for (let i = 0; i < 3; i++) assert.equal(await status(t, guesser, email), 400);
    assert.equal(await status(t, guesser, email), 429);
  });
}

describe("login lockout (memory counters)", () => {
  lockoutTests(() => ENV);
});

describe("login lockout (counters in Redis)", { skip: !REDIS_URL && "REDIS_URL not set" }, () => {
  lockoutTests(() => ({ ...ENV, REDIS_URL: REDIS_URL ?? "" }));
});
