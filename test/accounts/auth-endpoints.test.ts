import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { users } from "../../src/accounts/accounts-tables.ts";
import type { TestApp } from "../helpers/app.ts";
import { bearer, PASSWORD, registerUser, startAccountsApp, uniqueName } from "./helpers.ts";

let t: TestApp;
before(async () => {
  t = await startAccountsApp();
});
after(() => t.close());

const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
  t.app.inject({ method: "POST", url, payload: payload as object, headers });

const USER_KEYS = [
  "created_at",
  "email",
  "email_verified",
  "first_name",
  "id",
  "last_name",
  "subscription_status",
  "username",
];

describe("POST /api/auth/register/", () => {
  test("201 with the user, a token pair and the original's message", async () => {
    const username = uniqueName();
    const res = await post("/api/auth/register/", {
      email: `${username}@Example.COM`,
      username,
      first_name: "Grace",
      password: PASSWORD,
      password_confirm: PASSWORD,
      is_staff: true,
      unknown: "ignored",
    });
    assert.equal(res.statusCode, 201);
    const body = res.json();
    assert.equal(body.message, "Registration successful.");
    assert.deepEqual(Object.keys(body.user).sort(), USER_KEYS);
    assert.equal(body.user.email, `${username}@Example.COM`, "stored as given");
    assert.equal(body.user.subscription_status, "inactive");
    assert.equal(body.user.last_name, "");
    assert.match(body.user.created_at, /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.equal(typeof body.tokens.access, "string");
    assert.equal(typeof body.tokens.refresh, "string");
    const [row] = await t.services.database.db
      .select()
      .from(users)
      .where(eq(users.id, body.user.id));
    assert.equal(row?.isStaff, false, "extra fields are ignored");
    assert.match(row?.passwordHash ?? "", /^\$argon2id\$/);
  });

  test("the same trailing-slash-less path works too", async () => {
    const username = uniqueName();
    const res = await post("/api/auth/register", {
      email: `${username}@example.com`,
      username,
      password: PASSWORD,
      password_confirm: PASSWORD,
    });
    assert.equal(res.statusCode, 201);
  });

  test("duplicate email (any case) and username are 400 per field", async () => {
    const first = await registerUser(t.app);
    const res = await post("/api/auth/register/", {
      email: first.email.toUpperCase(),
      username: first.username,
      password: PASSWORD,
      password_confirm: PASSWORD,
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      email: ["user with this email already exists."],
      username: ["A user with that username already exists."],
    });
  });

  test("password rules are the original's four validators", async () => {
    const username = uniqueName();
    const attempt = (password: string, email = `${username}@example.com`) =>
      post("/api/auth/register/", { email, username, password, password_confirm: password });
    const short = await attempt("1234567");
    assert.equal(short.statusCode, 400);
    assert.deepEqual(short.json(), {
      password: [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
        "This password is entirely numeric.",
      ],
    });
    assert.deepEqual((await attempt("password")).json(), {
      password: ["This password is too common."],
    });
    assert.deepEqual((await attempt("9384720193847")).json(), {
      password: ["This password is entirely numeric."],
    });
    assert.deepEqual((await attempt("margaret.h@ex.org", "margaret.h@ex.org")).json(), {
      password: ["The password is too similar to the email."],
    });
    const long = await attempt(`Aa1!${"x".repeat(125)}`);
    assert.deepEqual(long.json(), {
      password: ["Ensure this field has no more than 128 characters."],
      password_confirm: ["Ensure this field has no more than 128 characters."],
    });
  });

  test("mismatched confirmation", async () => {
    const username = uniqueName();
    const res = await post("/api/auth/register/", {
      email: `${username}@example.com`,
      username,
      password: PASSWORD,
      password_confirm: `${PASSWORD}x`,
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { password_confirm: ["Passwords do not match."] });
  });

  test("missing fields, wrong types and bad formats are 400 per field", async () => {
    const res = await post("/api/auth/register/", { email: "not-an-email", username: 5 });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      email: ["Enter a valid email address."],
      username: ["Not a valid string."],
      password: ["This field is required."],
      password_confirm: ["This field is required."],
    });
    const bad = await post("/api/auth/register/", {
      email: `${uniqueName()}@example.com`,
      username: "has space",
      password: PASSWORD,
      password_confirm: PASSWORD,
    });
    assert.deepEqual(bad.json(), {
      username: [
        "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
      ],
    });
  });
});

describe("POST /api/auth/login/", () => {
  test("200 with user and tokens; email is case-insensitive; last_login is set", async () => {
    const u = await registerUser(t.app);
    const res = await post("/api/auth/login/", {
      email: u.email.toLowerCase(),
      password: PASSWORD,
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.message, "Login successful.");
    assert.equal(body.user.id, u.id);
    assert.deepEqual(Object.keys(body.user).sort(), USER_KEYS);
    assert.ok(body.tokens.access && body.tokens.refresh);
    const [row] = await t.services.database.db.select().from(users).where(eq(users.id, u.id));
    assert.ok(row?.lastLogin instanceof Date);
  });

  test("a wrong password and an unknown email get the same answer", async () => {
    const u = await registerUser(t.app);
    const wrong = await post("/api/auth/login/", { email: u.email, password: "Wrong-Pass-99" });
    const unknown = await post("/api/auth/login/", {
      email: `${uniqueName()}@example.com`,
      password: PASSWORD,
    });
    for (const res of [wrong, unknown]) {
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { non_field_errors: ["Invalid email or password."] });
    }
  });

  test("a deactivated account is told so (only with the right password)", async () => {
    const u = await registerUser(t.app);
    await t.services.database.db.update(users).set({ isActive: false }).where(eq(users.id, u.id));
    const res = await post("/api/auth/login/", { email: u.email, password: PASSWORD });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { non_field_errors: ["This account has been deactivated."] });
    const guess = await post("/api/auth/login/", { email: u.email, password: "Wrong-Pass-99" });
    assert.deepEqual(guess.json(), { non_field_errors: ["Invalid email or password."] });
  });

  test("missing fields are 400 per field", async () => {
    const res = await post("/api/auth/login/", { password: 1 });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      email: ["This field is required."],
      password: ["Not a valid string."],
    });
  });
});

describe("POST /api/auth/logout/", () => {
  test("200 and the refresh token is blacklisted", async () => {
    const u = await registerUser(t.app);
    const res = await post("/api/auth/logout/", { refresh: u.refresh }, bearer(u.access));
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { message: "Logout successful." });
    const again = await post("/api/auth/token/refresh/", { refresh: u.refresh });
    assert.equal(again.statusCode, 401);
    assert.deepEqual(again.json(), { detail: "Token is blacklisted", code: "token_not_valid" });
  });

  test("without a refresh token: 400 refresh token is required.", async () => {
    const u = await registerUser(t.app);
    for (const payload of [{}, { refresh: "" }]) {
      const res = await post("/api/auth/logout/", payload, bearer(u.access));
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: "refresh token is required." });
    }
  });

  test("a bad, already used, or someone else's token: 400 Invalid or expired token.", async () => {
    const u = await registerUser(t.app);
    const other = await registerUser(t.app);
    for (const refresh of ["garbage", u.access, other.refresh]) {
      const res = await post("/api/auth/logout/", { refresh }, bearer(u.access));
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), { error: "Invalid or expired token." });
    }
    assert.equal(
      (await post("/api/auth/logout/", { refresh: u.refresh }, bearer(u.access))).statusCode,
      200,
    );
    const twice = await post("/api/auth/logout/", { refresh: u.refresh }, bearer(u.access));
    assert.deepEqual(twice.json(), { error: "Invalid or expired token." });
    // The other user's session was not touched.
    const stillThere = await post("/api/auth/token/refresh/", { refresh: other.refresh });
    assert.equal(stillThere.statusCode, 200);
  });

  test("requires authentication", async () => {
    const res = await post("/api/auth/logout/", { refresh: "x" });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { detail: "Authentication credentials were not provided." });
  });
});

describe("POST /api/auth/token/refresh/", () => {
  test("200 with a new access and a new refresh token", async () => {
    const u = await registerUser(t.app);
    const res = await post("/api/auth/token/refresh/", { refresh: u.refresh });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), ["access", "refresh"]);
    assert.notEqual(body.refresh, u.refresh);
    const profile = await t.app.inject({ url: "/api/auth/profile/", headers: bearer(body.access) });
    assert.equal(profile.statusCode, 200);
  });

  test("401 token_not_valid for garbage; 400 when the field is missing", async () => {
    const res = await post("/api/auth/token/refresh/", { refresh: "not.a.token" });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), {
      detail: "Token is invalid or expired",
      code: "token_not_valid",
    });
    const missing = await post("/api/auth/token/refresh/", {});
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(missing.json(), { refresh: ["This field is required."] });
  });
});

describe("/api/auth/profile/", () => {
  test("GET returns the user", async () => {
    const u = await registerUser(t.app);
    const res = await t.app.inject({ url: "/api/auth/profile/", headers: bearer(u.access) });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.deepEqual(Object.keys(body).sort(), USER_KEYS);
    assert.equal(body.id, u.id);
    assert.equal(body.username, u.username);
    assert.equal(body.first_name, "Ada");
  });

  test("GET without credentials is 401", async () => {
    const res = await t.app.inject({ url: "/api/auth/profile/" });
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { detail: "Authentication credentials were not provided." });
  });

  test("PATCH changes names; email, id and status are read-only", async () => {
    const u = await registerUser(t.app);
    const res = await t.app.inject({
      method: "PATCH",
      url: "/api/auth/profile/",
      headers: bearer(u.access),
      payload: {
        last_name: "Byron",
        email: "hacker@example.com",
        id: "00000000-0000-4000-8000-000000000000",
        subscription_status: "active",
      },
    });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.last_name, "Byron");
    assert.equal(body.first_name, "Ada");
    assert.equal(body.email, u.email);
    assert.equal(body.id, u.id);
    assert.equal(body.subscription_status, "inactive");
  });

  test("PUT requires username; a taken username is 400", async () => {
    const u = await registerUser(t.app);
    const other = await registerUser(t.app);
    const put = (payload: object) =>
      t.app.inject({
        method: "PUT",
        url: "/api/auth/profile/",
        headers: bearer(u.access),
        payload,
      });
    const missing = await put({ first_name: "X" });
    assert.equal(missing.statusCode, 400);
    assert.deepEqual(missing.json(), { username: ["This field is required."] });
    const taken = await put({ username: other.username });
    assert.deepEqual(taken.json(), { username: ["A user with that username already exists."] });
    const blank = await put({ username: "" });
    assert.deepEqual(blank.json(), { username: ["This field may not be blank."] });
    const newName = uniqueName("renamed");
    const ok = await put({ username: newName, first_name: "Augusta" });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().username, newName);
    assert.equal(ok.json().first_name, "Augusta");
  });

  test("PATCH with a wrong type is 400 per field", async () => {
    const u = await registerUser(t.app);
    const res = await t.app.inject({
      method: "PATCH",
      url: "/api/auth/profile/",
      headers: bearer(u.access),
      payload: { first_name: ["x"] },
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { first_name: ["Not a valid string."] });
  });
});

describe("POST /api/auth/change-password/", () => {
  const change = (access: string, payload: object) =>
    post("/api/auth/change-password/", payload, bearer(access));

  test("200 with the message (and a fresh pair); the new password logs in", async () => {
    const u = await registerUser(t.app);
    const res = await change(u.access, {
      old_password: PASSWORD,
      new_password: "Brand-New-Secret-42",
      new_password_confirm: "Brand-New-Secret-42",
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().message, "Password changed successfully.");
    assert.ok(res.json().tokens.refresh);
    const oldLogin = await post("/api/auth/login/", { email: u.email, password: PASSWORD });
    assert.equal(oldLogin.statusCode, 400);
    const newLogin = await post("/api/auth/login/", {
      email: u.email,
      password: "Brand-New-Secret-42",
    });
    assert.equal(newLogin.statusCode, 200);
  });

  test("a wrong current password, password rules and a mismatch are 400", async () => {
    const u = await registerUser(t.app);
    const wrong = await change(u.access, {
      old_password: "Not-It-123",
      new_password: "Brand-New-Secret-42",
      new_password_confirm: "Brand-New-Secret-42",
    });
    assert.equal(wrong.statusCode, 400);
    assert.deepEqual(wrong.json(), { old_password: ["Current password is incorrect."] });
    const weak = await change(u.access, {
      old_password: PASSWORD,
      new_password: "qwerty",
      new_password_confirm: "qwerty",
    });
    assert.deepEqual(weak.json(), {
      new_password: [
        "This password is too short. It must contain at least 8 characters.",
        "This password is too common.",
      ],
    });
    const mismatch = await change(u.access, {
      old_password: PASSWORD,
      new_password: "Brand-New-Secret-42",
      new_password_confirm: "Brand-New-Secret-43",
    });
    assert.deepEqual(mismatch.json(), { new_password_confirm: ["Passwords do not match."] });
  });

  test("requires authentication", async () => {
    const res = await post("/api/auth/change-password/", {});
    assert.equal(res.statusCode, 401);
  });
});
