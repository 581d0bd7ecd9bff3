import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { eq, sql } from "drizzle-orm";
import {
  AccountTokenError,
  type AccountTokenFailure,
  type AccountTokenPurpose,
  consumeAccountToken,
  hashAccountToken,
  issueAccountToken,
  purgeExpiredAccountTokens,
  revokeAccountTokens,
} from "../../src/accounts/account-tokens.ts";
import { accountTokens, users } from "../../src/accounts/accounts-tables.ts";
import type { Db } from "../../src/platform/db/client.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";
import { uniqueName } from "./helpers.ts";

let testDb: TestDatabase;
let db: Db;

before(async () => {
  testDb = await createTestDatabase();
  db = testDb.database.db;
});
after(() => testDb.drop());

async function newUser(): Promise<string> {
  const name = uniqueName();
  const [row] = await db
    .insert(users)
    .values({ email: `${name}@example.com`, username: name, passwordHash: "x" })
    .returning({ id: users.id });
  assert.ok(row);
  return row.id;
}

const issue = (userId: string, purpose: AccountTokenPurpose = "verify_email", lifetime = 3600) =>
  db.transaction((tx) => issueAccountToken(tx, userId, purpose, lifetime));

async function refused(token: string, purpose: AccountTokenPurpose = "verify_email") {
  const err = await db
    .transaction((tx) => consumeAccountToken(tx, token, purpose))
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  assert.ok(err instanceof AccountTokenError, `expected a refusal, got ${String(err)}`);
  assert.equal(err.status, 400);
  assert.deepEqual(err.toJSON(), { token: [err.message] });
  return err.reason;
}

describe("account tokens", () => {
  it("stores only the hash; a token is used once, then 'used'", async () => {
    const userId = await newUser();
    const { token, row } = await issue(userId);
    assert.equal(row.tokenHash, hashAccountToken(token));
    assert.ok(!JSON.stringify(row).includes(token));
    const used = await db.transaction((tx) => consumeAccountToken(tx, token, "verify_email"));
    assert.equal(used.userId, userId);
    assert.ok(used.usedAt);
    assert.equal(await refused(token), "used" satisfies AccountTokenFailure);
  });

  it("a newer token supersedes the older one of the same purpose only", async () => {
    const userId = await newUser();
    const first = await issue(userId);
    const reset = await issue(userId, "password_reset");
    const second = await issue(userId);
    assert.equal(await refused(first.token), "superseded");
    await db.transaction((tx) => consumeAccountToken(tx, second.token, "verify_email"));
    await db.transaction((tx) => consumeAccountToken(tx, reset.token, "password_reset"));
  });

  it("refuses an expired token, one of another purpose and an unknown one", async () => {
    const userId = await newUser();
    const { token, row } = await issue(userId);
    assert.equal(await refused(token, "password_reset"), "unknown");
    assert.equal(await refused("not-a-token"), "unknown");
    await db
      .update(accountTokens)
      .set({ expiresAt: sql`now() - interval '1 second'` })
      .where(eq(accountTokens.id, row.id));
    assert.equal(await refused(token), "expired");
  });

  it("revoking ends the live token with its own message", async () => {
    const userId = await newUser();
    const { token } = await issue(userId, "password_reset");
    assert.equal(await revokeAccountTokens(db, userId, "password_reset", "password_changed"), 1);
    assert.equal(await refused(token, "password_reset"), "revoked");
  });

  it("of two concurrent uses of one token exactly one succeeds", async () => {
    const userId = await newUser();
    const { token } = await issue(userId);
    const results = await Promise.allSettled([
      db.transaction((tx) => consumeAccountToken(tx, token, "verify_email")),
      db.transaction((tx) => consumeAccountToken(tx, token, "verify_email")),
    ]);
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 1);
  });

  it("concurrent issues leave exactly one live token", async () => {
    const userId = await newUser();
    const issued = await Promise.all([issue(userId), issue(userId), issue(userId)]);
    const live = await db
      .select()
      .from(accountTokens)
      .where(sql`${accountTokens.userId} = ${userId} and ${accountTokens.revokedAt} is null`);
    assert.equal(live.length, 1);
    assert.ok(issued.some((i) => i.row.id === live[0]?.id));
  });

  it("purges rows expired longer ago than the grace period", async () => {
    const userId = await newUser();
    const { row } = await issue(userId);
    await db
      .update(accountTokens)
      .set({ expiresAt: sql`now() - interval '8 days'` })
      .where(eq(accountTokens.id, row.id));
    assert.ok((await purgeExpiredAccountTokens(db)) >= 1);
    const left = await db.select().from(accountTokens).where(eq(accountTokens.id, row.id));
    assert.equal(left.length, 0);
  });
});
