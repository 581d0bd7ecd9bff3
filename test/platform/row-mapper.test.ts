import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { asc, DrizzleQueryError, eq, sql } from "drizzle-orm";
import { sessions, users } from "../../src/accounts/accounts-tables.ts";
import type { Db } from "../../src/platform/db/client.ts";
import { leanPreparedSelect } from "../../src/platform/db/row-mapper.ts";
import { createTestDatabase, type TestDatabase } from "../helpers/database.ts";

let testDatabase: TestDatabase;
let db: Db;
before(async () => {
  testDatabase = await createTestDatabase();
  db = testDatabase.database.db;
  // Two users, one with two sessions (one revoked) and one with none: a left join both ways.
  const [ann, bob] = await db
    .insert(users)
    .values([
      { email: "ann@example.com", username: "ann", passwordHash: "x", firstName: "Ann" },
      { email: "bob@example.com", username: "bob", passwordHash: "x" },
    ])
    .returning({ id: users.id });
  assert.ok(ann && bob);
  const expiresAt = new Date("2030-01-01T00:00:00Z");
  await db.insert(sessions).values([
    { userId: ann.id, expiresAt, userAgent: "a" },
    { userId: ann.id, expiresAt, userAgent: "b", revokedAt: new Date(), revokedReason: "logout" },
  ]);
});
after(() => testDatabase?.drop());

/**
 * Every kind of select the hot path prepares, each run through Drizzle's own row mapping and
 * through the compiled one (the same query under two statement names): the results must be equal.
 */
const selects: Record<string, (db: Db) => { prepare(name: string): unknown }> = {
  "a whole table": (d) => d.select().from(users).orderBy(asc(users.username)),
  "a partial select with SQL fields": (d) =>
    d
      .select({
        id: users.id,
        joined: users.createdAt,
        sessions:
          sql<number>`(select count(*) from ${sessions} where ${sessions.userId} = ${users.id})`.mapWith(
            Number,
          ),
        hasRevoked: sql<boolean>`exists (select 1 from ${sessions} where ${sessions.userId} = ${users.id} and ${sessions.revokedAt} is not null)`,
        total: sql<number>`count(*) over ()`.mapWith(Number),
      })
      .from(users)
      .orderBy(asc(users.username)),
  "a left join, matched and not": (d) =>
    d
      .select({ user: users, session: sessions })
      .from(users)
      .leftJoin(sessions, eq(sessions.userId, users.id))
      .orderBy(asc(users.username), asc(sessions.userAgent)),
  "a left join without selecting tables": (d) =>
    d
      .select()
      .from(users)
      .leftJoin(sessions, eq(sessions.userId, users.id))
      .orderBy(asc(users.username), asc(sessions.userAgent)),
  "an inner join with nested partial objects": (d) =>
    d
      .select({
        user: { name: users.username, first: users.firstName },
        session: { agent: sessions.userAgent, revoked: sessions.revokedAt },
      })
      .from(sessions)
      .innerJoin(users, eq(users.id, sessions.userId))
      .where(eq(users.username, sql.placeholder("username")))
      .orderBy(asc(sessions.userAgent)),
};

for (const [kind, build] of Object.entries(selects)) {
  test(`compiled row mapping equals Drizzle's: ${kind}`, async () => {
    const slug = kind.replaceAll(/\W+/g, "_");
    type Prepared = { execute(values?: Record<string, unknown>): Promise<unknown[]> };
    const drizzles = build(db).prepare(`rm_drizzle_${slug}`) as Prepared;
    const compiled = leanPreparedSelect(build(db).prepare(`rm_compiled_${slug}`)) as Prepared;
    // The compiled path is the one taken: a mapper of its own, or (node-postgres) its own execute.
    assert.ok(
      (compiled as { customResultMapper?: unknown }).customResultMapper !== undefined ||
        Object.hasOwn(compiled, "execute"),
    );
    const values = { username: "ann" };
    const expected = await drizzles.execute(values);
    assert.ok(expected.length > 0);
    // Twice: the second execution is the one that skips PostgreSQL's row description.
    for (let i = 0; i < 2; i++) assert.deepEqual(await compiled.execute(values), expected);
  });
}

test("a left-joined table with no match is null, one with a match an object", async () => {
  const rows = (await (
    leanPreparedSelect(selects["a left join, matched and not"]?.(db).prepare("rm_nulls")) as {
      execute(): Promise<{ user: { username: string }; session: unknown }[]>;
    }
  ).execute()) as { user: { username: string }; session: { userAgent: string } | null }[];
  assert.deepEqual(
    rows.map((r) => [r.user.username, r.session?.userAgent ?? null]),
    [
      ["ann", "a"],
      ["ann", "b"],
      ["bob", null],
    ],
  );
});

test("a failing prepared select throws what Drizzle throws: DrizzleQueryError, the driver's cause", async () => {
  const build = () =>
    db
      .select({ id: users.id })
      .from(users)
      .where(eq(users.id, sql.placeholder("id")));
  type Prepared = { execute(values: Record<string, unknown>): Promise<unknown[]> };
  const failure = (query: Prepared) =>
    query.execute({ id: "not-a-uuid" }).then(
      () => assert.fail("the select should fail"),
      (err: unknown) => err as Error & { cause?: { code?: string } },
    );
  const drizzles = await failure(build().prepare("rm_fail_drizzle") as Prepared);
  const compiled = await failure(
    leanPreparedSelect(build().prepare("rm_fail_compiled")) as Prepared,
  );
  assert.ok(drizzles instanceof DrizzleQueryError);
  assert.ok(compiled instanceof DrizzleQueryError);
  assert.equal(compiled.cause?.code, "22P02");
  assert.equal(compiled.cause?.code, drizzles.cause?.code);
});
