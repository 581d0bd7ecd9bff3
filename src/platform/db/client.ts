import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { ExtractTablesWithRelations, SQL } from "drizzle-orm";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import type { PgDatabase, PgQueryResultHKT, PgTransaction } from "drizzle-orm/pg-core";
import pg from "pg";
import { type Db as BossDb, fromPglite } from "pg-boss";
import { lockDataDir } from "./data-dir-lock.ts";
import { describeStatementsOnce } from "./described-statements.ts";

/**
 * No relational schema: queries name their tables, which each feature owns (`*-tables.ts`), so
 * the platform knows no feature's tables. drizzle-kit finds them through drizzle.config.ts.
 */
export type Schema = Record<string, never>;

/** The Drizzle database, whichever driver is underneath. Nothing outside this folder knows which. */
export type Db = PgDatabase<PgQueryResultHKT, Schema>;

/**
 * A Drizzle transaction handle. Inside a transaction, use only this (docs/architecture.md,
 * 'PGlite is one connection').
 */
export type Tx = PgTransaction<PgQueryResultHKT, Schema, ExtractTablesWithRelations<Schema>>;

/** Either the database or a transaction: repository functions accept both. */
export type Executor = Db | Tx;

export interface Database {
  db: Db;
  driver: "pglite" | "postgres";
  /** How pg-boss reaches the same database: its own pool for PostgreSQL, the PGlite adapter otherwise. */
  boss: { db: BossDb; backend: "pglite" } | { connectionString: string; backend: "postgres" };
  /** Applies the SQL migrations in `folder` that have not run yet. */
  migrate(folder: string): Promise<void>;
  /** Answers when the database does; throws otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
  /** PostgreSQL only: the pool's connections, for metrics. */
  poolCounts?(): { total: number; idle: number; waiting: number };
  /** PGlite only: the data directory as a tarball (tests build one migrated template). */
  dumpDataDir?(): Promise<Blob>;
}

export interface DatabaseOptions {
  /** PostgreSQL URL; unset selects PGlite. */
  url?: string;
  /** PGlite data directory; unset with no `url` means in-memory (tests). */
  pgliteDir?: string;
  /** A PGlite data directory dump to start from (tests load a migrated template). */
  pgliteLoad?: Blob;
  poolMax?: number;
}

export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  if (options.url) return openPostgres(options.url, options.poolMax ?? 10);
  return openPglite(options);
}

/** The PGlite data directory under DATA_DIR. */
export function pgliteDataDir(dataDir: string): string {
  return join(dataDir, "pglite");
}

/** The lock file naming the one process that has the embedded database open (data-dir-lock.ts). */
export function pgliteLockFile(pgliteDir: string): string {
  return `${pgliteDir}.lock`;
}

async function openPglite(options: DatabaseOptions): Promise<Database> {
  // Before anything is loaded, so that a second opener is refused at once.
  const unlock = options.pgliteDir
    ? lockDataDir(pgliteLockFile(options.pgliteDir), dirname(options.pgliteDir))
    : () => {};
  try {
    return await openPgliteLocked(options, unlock);
  } catch (err) {
    unlock();
    throw err;
  }
}

async function openPgliteLocked(options: DatabaseOptions, unlock: () => void): Promise<Database> {
  // Loaded only here: a process on PostgreSQL never needs PGlite, nor carries its heap.
  const [{ PGlite }, { drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  if (options.pgliteDir) await mkdir(options.pgliteDir, { recursive: true });
  const client = await PGlite.create({
    ...(options.pgliteDir ? { dataDir: options.pgliteDir } : {}),
    ...(options.pgliteLoad ? { loadDataDir: options.pgliteLoad } : {}),
  });
  const db = drizzlePglite({ client, casing: "snake_case" });
  return {
    db,
    driver: "pglite",
    migrate: (folder) => migratePglite(db, { migrationsFolder: folder }),
    boss: { db: fromPglite(client), backend: "pglite" },
    async ping() {
      await client.query("select 1");
    },
    async close() {
      try {
        if (!client.closed) await client.close();
      } finally {
        unlock();
      }
    },
    dumpDataDir: () => client.dumpDataDir("none"),
  };
}

async function openPostgres(url: string, max: number): Promise<Database> {
  // A connection, once opened, stays open (min = max): pg-pool otherwise closes the ones idle for
  // 10 s, and under a steady load the spare ones always are, so the next burst waited for new
  // connections (a server process forked, authenticated, its caches cold): the requests stalled
  // in every API process at once (docs/performance.md, 'Where the stalls came from').
  const pool = describeStatementsOnce(
    new pg.Pool({ connectionString: url, max, min: max, connectionTimeoutMillis: 5000 }),
  );
  // An idle client losing its connection (server restart) must not crash the process; the pool
  // replaces it on next use.
  pool.on("error", () => {});
  // pg-pool takes its idle listener off a client while it is checked out (a Drizzle transaction
  // between two statements), and a connection the server cuts then emits 'error' with nobody
  // listening: an uncaught exception that ends the process. The holder's next statement fails
  // with the same cause, and the pool discards the client on release, so there is nothing to do.
  pool.on("connect", (client) => client.on("error", () => {}));
  const db = drizzlePg({ client: pool, casing: "snake_case" });
  return {
    db,
    driver: "postgres",
    migrate: (folder) => migratePg(db, { migrationsFolder: folder }),
    boss: { connectionString: url, backend: "postgres" },
    async ping() {
      await pool.query("select 1");
    },
    async close() {
      await pool.end();
    },
    poolCounts: () => ({
      total: pool.totalCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
    }),
  };
}

/** Runs raw SQL and returns its rows; both drivers answer `{ rows }`. */
export async function queryRows<T>(db: Executor, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as { rows: T[] };
  return result.rows;
}

/**
 * The driver's error inside `err` (Drizzle wraps it in `cause`): its SQLSTATE `code` and, for a
 * constraint violation, the constraint's name. Undefined when no error in the chain has a code.
 */
export function driverError(err: unknown): { code: string; constraint?: string } | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    const { code, constraint } = e as Error & { code?: unknown; constraint?: unknown };
    if (typeof code === "string") {
      return typeof constraint === "string" ? { code, constraint } : { code };
    }
  }
  return undefined;
}

/**
 * SQLSTATEs that mean the server is going away, starting up or full, rather than that a statement
 * is wrong: class 08 (connection exception) and these.
 */
const UNAVAILABLE_SQLSTATES = new Set([
  "57P01", // admin_shutdown
  "57P02", // crash_shutdown
  "57P03", // cannot_connect_now (starting up, shutting down, recovering)
  "53300", // too_many_connections
]);
const UNAVAILABLE_SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);
// Errors node-postgres and pg-pool raise without a code.
const UNAVAILABLE_MESSAGE =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/;

/**
 * When `err` (or an error it wraps: Drizzle puts the driver's error in `cause`) says the database
 * cannot be reached right now, the driver-level reason, short enough to log without a stack trace;
 * otherwise undefined. The HTTP layer answers such failures 503 and the job queue logs them as an
 * outage rather than a bug.
 */
export function databaseUnavailable(err: unknown): { code?: string; message: string } | undefined {
  const seen = new Set<unknown>();
  const pending = [err];
  while (pending.length > 0) {
    // Not only Errors: pg-boss reports a worker's failure as a plain copy of the error's fields.
    const e = pending.shift();
    if (typeof e !== "object" || e === null || seen.has(e)) continue;
    seen.add(e);
    const code = "code" in e && typeof e.code === "string" ? e.code : undefined;
    const message = "message" in e && typeof e.message === "string" ? e.message : "";
    if (
      (code &&
        (/^08[0-9A-Z]{3}$/.test(code) ||
          UNAVAILABLE_SQLSTATES.has(code) ||
          UNAVAILABLE_SOCKET_CODES.has(code))) ||
      UNAVAILABLE_MESSAGE.test(message)
    ) {
      return code ? { code, message } : { message };
    }
    if ("cause" in e) pending.push(e.cause);
    // A connection to a host name with several addresses fails with one error per address.
    if (e instanceof AggregateError) pending.push(...e.errors);
  }
  return undefined;
}
