import { existsSync, readFileSync, renameSync } from "node:fs";
import { sql } from "drizzle-orm";
import type { SnapshotStore } from "../../stripe-emulator/index.ts";
import { type Database, queryRows } from "../platform/db/client.ts";

/**
 * The embedded emulator's state (its customers, subscriptions, clock…) lives in the database it
 * serves, one row in a schema of its own, so the two always belong together: another database is
 * a fresh Stripe, a database restored from a backup brings its Stripe with it, and `./data` no
 * longer holds a Stripe that renews subscriptions some other database never saw.
 * The table is the emulator's, created here when first needed rather than by the app's
 * migrations: production never has it.
 *
 * `legacyFile` is where earlier versions kept the state, beside the embedded database: on that
 * database, a first start without a saved row takes it over once (renamed `.imported`).
 */
export function databaseSnapshotStore(database: Database, legacyFile?: string): SnapshotStore {
  const { db } = database;
  return {
    async load() {
      await db.execute(sql`create schema if not exists stripe_emulator`);
      await db.execute(sql`
        create table if not exists stripe_emulator.snapshot (
          id smallint primary key check (id = 1),
          state text not null,
          saved_at timestamptz not null default now()
        )`);
      const [row] = await queryRows<{ state: string }>(
        db,
        sql`select state from stripe_emulator.snapshot where id = 1`,
      );
      if (row) return row.state;
      if (!legacyFile || database.driver !== "pglite" || !existsSync(legacyFile)) return undefined;
      const state = readFileSync(legacyFile, "utf8");
      renameSync(legacyFile, `${legacyFile}.imported`);
      return state;
    },
    async save(json) {
      await db.execute(sql`
        insert into stripe_emulator.snapshot (id, state) values (1, ${json})
        on conflict (id) do update set state = excluded.state, saved_at = now()`);
    },
  };
}
