import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../src/platform/db/client.ts";
import { runMigrations } from "../src/platform/db/migrate.ts";
import {
  createPostgresTemplate,
  dropPostgresDatabase,
  TEST_DATABASE_URL,
} from "./helpers/database.ts";

// Runs once per `node --test` run: migrate one template, then every test file copies it
// (docs/architecture.md, 'PGlite start-up cost': initdb and migrations are the slow part).
let dir: string | undefined;
let template: string | undefined;

export async function globalSetup(): Promise<void> {
  if (TEST_DATABASE_URL) {
    template = await createPostgresTemplate();
    process.env.TEST_PG_TEMPLATE = template;
    return;
  }
  dir = await mkdtemp(join(tmpdir(), "billing-test-"));
  const database = await openDatabase({});
  await runMigrations(database);
  if (!database.dumpDataDir) throw new Error("expected PGlite");
  const file = join(dir, "template.tar");
  await writeFile(file, new Uint8Array(await (await database.dumpDataDir()).arrayBuffer()));
  await database.close();
  process.env.TEST_PGLITE_TEMPLATE = file;
}

export async function globalTeardown(): Promise<void> {
  if (template) await dropPostgresDatabase(template);
  if (dir) await rm(dir, { recursive: true, force: true });
}
