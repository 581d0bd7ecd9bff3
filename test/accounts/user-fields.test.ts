import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { createSuperuser } from "../../src/accounts/accounts-service.ts";
import { users } from "../../src/accounts/accounts-tables.ts";
import { emails } from "../../src/platform/email/email-tables.ts";
import type { TestApp } from "../helpers/app.ts";
import { bearer, PASSWORD, registerUser, startAccountsApp, uniqueName } from "./helpers.ts";

let t: TestApp;
before(async () => {
  t = await startAccountsApp();
});
after(() => t.close());

const CONTROL = "Enter a single line of text without control characters.";
const TAKEN = "A user with that username already exists.";

function register(fields: Record<string, string>) {
  const username = uniqueName();
  return t.app.inject({
    method: "POST",
    url: "/api/auth/register/",
    payload: {
      email: `${username}@example.com`,
      username,
      password: PASSWORD,
      password_confirm: PASSWORD,
      ...fields,
    },
  });
}

function patchProfile(access: string, payload: Record<string, string>) {
  return t.app.inject({
    method: "PATCH",
    url: "/api/auth/profile/",
    headers: bearer(access),
    payload,
  });
}

/** `ｒｏｏｔ` for `root`: the fullwidth form of each ASCII letter, digit or underscore. */
function fullwidth(ascii: string): string {
  return [...ascii].map((c) => String.fromCodePoint((c.codePointAt(0) ?? 0) + 0xfee0)).join("");
}

describe("control characters in names and usernames", () => {
  test("a NUL byte in a name or username is a 400 field error, not a 500", async () => {
    const first = await register({ first_name: "Eve\u0000" });
    assert.equal(first.statusCode, 400);
    assert.deepEqual(first.json(), { first_name: ["Null characters are not allowed."] });
    const name = await register({ username: `eve\u0000${uniqueName()}` });
    assert.deepEqual(name.json(), { username: ["Null characters are not allowed."] });
    const u = await registerUser(t.app);
    const patched = await patchProfile(u.access, { last_name: "\u0000" });
    assert.equal(patched.statusCode, 400);
    assert.deepEqual(patched.json(), { last_name: ["Null characters are not allowed."] });
  });

  test("a lone surrogate is refused with DRF's message", async () => {
    const username = uniqueName();
    const res = await t.app.inject({
      method: "POST",
      url: "/api/auth/register/",
      headers: { "content-type": "application/json" },
      payload: `{"email": "${username}@example.com", "username": "${username}", "first_name": "A\\ud800", "password": "${PASSWORD}", "password_confirm": "${PASSWORD}"}`,
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { first_name: ["Surrogate characters are not allowed: U+D800."] });
  });

  test("names are one line: line breaks, tabs and bidi overrides are refused", async () => {
    const res = await register({
      first_name: "Ada\n\nYour card was charged $499. Dispute at https://evil.example",
      last_name: "Love\u202Eecal",
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { first_name: [CONTROL], last_name: [CONTROL] });
    const u = await registerUser(t.app);
    for (const first_name of ["Ada\r\nBob", "Ada\tB", "Ada\u2028B", "Ada\u0085B"]) {
      const patched = await patchProfile(u.access, { first_name });
      assert.deepEqual(patched.json(), { first_name: [CONTROL] }, JSON.stringify(first_name));
    }
    const [row] = await t.services.database.db.select().from(users).where(eq(users.id, u.id));
    assert.equal(row?.firstName, "Ada");
  });

  test("names are at most 150 characters, as Django's", async () => {
    const res = await register({ first_name: "a".repeat(151) });
    assert.deepEqual(res.json(), {
      first_name: ["Ensure this field has no more than 150 characters."],
    });
    assert.equal((await register({ last_name: "é".repeat(150) })).statusCode, 201);
  });
});

describe("names in the welcome email", () => {
  async function welcome(userId: string) {
    const [row] = await t.services.database.db
      .select({ text: emails.textBody, html: emails.htmlBody })
      .from(emails)
      .where(eq(emails.causeKey, userId));
    assert.ok(row, "welcome email queued");
    return row;
  }

  test("a name a mail client would link is not shown: the greeting is neutral", async () => {
    for (const first_name of ["Refund at evil.example", "www.evil", "hxxp://evil", "a@evil.test"]) {
      const u = await registerUser(t.app, { first_name });
      const mail = await welcome(u.id);
      assert.match(mail.text, /^Hi there,$/m, first_name);
      assert.match(mail.html, /<p>Hi there,<\/p>/);
      assert.doesNotMatch(`${mail.text}${mail.html}`, /evil/);
    }
  });

  test("an ordinary name greets in both parts, escaped in HTML", async () => {
    const u = await registerUser(t.app, { first_name: "<b>Zoë</b> O'Neil" });
    const mail = await welcome(u.id);
    assert.match(mail.text, /^Hi <b>Zoë<\/b> O'Neil,$/m);
    assert.match(mail.html, /<p>Hi &lt;b&gt;Zoë&lt;\/b&gt; O&#39;Neil,<\/p>/);
  });
});

describe("usernames are NFKC-normalized, as Django's normalize_username", () => {
  test("the fullwidth form of a taken username is taken", async () => {
    const owner = await registerUser(t.app);
    assert.notEqual(fullwidth(owner.username), owner.username);
    const res = await register({ username: fullwidth(owner.username) });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { username: [TAKEN] });
  });

  test("a Kelvin sign is stored as K, and K then is taken", async () => {
    const tail = uniqueName();
    const kelvin = await register({ username: `\u212A${tail}` });
    assert.equal(kelvin.statusCode, 201);
    assert.equal(kelvin.json().user.username, `K${tail}`);
    assert.deepEqual((await register({ username: `K${tail}` })).json(), { username: [TAKEN] });
  });

  test("uniqueness stays case-sensitive, as Django's", async () => {
    const owner = await registerUser(t.app);
    assert.equal((await register({ username: owner.username.toUpperCase() })).statusCode, 201);
  });

  test("a profile update normalizes too", async () => {
    const owner = await registerUser(t.app);
    const u = await registerUser(t.app);
    const taken = await patchProfile(u.access, { username: fullwidth(owner.username) });
    assert.deepEqual(taken.json(), { username: [TAKEN] });
    const mine = uniqueName();
    const renamed = await patchProfile(u.access, { username: fullwidth(mine) });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.json().username, mine);
  });

  test("createsuperuser normalizes too", async () => {
    const owner = await registerUser(t.app);
    const deps = { db: t.services.database.db, config: t.services.config };
    const input = { email: `${uniqueName()}@example.com`, password: PASSWORD };
    await assert.rejects(
      createSuperuser(deps, { ...input, username: fullwidth(owner.username) }),
      (err: { toJSON(): unknown }) => {
        assert.deepEqual(err.toJSON(), { username: [TAKEN] });
        return true;
      },
    );
    const name = uniqueName("admin");
    const admin = await createSuperuser(deps, { ...input, username: fullwidth(name) });
    assert.equal(admin.username, name);
  });

  test("the length limit applies to the normalized username", async () => {
    // U+FB03 is one character and NFKC makes it three ("ffi"): 60 of them become 180.
    const res = await register({ username: "\uFB03".repeat(60) });
    assert.deepEqual(res.json(), {
      username: ["Ensure this field has no more than 150 characters."],
    });
  });
});
