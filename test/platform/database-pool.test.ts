import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { createTestDatabase, TEST_DATABASE_URL, type TestDatabase } from "../helpers/database.ts";

// PostgreSQL only: PGlite is one connection in the process.
const skip = !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL)";

let testDatabase: TestDatabase;
before(async () => {
  if (!skip) testDatabase = await createTestDatabase();
});
after(() => testDatabase?.drop());

test("a connection, once opened, stays open however long it is idle", { skip }, async (t) => {
  const { database } = testDatabase;
  // pg-pool closes an idle connection from a timer: fake time lets the test wait out a minute.
  t.mock.timers.enable({ apis: ["setTimeout"] });
  await Promise.all([1, 2, 3].map(() => database.db.execute(sql`select pg_sleep(0.05)`)));
  assert.deepEqual(database.poolCounts?.(), { total: 3, idle: 3, waiting: 0 });
  t.mock.timers.tick(60_000);
  // Closed, they would be reopened by the next burst of requests, each of which would then wait
  // for a server process to start instead of for a query.
  assert.deepEqual(database.poolCounts?.(), { total: 3, idle: 3, waiting: 0 });
});
