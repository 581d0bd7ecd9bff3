import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { SignJWT } from "jose";
import { purgeExpiredTokensJob } from "../../src/accounts/accounts-jobs.ts";
import { setUserActive } from "../../src/accounts/accounts-service.ts";
import { refreshTokens, users } from "../../src/accounts/accounts-tables.ts";
import type { TestApp } from "../helpers/app.ts";
import { bearer, PASSWORD, registerUser, startAccountsApp } from "./helpers.ts";

let t: TestApp;
before(async () => {
  t = await startAccountsApp();
});
after(() => t.close());

const profile = (headers: Record<string, string>) =>
  t.app.inject({ url: "/api/auth/profile/", headers });
const refresh = (token: string) =>
  t.app.inject({ method: "POST", url: "/api/auth/token/refresh/", payload: { refresh: token } });

const INVALID_ACCESS = {
  detail: "Given token not valid for any token type",
  code: "token_not_valid",
};
const INVALID_REFRESH = { detail: "Token is invalid or expired", code: "token_not_valid" };

function b64(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

async function sign(claims: Record<string, unknown>, secret: string): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

function claimsOf(token: string): Record<string, unknown> {
  const payload = token.split(".")[1] ?? "";
  return JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
}

describe("tampered tokens are refused", () => {
  test("tokens carry simplejwt's claims with the configured lifetimes", async () => {
    const u = await registerUser(t.app);
    const access = claimsOf(u.access);
    const ref = claimsOf(u.refresh);
    assert.equal(access.token_type, "access");
    assert.equal(access.user_id, u.id);
    assert.equal(Number(access.exp) - Number(access.iat), 3600);
    assert.equal(ref.token_type, "refresh");
    assert.equal(Number(ref.exp) - Number(ref.iat), 7 * 86400);
    assert.ok(typeof access.jti === "string" && access.jti !== ref.jti);
  });

  test("alg: none", async () => {
    const u = await registerUser(t.app);
    const unsigned = `${b64({ alg: "none", typ: "JWT" })}.${b64(claimsOf(u.access))}.`;
    const res = await profile(bearer(unsigned));
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), INVALID_ACCESS);
    const unsignedRefresh = `${b64({ alg: "none", typ: "JWT" })}.${b64(claimsOf(u.refresh))}.`;
    assert.deepEqual((await refresh(unsignedRefresh)).json(), INVALID_REFRESH);
  });

  test("signed with another key", async () => {
    const u = await registerUser(t.app);
    const forged = await sign(claimsOf(u.access), "another-secret-key-that-is-long-enough");
    assert.deepEqual((await profile(bearer(forged))).json(), INVALID_ACCESS);
    const forgedRefresh = await sign(claimsOf(u.refresh), "another-secret-key-that-is-long-enough");
    assert.deepEqual((await refresh(forgedRefresh)).json(), INVALID_REFRESH);
  });

  test("expired", async () => {
    const u = await registerUser(t.app);
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = await sign(
      { ...claimsOf(u.access), iat: past, exp: past + 60 },
      t.config.SECRET_KEY,
    );
    assert.deepEqual((await profile(bearer(expired))).json(), INVALID_ACCESS);
    const expiredRefresh = await sign(
      { ...claimsOf(u.refresh), iat: past, exp: past + 60 },
      t.config.SECRET_KEY,
    );
    assert.deepEqual((await refresh(expiredRefresh)).json(), INVALID_REFRESH);
  });

  test("an access token used as refresh, and the reverse", async () => {
    const u = await registerUser(t.app);
    assert.deepEqual((await refresh(u.access)).json(), INVALID_REFRESH);
    const res = await profile(bearer(u.refresh));
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), INVALID_ACCESS);
  });

  test("a malformed Authorization header", async () => {
    const u = await registerUser(t.app);
    for (const header of ["Bearer", `Bearer ${u.access} extra`, "Bearer "]) {
      const res = await profile({ authorization: header });
      assert.equal(res.statusCode, 401, header);
      assert.equal(res.json().code, "token_not_valid");
    }
    const garbage = await profile(bearer("abc.def.ghi"));
    assert.deepEqual(garbage.json(), INVALID_ACCESS);
    // Another scheme is simply "no credentials", as in DRF.
    const basic = await profile({ authorization: `Basic ${u.access}` });
    assert.deepEqual(basic.json(), { detail: "Authentication credentials were not provided." });
  });
});

describe("refresh-token lifecycle", () => {
  test("every refresh rotates; the rotated token is refused", async () => {
    const u = await registerUser(t.app);
    const first = await refresh(u.refresh);
    assert.equal(first.statusCode, 200);
    const second = await refresh(first.json().refresh);
    assert.equal(second.statusCode, 200);
    const reused = await refresh(u.refresh);
    assert.equal(reused.statusCode, 401);
    assert.deepEqual(reused.json(), { detail: "Token is blacklisted", code: "token_not_valid" });
  });

  test("reusing a rotated token revokes the whole family", async () => {
    const u = await registerUser(t.app);
    const otherDevice = await t.app.inject({
      method: "POST",
      url: "/api/auth/login/",
      payload: { email: u.email, password: PASSWORD },
    });
    const rotated = (await refresh(u.refresh)).json().refresh;
    assert.equal((await refresh(u.refresh)).statusCode, 401, "the stolen copy is refused");
    // …and so is every token issued to the user, the thief's and the owner's alike.
    assert.deepEqual((await refresh(rotated)).json(), {
      detail: "Token is blacklisted",
      code: "token_not_valid",
    });
    assert.equal((await refresh(otherDevice.json().tokens.refresh)).statusCode, 401);
    const rows = await t.services.database.db
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.userId, u.id));
    assert.ok(rows.every((r) => r.revokedAt !== null));
    assert.ok(rows.some((r) => r.revokedReason === "reuse_detected"));
  });

  test("two concurrent refreshes of one token: at most one succeeds", async () => {
    const u = await registerUser(t.app);
    const results = await Promise.all([refresh(u.refresh), refresh(u.refresh)]);
    const codes = results.map((r) => r.statusCode).sort();
    assert.equal(codes.filter((c) => c === 200).length <= 1, true, String(codes));
    assert.ok(codes.includes(401));
  });

  test("change-password revokes every refresh token; the returned pair works", async () => {
    const u = await registerUser(t.app);
    const login = await t.app.inject({
      method: "POST",
      url: "/api/auth/login/",
      payload: { email: u.email, password: PASSWORD },
    });
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/change-password/",
      headers: bearer(u.access),
      payload: {
        old_password: PASSWORD,
        new_password: "Brand-New-Secret-42",
        new_password_confirm: "Brand-New-Secret-42",
      },
    });
    assert.equal(res.statusCode, 200);
    for (const old of [u.refresh, login.json().tokens.refresh]) {
      assert.equal((await refresh(old)).statusCode, 401);
    }
    assert.equal((await refresh(res.json().tokens.refresh)).statusCode, 200);
  });

  test("a deactivated user is locked out at once: access and refresh", async () => {
    const u = await registerUser(t.app);
    assert.equal((await profile(bearer(u.access))).statusCode, 200);
    await setUserActive(t.services.database.db, u.id, false);
    const res = await profile(bearer(u.access));
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { detail: "User is inactive", code: "token_not_valid" });
    // Deactivation also blacklisted the refresh token.
    const again = await refresh(u.refresh);
    assert.equal(again.statusCode, 401);
    assert.deepEqual(again.json(), { detail: "Token is blacklisted", code: "token_not_valid" });
  });

  test("a deactivated user (flag flipped directly) cannot refresh either", async () => {
    const u = await registerUser(t.app);
    await t.services.database.db.update(users).set({ isActive: false }).where(eq(users.id, u.id));
    assert.deepEqual((await refresh(u.refresh)).json(), INVALID_REFRESH);
  });

  test("a deleted user's tokens stop working", async () => {
    const u = await registerUser(t.app);
    await t.services.database.db.delete(users).where(eq(users.id, u.id));
    const res = await profile(bearer(u.access));
    assert.deepEqual(res.json(), { detail: "User not found", code: "token_not_valid" });
    assert.deepEqual((await refresh(u.refresh)).json(), INVALID_REFRESH);
  });

  test("the purge job deletes expired refresh-token rows only", async () => {
    const u = await registerUser(t.app);
    const { db } = t.services.database;
    const expiredJti = crypto.randomUUID();
    await db.insert(refreshTokens).values({
      jti: expiredJti,
      userId: u.id,
      expiresAt: new Date(Date.now() - 1000),
      revokedAt: new Date(Date.now() - 5000),
      revokedReason: "rotated",
    });
    await purgeExpiredTokensJob.handler({}, t.services, {
      id: "manual",
      retryCount: 0,
      lastAttempt: true,
    });
    const rows = await db.select().from(refreshTokens).where(eq(refreshTokens.userId, u.id));
    assert.equal(rows.length, 1, "the live token stays");
    assert.notEqual(rows[0]?.jti, expiredJti);
    const schedules = await t.services.jobs.boss.getSchedules(purgeExpiredTokensJob.name);
    assert.equal(schedules[0]?.cron, purgeExpiredTokensJob.schedule);
  });
});
