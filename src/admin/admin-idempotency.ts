import { createHash } from "node:crypto";
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { detailError } from "../platform/http/errors.ts";
import { adminIdempotencyKeys } from "./admin-tables.ts";

// Idempotency of admin writes under retries, as Stripe's Idempotency-Key works: the first request
// with a key runs and its answer is stored; a retry with the same key and the same request gets
// that answer again without running; the same key on another request is refused. Only answers
// that succeeded are kept: a refused or failed request left nothing done, so its key is released
// and a retry runs again.

/** A first request whose process died never finishes: after this long its key is taken over. */
const ABANDONED_AFTER_SECONDS = 300;

export interface KeyClaim {
  staffUserId: string;
  key: string;
  fingerprint: string;
  /** ADMIN_IDEMPOTENCY_KEY_TTL: an older stored answer is forgotten, as if purged. */
  ttlSeconds: number;
}

/** What the request should do: run (it holds the key now) or answer the stored response. */
export type ClaimResult = { run: true } | { run: false; statusCode: number; body: unknown };

/** The request as a key must match it: method, path with query, and JSON body. */
export function requestFingerprint(method: string, url: string, body: unknown): string {
  return createHash("sha256")
    .update(JSON.stringify([method, url, body ?? null]))
    .digest("hex");
}

const keyOf = (claim: Pick<KeyClaim, "staffUserId" | "key">) =>
  and(
    eq(adminIdempotencyKeys.staffUserId, claim.staffUserId),
    eq(adminIdempotencyKeys.key, claim.key),
  );

/**
 * Takes the key for this request, or says what to answer instead. Concurrent first requests race
 * on the primary key: one inserts and runs, the other sees a request in progress (409).
 */
export async function claimKey(db: Executor, claim: KeyClaim): Promise<ClaimResult> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const inserted = await db
      .insert(adminIdempotencyKeys)
      .values({ staffUserId: claim.staffUserId, key: claim.key, fingerprint: claim.fingerprint })
      .onConflictDoNothing()
      .returning({ key: adminIdempotencyKeys.key });
    if (inserted.length > 0) return { run: true };

    const [row] = await db
      .select({
        fingerprint: adminIdempotencyKeys.fingerprint,
        statusCode: adminIdempotencyKeys.statusCode,
        body: adminIdempotencyKeys.body,
        age: sql<number>`extract(epoch from clock_timestamp() - ${adminIdempotencyKeys.createdAt})::float8`,
      })
      .from(adminIdempotencyKeys)
      .where(keyOf(claim));
    if (!row) continue; // released or purged in between: try the insert again
    const abandoned = row.statusCode === null && row.age > ABANDONED_AFTER_SECONDS;
    if (row.age > claim.ttlSeconds || abandoned) {
      await db.delete(adminIdempotencyKeys).where(keyOf(claim));
      continue;
    }
    if (row.fingerprint !== claim.fingerprint) {
      throw detailError(
        "conflict",
        "This Idempotency-Key was already used with a different request; use a new key.",
      );
    }
    if (row.statusCode === null) {
      throw detailError(
        "conflict",
        "A request with this Idempotency-Key is still in progress; retry it later.",
      );
    }
    return { run: false, statusCode: row.statusCode, body: row.body };
  }
  throw detailError("conflict", "This Idempotency-Key is in use by concurrent requests.");
}

/** Stores the answer of the request that holds the key. */
export async function completeKey(
  db: Executor,
  claim: Pick<KeyClaim, "staffUserId" | "key">,
  statusCode: number,
  body: unknown,
): Promise<void> {
  await db
    .update(adminIdempotencyKeys)
    .set({ statusCode, body: body ?? null })
    .where(and(keyOf(claim), isNull(adminIdempotencyKeys.statusCode)));
}

/** Frees the key of a request that did not succeed, so a retry runs again. */
export async function releaseKey(
  db: Executor,
  claim: Pick<KeyClaim, "staffUserId" | "key">,
): Promise<void> {
  await db
    .delete(adminIdempotencyKeys)
    .where(and(keyOf(claim), isNull(adminIdempotencyKeys.statusCode)));
}

/** Deletes keys older than `ttlSeconds`; returns how many. */
export async function purgeIdempotencyKeys(db: Executor, ttlSeconds: number): Promise<number> {
  const purged = await db
    .delete(adminIdempotencyKeys)
    .where(
      lt(
        adminIdempotencyKeys.createdAt,
        sql`clock_timestamp() - make_interval(secs => ${ttlSeconds})`,
      ),
    )
    .returning({ key: adminIdempotencyKeys.key });
  return purged.length;
}
