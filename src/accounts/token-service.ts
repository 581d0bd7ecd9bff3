import { and, eq, isNull, lt } from "drizzle-orm";
import type { Db, Executor } from "../platform/db/client.ts";
import type { AccessClaim } from "../platform/feature.ts";
import { businessError, detailError } from "../platform/http/errors.ts";
import { refreshTokens, users } from "./accounts-tables.ts";
import {
  type ClientInfo,
  openSession,
  purgeExpiredSessions,
  revokeAllSessions,
  revokeSessionById,
  sessionOpen,
  touchSession,
} from "./sessions.ts";
import { signToken, type TokenConfig, verifyToken } from "./tokens.ts";

export interface TokenPair {
  access: string;
  refresh: string;
}

export type RevokeReason =
  | "rotated"
  | "logout"
  | "password_changed"
  | "reuse_detected"
  | "deactivated"
  | "account_deleted"
  | "session_revoked";

/**
 * The access token's `entitlements` claim of a user, read in the transaction that signs it; given
 * only with ACCESS_CLAIMS=on (accounts-module.ts), so with it off signing reads nothing more.
 */
export type ClaimOf = (executor: Executor, userId: string) => Promise<AccessClaim>;

/** Signs a pair of `sessionId` and records the refresh token as outstanding in it. */
async function signPair(
  executor: Executor,
  config: TokenConfig,
  userId: string,
  sessionId: string,
  claimOf?: ClaimOf,
): Promise<{ pair: TokenPair; expiresAt: Date }> {
  const entitlements = claimOf ? await claimOf(executor, userId) : undefined;
  const [access, refresh] = await Promise.all([
    signToken(config, "access", userId, sessionId, entitlements),
    signToken(config, "refresh", userId, sessionId),
  ]);
  const expiresAt = new Date(refresh.claims.exp * 1000);
  await executor
    .insert(refreshTokens)
    .values({ jti: refresh.claims.jti, userId, sessionId, expiresAt });
  return { pair: { access: access.token, refresh: refresh.token }, expiresAt };
}

/**
 * Signs a user in on a new device: opens a session (src/accounts/sessions.ts), signs an access
 * and a refresh token of it and records the refresh token as outstanding.
 */
export async function issueTokenPair(
  executor: Executor,
  config: TokenConfig,
  userId: string,
  client?: ClientInfo,
  claimOf?: ClaimOf,
): Promise<TokenPair> {
  const expiresAt = new Date(Date.now() + config.REFRESH_TOKEN_LIFETIME * 1000);
  const sessionId = await openSession(executor, userId, expiresAt, client);
  return (await signPair(executor, config, userId, sessionId, claimOf)).pair;
}

/** Revokes every outstanding refresh token of a user, and so every session; returns how many. */
export async function revokeAllRefreshTokens(
  executor: Executor,
  userId: string,
  reason: RevokeReason,
): Promise<number> {
  await revokeAllSessions(executor, userId, reason);
  const rows = await executor
    .update(refreshTokens)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(eq(refreshTokens.userId, userId), isNull(refreshTokens.revokedAt)))
    .returning({ jti: refreshTokens.jti });
  return rows.length;
}

const invalidRefresh = () => detailError("token_not_valid", "Token is invalid or expired");

type RotationOutcome = { ok: TokenPair } | { refused: "invalid" | "reused" };

/**
 * Exchanges a refresh token for a new pair (`token/refresh/`, docs/architecture.md,
 * 'Accounts beyond the original'). Every refresh rotates: the presented token is revoked and a new
 * one issued. A token that was already revoked (rotated or logged out) being presented again means
 * someone else holds a copy, so every outstanding token of that user is revoked and both holders
 * must sign in again (reuse detection). The row lock makes two concurrent refreshes of one token
 * count as a reuse, never as two rotations.
 */
export async function rotateRefreshToken(
  db: Db,
  config: TokenConfig,
  token: string,
  client?: ClientInfo,
  claimOf?: ClaimOf,
): Promise<TokenPair> {
  const claims = await verifyToken(config, token, "refresh");
  if (!claims) throw invalidRefresh();
  // The outcome is returned, not thrown, so the family revocation commits before we refuse.
  const outcome = await db.transaction(async (tx): Promise<RotationOutcome> => {
    const [row] = await tx
      .select()
      .from(refreshTokens)
      .where(eq(refreshTokens.jti, claims.jti))
      .for("update");
    if (!row || row.userId !== claims.user_id) return { refused: "invalid" };
    if (row.revokedAt) {
      // Only a token its holder gave up (rotated, logged out) proves a copy exists; one revoked by
      // a password change or deactivation is simply dead, and must not end the new sessions.
      if (row.revokedReason === "rotated" || row.revokedReason === "logout") {
        await revokeAllRefreshTokens(tx, row.userId, "reuse_detected");
      }
      return { refused: "reused" };
    }
    const [user] = await tx
      .select({ isActive: users.isActive })
      .from(users)
      .where(eq(users.id, row.userId));
    if (!user?.isActive) return { refused: "invalid" };
    if (row.sessionId && !(await sessionOpen(tx, row.sessionId))) return { refused: "invalid" };
    await tx
      .update(refreshTokens)
      .set({ revokedAt: new Date(), revokedReason: "rotated" })
      .where(eq(refreshTokens.jti, row.jti));
    // A token issued before sessions existed starts one now.
    if (!row.sessionId) {
      return { ok: await issueTokenPair(tx, config, row.userId, client, claimOf) };
    }
    const { pair, expiresAt } = await signPair(tx, config, row.userId, row.sessionId, claimOf);
    await touchSession(tx, row.sessionId, expiresAt, client);
    return { ok: pair };
  });
  if ("ok" in outcome) return outcome.ok;
  if (outcome.refused === "reused") throw detailError("token_not_valid", "Token is blacklisted");
  throw invalidRefresh();
}

/**
 * Blacklists the caller's own refresh token (`logout/`, docs/architecture.md, 'The HTTP contract')
 * and ends its session. A token of another user, an access token, or one already revoked is
 * "Invalid or expired token.".
 */
export async function logout(
  db: Db,
  config: TokenConfig,
  userId: string,
  token: string | undefined,
): Promise<void> {
  if (!token) throw businessError("invalid", "refresh token is required.");
  const claims = await verifyToken(config, token, "refresh");
  const invalid = () => businessError("invalid", "Invalid or expired token.");
  if (!claims || claims.user_id !== userId) throw invalid();
  const revoked = await db
    .update(refreshTokens)
    .set({ revokedAt: new Date(), revokedReason: "logout" })
    .where(
      and(
        eq(refreshTokens.jti, claims.jti),
        eq(refreshTokens.userId, userId),
        isNull(refreshTokens.revokedAt),
      ),
    )
    .returning({ jti: refreshTokens.jti, sessionId: refreshTokens.sessionId });
  const [row] = revoked;
  if (!row) throw invalid();
  if (row.sessionId) await revokeSessionById(db, row.sessionId, "logout");
}

/** The user a validly signed, unexpired refresh token names (for per-account throttling). */
export async function refreshTokenUser(
  config: TokenConfig,
  token: unknown,
): Promise<string | undefined> {
  if (typeof token !== "string") return undefined;
  return (await verifyToken(config, token, "refresh"))?.user_id;
}

/**
 * Deletes refresh-token rows and sessions past their expiry: the signature check refuses those
 * tokens anyway, so the rows (revoked or not) prove nothing any more.
 */
export async function purgeExpiredRefreshTokens(db: Db, now = new Date()): Promise<number> {
  const rows = await db
    .delete(refreshTokens)
    .where(lt(refreshTokens.expiresAt, now))
    .returning({ jti: refreshTokens.jti });
  await purgeExpiredSessions(db, now);
  return rows.length;
}
