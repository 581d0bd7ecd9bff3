import { createHash, randomBytes } from "node:crypto";
import { and, eq, isNull, lt, sql } from "drizzle-orm";
import type { Executor, Tx } from "../platform/db/client.ts";
import { AppError } from "../platform/http/errors.ts";
import { type AccountTokenPurpose, accountTokens, users } from "./accounts-tables.ts";

export type { AccountTokenPurpose } from "./accounts-tables.ts";

/**
 * Single-use tokens sent by email (verify an address, reset a password, confirm an email change).
 * Only the sha256 of a token is stored: a copy of the table does not let anyone use a link. The
 * token is 32 random bytes, so a plain hash (no salt, no argon2) is enough: it cannot be guessed.
 */

export type AccountToken = typeof accountTokens.$inferSelect;

/** Why a token was refused; each is one clear 400 on the `token` field. */
export type AccountTokenFailure = "unknown" | "expired" | "used" | "superseded" | "revoked";

const FAILURE_MESSAGES: Record<AccountTokenFailure, string> = {
  unknown: "Invalid token.",
  expired: "This link has expired. Request a new one.",
  used: "This link has already been used.",
  superseded: "This link was replaced by a newer one. Use the link in the latest email.",
  revoked: "This link is no longer valid. Request a new one.",
};

/** `400 {"token": [message]}`; `reason` lets a caller or a test tell the cases apart. */
export class AccountTokenError extends AppError {
  readonly reason: AccountTokenFailure;
  constructor(reason: AccountTokenFailure) {
    const message = FAILURE_MESSAGES[reason];
    super("invalid", message, { body: { kind: "fields", fields: { token: [message] } } });
    this.reason = reason;
  }
}

/** Why live tokens were revoked other than by a newer one (e.g. the password changed). */
export type RevokeReason = "password_changed" | "email_changed" | "account_deleted";

export function hashAccountToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Issues a token for `userId` and `purpose`, valid for `lifetimeSeconds` (database clock), and
 * supersedes the user's older live tokens of that purpose: only the newest link works. Takes a
 * transaction because the user row is locked so that two concurrent requests cannot both leave a
 * live token (the partial unique index would refuse the second insert); the caller queues the email
 * carrying the token in the same transaction.
 */
export async function issueAccountToken(
  tx: Tx,
  userId: string,
  purpose: AccountTokenPurpose,
  lifetimeSeconds: number,
  payload?: Record<string, unknown>,
): Promise<{ token: string; row: AccountToken }> {
  await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for("update");
  await tx
    .update(accountTokens)
    .set({ revokedAt: sql`now()`, revokedReason: "superseded" })
    .where(live(userId, purpose));
  const token = randomBytes(32).toString("base64url");
  const [row] = await tx
    .insert(accountTokens)
    .values({
      userId,
      purpose,
      tokenHash: hashAccountToken(token),
      payload: payload ?? null,
      expiresAt: sql`now() + make_interval(secs => ${lifetimeSeconds})`,
    })
    .returning();
  if (!row) throw new Error("insert returned no account token");
  return { token, row };
}

/**
 * The token's row if it could be used now, or throws `AccountTokenError` saying why not. Marks
 * nothing: for checks that must come before the token is spent (the new password's validators
 * need the user). `lock` takes the row lock that `consumeAccountToken` relies on.
 */
export async function checkAccountToken(
  executor: Executor,
  token: string,
  purpose: AccountTokenPurpose,
  lock = false,
): Promise<AccountToken> {
  const query = executor
    .select({ token: accountTokens, expired: sql<boolean>`${accountTokens.expiresAt} <= now()` })
    .from(accountTokens)
    .where(
      and(eq(accountTokens.tokenHash, hashAccountToken(token)), eq(accountTokens.purpose, purpose)),
    );
  const [row] = lock ? await query.for("update") : await query;
  if (!row) throw new AccountTokenError("unknown");
  const failure = refusal(row.token, row.expired);
  if (failure) throw new AccountTokenError(failure);
  return row.token;
}

/**
 * Marks a token used and returns its row, or throws `AccountTokenError` saying why it cannot be
 * used. The row is locked, so of two concurrent uses of one token exactly one succeeds; the caller
 * applies the token's effect in the same transaction, so a failed effect leaves the token unused.
 */
export async function consumeAccountToken(
  tx: Tx,
  token: string,
  purpose: AccountTokenPurpose,
): Promise<AccountToken> {
  const row = await checkAccountToken(tx, token, purpose, true);
  const [used] = await tx
    .update(accountTokens)
    .set({ usedAt: sql`now()` })
    .where(eq(accountTokens.id, row.id))
    .returning();
  if (!used) throw new Error("account token vanished while locked");
  return used;
}

function refusal(row: AccountToken, expired: boolean): AccountTokenFailure | undefined {
  if (row.usedAt) return "used";
  if (row.revokedAt) return row.revokedReason === "superseded" ? "superseded" : "revoked";
  return expired ? "expired" : undefined;
}

/** Revokes the user's live tokens of `purpose` (a password change ends pending resets). */
export async function revokeAccountTokens(
  executor: Executor,
  userId: string,
  purpose: AccountTokenPurpose,
  reason: RevokeReason,
): Promise<number> {
  const rows = await executor
    .update(accountTokens)
    .set({ revokedAt: sql`now()`, revokedReason: reason })
    .where(live(userId, purpose))
    .returning({ id: accountTokens.id });
  return rows.length;
}

function live(userId: string, purpose: AccountTokenPurpose) {
  return and(
    eq(accountTokens.userId, userId),
    eq(accountTokens.purpose, purpose),
    isNull(accountTokens.usedAt),
    isNull(accountTokens.revokedAt),
  );
}

/**
 * Deletes token rows that expired more than `keepSeconds` ago. They are kept that long so a late
 * click still reads "expired" rather than "invalid"; after that they prove nothing.
 */
export async function purgeExpiredAccountTokens(
  executor: Executor,
  keepSeconds = 7 * 24 * 3600,
): Promise<number> {
  const rows = await executor
    .delete(accountTokens)
    .where(lt(accountTokens.expiresAt, sql`now() - make_interval(secs => ${keepSeconds})`))
    .returning({ id: accountTokens.id });
  return rows.length;
}
