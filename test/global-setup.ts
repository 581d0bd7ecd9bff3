import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase, pgliteDataDir } from "../src/platform/db/client.ts";
import { runMigrations } from "../src/platform/db/migrate.ts";
import {
  createPostgresTemplate,
  dropPostgresDatabase,
  TEST_DATABASE_URL,
} from "./helpers/database.ts";

// Runs once per `node --test` run: migrate one template, then every test file copies it
// (docs/architecture.md, 'PGlite start-up cost': initdb and migrations are the slow part).
// Two forms of the same embedded database: a dump that in-process tests load into memory
// (TEST_PGLITE_TEMPLATE), and a data directory on disk that `freshDataDir()` copies for the
// processes tests spawn (TEST_PGLITE_DATA_DIR). The directory is made on PostgreSQL runs too:
// the start-up, lock and walkthrough tests run the embedded default whatever the database.
let dir: string | undefined;
let template: string | undefined;

export async function globalSetup(): Promise<void> {
  dir = await mkdtemp(join(tmpdir(), "billing-test-"));
  const [pgTemplate] = await Promise.all([
    TEST_DATABASE_URL ? createPostgresTemplate() : undefined,
    pgliteTemplates(dir, { dump: !TEST_DATABASE_URL }),
  ]);
  if (pgTemplate) {
    template = pgTemplate;
    process.env.TEST_PG_TEMPLATE = pgTemplate;
  }
}

async function pgliteTemplates(root: string, { dump }: { dump: boolean }): Promise<void> {
  const dataDir = pgliteDataDir(join(root, "data"));
  // Only migrations: no emulator has run on it, so it holds no `stripe_emulator` state; its lock
  // file lies beside the directory, not in it, and is removed on close.
  const database = await openDatabase({ pgliteDir: dataDir });
  try {
    await runMigrations(database);
    if (dump) {
      if (!database.dumpDataDir) throw new Error("expected PGlite");
      const file = join(root, "template.tar");
      await writeFile(file, new Uint8Array(await (await database.dumpDataDir()).arrayBuffer()));
      process.env.TEST_PGLITE_TEMPLATE = file;
    }
  } finally {
    await database.close();
  }
  process.env.TEST_PGLITE_DATA_DIR = dataDir;
}

export async function globalTeardown(): Promise<void> {
  if (template) await dropPostgresDatabase(template);
  if (dir) await rm(dir, { recursive: true, force: true });
}
