import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import pg from "pg";
import { users } from "../../src/accounts/accounts-tables.ts";
import { describeStatementsOnce } from "../../src/platform/db/described-statements.ts";
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "../helpers/database.ts";

// PostgreSQL only: PGlite has no wire protocol in between.
const skip = !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL)";

let testDatabase: TestDatabase;
let pool: pg.Pool;
/** RowDescription messages the server sent, over every connection of `pool`. */
let described = 0;

before(async () => {
  if (skip) return;
  testDatabase = await createTestDatabase();
  // One connection: each statement is parsed once, so what is counted is the describing alone.
  pool = describeStatementsOnce(new pg.Pool({ connectionString: testDatabase.url, max: 1 }));
  pool.on("connect", (client) => {
    (client as unknown as { connection: pg.Connection }).connection.on("rowDescription", () => {
      described++;
    });
  });
});
after(async () => {
  await pool?.end();
  await testDatabase?.drop();
});

// Every kind of column the hot reads return, a NULL, and a bound Date and JSON value.
const EVERY_TYPE = `select $1::timestamptz as at, true as yes, false as no, 42::int4 as n,
  9007199254740993::int8 as big, 12.50::numeric as amount, '{"a":[1,null]}'::jsonb as doc,
  null::text as nothing, 'ünïcode'::text as name, gen_random_uuid() is not null as has_uuid,
  $2::jsonb as bound, g as i from generate_series(1, 3) as g`;
const AT = new Date("2026-12-07T17:06:00.123Z");

/** What pg's own Query answers for the same statement, run unnamed on a plain client. */
async function plainRows(text: string, values: unknown[], types?: pg.CustomTypesConfig) {
  const client = new pg.Client({ connectionString: testDatabase.url });
  await client.connect();
  try {
    const result = await client.query({
      text,
      values,
      rowMode: "array",
      ...(types ? { types } : {}),
    });
    return result.rows;
  } finally {
    await client.end();
  }
}

test("rows come out as pg's own array-mode rows, on every execution", { skip }, async () => {
  const values = [AT, { k: "v" }];
  const expected = await plainRows(EVERY_TYPE, values);
  const before = described;
  for (let i = 0; i < 3; i++) {
    const result = await pool.query({
      name: "every_type",
      text: EVERY_TYPE,
      rowMode: "array",
      values,
    });
    assert.deepEqual(result.rows, expected);
  }
  // Described on the first execution only.
  assert.equal(described - before, 1);
});

test("the query's own type parsers apply (Drizzle keeps timestamps as text)", {
  skip,
}, async () => {
  const types = {
    getTypeParser: ((oid: number, format?: string) =>
      oid === 1184
        ? (text: string) => `raw:${text}`
        : pg.types.getTypeParser(oid, format as "text")) as pg.CustomTypesConfig["getTypeParser"],
  };
  const text = "select $1::timestamptz as at, 7 as n";
  const expected = await plainRows(text, [AT], types);
  const result = await pool.query({
    name: "typed_at",
    text,
    rowMode: "array",
    values: [AT],
    types,
  });
  assert.deepEqual(result.rows, expected);
  assert.match(String(result.rows[0]?.[0]), /^raw:2026-12-07 /);
});

test("a statement that fails answers pg's error, and the pool goes on", { skip }, async () => {
  const text = "select 1 / $1::int as q";
  await assert.rejects(
    pool.query({ name: "divide", text, rowMode: "array", values: [0] }),
    (err: Error & { code?: string }) => err instanceof pg.DatabaseError && err.code === "22012",
  );
  const result = await pool.query({ name: "divide", text, rowMode: "array", values: [2] });
  assert.deepEqual(result.rows, [[0]]);
});

test("a value pg cannot serialize is refused before anything runs", { skip }, async () => {
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  await assert.rejects(
    pool.query({
      name: "echo_json",
      text: "select $1::jsonb as v",
      rowMode: "array",
      values: [circular],
    }),
    TypeError,
  );
  const result = await pool.query({
    name: "echo_json",
    text: "select $1::jsonb as v",
    rowMode: "array",
    values: [{ ok: 1 }],
  });
  assert.deepEqual(result.rows, [[{ ok: 1 }]]);
});

test("one name for two texts is refused, as pg refuses it", { skip }, async () => {
  await pool.query({ name: "twice", text: "select 1 as a", rowMode: "array" });
  await assert.rejects(
    pool.query({ name: "twice", text: "select 2 as a", rowMode: "array" }),
    /Prepared statements must be unique - 'twice'/,
  );
});

test("a Drizzle prepared select maps its rows as an unprepared one does", { skip }, async () => {
  const { db } = testDatabase.database;
  const [inserted] = await db
    .insert(users)
    .values({ email: "described@example.com", username: "described", passwordHash: "x" })
    .returning({ id: users.id });
  assert.ok(inserted);
  const prepared = db
    .select()
    .from(users)
    .where(eq(users.id, sql.placeholder("id")))
    .prepare("described_user");
  const direct = await db.select().from(users).where(eq(users.id, inserted.id));
  for (let i = 0; i < 2; i++) assert.deepEqual(await prepared.execute({ id: inserted.id }), direct);
  assert.ok(direct[0]?.createdAt instanceof Date);
});
