import { randomBytes } from "node:crypto";
import { cp, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { type Database, openDatabase, pgliteDataDir } from "../../src/platform/db/client.ts";
import { runMigrations } from "../../src/platform/db/migrate.ts";

/**
 * Test databases. Each test file gets its own freshly migrated database:
 * - PGlite (default): loaded from a migrated data-directory dump that the global setup made once
 *   (`TEST_PGLITE_TEMPLATE`), so no file pays for initdb and migrations;
 * - PostgreSQL when `TEST_DATABASE_URL` is set: a new database copied from a migrated template
 *   database (`TEST_PG_TEMPLATE`), dropped when the file ends.
 * A process a test spawns on the embedded database gets a `freshDataDir()` instead.
 */

export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;

export function databaseUrlFor(name: string): string {
  const url = new URL(TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrlFor("postgres") });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createPostgresTemplate(): Promise<string> {
  const name = `billing_template_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`create database ${name}`));
  const database = await openDatabase({ url: databaseUrlFor(name), poolMax: 2 });
  try {
    await runMigrations(database);
  } finally {
    await database.close();
  }
  return name;
}

export async function dropPostgresDatabase(name: string): Promise<void> {
  await admin((c) => c.query(`drop database if exists ${name} with (force)`));
}

export interface TestDatabase {
  database: Database;
  /** PostgreSQL URL of this database (undefined on PGlite). */
  url: string | undefined;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (TEST_DATABASE_URL) {
    const template = process.env.TEST_PG_TEMPLATE ?? (await createPostgresTemplate());
    const name = `billing_test_${randomBytes(6).toString("hex")}`;
    await admin((c) => c.query(`create database ${name} template ${template}`));
    const url = databaseUrlFor(name);
    const database = await openDatabase({ url, poolMax: 5 });
    return {
      database,
      url,
      async drop() {
        // Dropped even when closing fails (a test that closed the database itself, say).
        try {
          await database.close();
        } finally {
          await dropPostgresDatabase(name);
        }
      },
    };
  }
  const dump = process.env.TEST_PGLITE_TEMPLATE;
  const database = await openDatabase(
    dump ? { pgliteLoad: new Blob([new Uint8Array(await readFile(dump))]) } : {},
  );
  if (!dump) await runMigrations(database);
  return { database, url: undefined, drop: () => database.close() };
}

/**
 * Makes `dataDir` (default: a new temporary directory) a DATA_DIR whose embedded database is
 * already initialised and migrated: a copy of the data directory the global setup made
 * (`TEST_PGLITE_DATA_DIR`), so a process started on it skips initdb and the migrations. Only the
 * database's files are copied: the lock file lies beside them, and the template never ran an
 * emulator (whose state would live in the database). Without the global setup (a test file run
 * on its own) it stays empty, and the process initialises it as on a first start. The caller
 * removes it.
 */
export async function freshDataDir(dataDir?: string): Promise<string> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), "billing-data-")));
  const template = process.env.TEST_PGLITE_DATA_DIR;
  if (template) await cp(template, pgliteDataDir(dir), { recursive: true });
  return dir;
}
