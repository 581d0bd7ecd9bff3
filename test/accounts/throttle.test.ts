import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import type { TestApp } from "../helpers/app.ts";
import { PASSWORD, registerUser, startAccountsApp, uniqueName } from "./helpers.ts";

const REDIS_URL = process.env.REDIS_URL;

function login(t: TestApp, email: string, password = "Wrong-Guess-1") {
  return t.app.inject({ method: "POST", url: "/api/auth/login/", payload: { email, password } });
}

function assertThrottled(res: Awaited<ReturnType<typeof login>>): void {
  assert.equal(res.statusCode, 429);
  const retryAfter = Number(res.headers["retry-after"]);
  assert.ok(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${res.headers["retry-after"]}`);
  assert.deepEqual(res.json(), {
    detail: `Request was throttled. Expected available in ${retryAfter} seconds.`,
  });
}

describe("throttling (memory counters)", () => {
  let t: TestApp;
  before(async () => {
    t = await startAccountsApp({
      env: {
        THROTTLE_LOGIN_ACCOUNT: "3/min",
        THROTTLE_LOGIN_IP: "8/min",
        THROTTLE_REFRESH_ACCOUNT: "2/min",
      },
    });
  });
  after(() => t.close());

  test("password guessing on one account is stopped with 429 and Retry-After", async () => {
    const u = await registerUser(t.app);
    for (let i = 0; i < 3; i++) assert.equal((await login(t, u.email)).statusCode, 400);
    // Even the right password is refused now: the guesser cannot tell.
    assertThrottled(await login(t, u.email.toUpperCase(), PASSWORD));
  });

  test("per IP: many accounts from one client are stopped too", async () => {
    // 4 attempts from this client were counted above; 4 more reach the IP limit of 8.
    for (let i = 0; i < 4; i++) {
      assert.equal((await login(t, `${uniqueName()}@example.com`)).statusCode, 400);
    }
    assertThrottled(await login(t, `${uniqueName()}@example.com`));
  });

  test("token refresh is limited per account", async () => {
    const u = await registerUser(t.app);
    let token = u.refresh;
    for (let i = 0; i < 2; i++) {
      const res = await t.app.inject({
        method: "POST",
        url: "/api/auth/token/refresh/",
        payload: { refresh: token },
      });
      assert.equal(res.statusCode, 200);
      token = res.json().refresh;
    }
    assertThrottled(
      await t.app.inject({
        method: "POST",
        url: "/api/auth/token/refresh/",
        payload: { refresh: token },
      }),
    );
  });
});

describe("throttling shared through Redis", () => {
  test("two app instances share one account's counter", async (ctx) => {
    if (!REDIS_URL) {
      ctx.skip("REDIS_URL not set");
      return;
    }
    // High per-IP limits: only the per-account counter (a fresh random email) is under test.
    const env = { REDIS_URL, THROTTLE_LOGIN_ACCOUNT: "4/min", THROTTLE_LOGIN_IP: "10000/min" };
    const [a, b] = await Promise.all([startAccountsApp({ env }), startAccountsApp({ env })]);
    try {
      const email = `${uniqueName()}@example.com`;
      assert.equal((await login(a, email)).statusCode, 400);
      assert.equal((await login(b, email)).statusCode, 400);
      assert.equal((await login(a, email)).statusCode, 400);
      assert.equal((await login(b, email)).statusCode, 400);
      // The fifth attempt is refused by either instance: the counter lives in Redis.
      assertThrottled(await login(a, email));
      assertThrottled(await login(b, email));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
