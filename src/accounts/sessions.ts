import { and, desc, eq, gt, isNull, lt, ne } from "drizzle-orm";
import type { Db, Executor } from "../platform/db/client.ts";
import { detailError } from "../platform/http/errors.ts";
import { refreshTokens, sessions } from "./accounts-tables.ts";

// Sessions (docs/accounts.md, 'Sessions'): each refresh-token family is one signed-in device.
// token-service.ts opens one at sign-in and carries it through rotations; this module lists and
// ends them.

/** What the client said about itself when it signed in or last refreshed. */
export interface ClientInfo {
  userAgent: string;
  ip: string;
}

// Stored as given, but bounded: a header of kilobytes must not become a row of kilobytes.
const USER_AGENT_MAX = 512;
const IP_MAX = 64;

export function clientInfo(userAgent: unknown, ip: unknown): ClientInfo {
  return {
    userAgent: typeof userAgent === "string" ? userAgent.slice(0, USER_AGENT_MAX) : "",
    ip: typeof ip === "string" ? ip.slice(0, IP_MAX) : "",
  };
}

const NO_CLIENT: ClientInfo = { userAgent: "", ip: "" };

export async function openSession(
  executor: Executor,
  userId: string,
  expiresAt: Date,
  client: ClientInfo = NO_CLIENT,
): Promise<string> {
  const [row] = await executor
    .insert(sessions)
    .values({ userId, expiresAt, userAgent: client.userAgent, ip: client.ip })
    .returning({ id: sessions.id });
  if (!row) throw new Error("insert returned no session");
  return row.id;
}

/** A rotation used the session: it lives until the new refresh token's expiry. */
export async function touchSession(
  executor: Executor,
  sessionId: string,
  expiresAt: Date,
  client: ClientInfo | undefined,
): Promise<void> {
  await executor
    .update(sessions)
    .set({
      lastUsedAt: new Date(),
      expiresAt,
      ...(client ? { userAgent: client.userAgent, ip: client.ip } : {}),
    })
    .where(eq(sessions.id, sessionId));
}

/** Whether the session is still open (not revoked); false for an unknown id. */
export async function sessionOpen(executor: Executor, sessionId: string): Promise<boolean> {
  const [row] = await executor
    .select({ revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.id, sessionId));
  return row !== undefined && row.revokedAt === null;
}

/** Marks sessions revoked (their tokens are the caller's business: see revokeSessionTokens). */
async function markRevoked(
  executor: Executor,
  where: ReturnType<typeof and>,
  reason: string,
): Promise<string[]> {
  const rows = await executor
    .update(sessions)
    .set({ revokedAt: new Date(), revokedReason: reason })
    .where(and(where, isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return rows.map((r) => r.id);
}

/** Ends every open session of a user (password change, reuse detection, deactivation). */
export function revokeAllSessions(executor: Executor, userId: string, reason: string) {
  return markRevoked(executor, eq(sessions.userId, userId), reason);
}

/** Ends one session, by its refresh tokens' owner (logout). */
export function revokeSessionById(executor: Executor, sessionId: string, reason: string) {
  return markRevoked(executor, eq(sessions.id, sessionId), reason);
}

async function revokeSessionTokens(executor: Executor, sessionIds: string[]): Promise<void> {
  for (const id of sessionIds) {
    await executor
      .update(refreshTokens)
      .set({ revokedAt: new Date(), revokedReason: "session_revoked" })
      .where(and(eq(refreshTokens.sessionId, id), isNull(refreshTokens.revokedAt)));
  }
}

/** The public session shape (GET /api/auth/sessions/). */
export interface SessionBody {
  id: string;
  user_agent: string;
  ip: string;
  created_at: string;
  last_used_at: string;
  expires_at: string;
  current: boolean;
}

/** The user's open sessions, most recently used first; `current` marks the caller's. */
export async function listSessions(
  db: Db,
  userId: string,
  currentSessionId: string | undefined,
  now = new Date(),
): Promise<SessionBody[]> {
  const rows = await db
    .select()
    .from(sessions)
    .where(
      and(eq(sessions.userId, userId), isNull(sessions.revokedAt), gt(sessions.expiresAt, now)),
    )
    .orderBy(desc(sessions.lastUsedAt), desc(sessions.createdAt));
  return rows.map((row) => ({
    id: row.id,
    user_agent: row.userAgent,
    ip: row.ip,
    created_at: row.createdAt.toISOString(),
    last_used_at: row.lastUsedAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    current: row.id === currentSessionId,
  }));
}

/**
 * Ends one of the user's sessions: its refresh tokens stop working at once (the access tokens it
 * already holds live out their short lifetime). Another user's session, an unknown or an ended one
 * is the same 404, so ids of other users' sessions cannot be probed.
 */
export async function revokeSession(db: Db, userId: string, sessionId: string): Promise<void> {
  await db.transaction(async (tx) => {
    const ended = await markRevoked(
      tx,
      and(eq(sessions.id, sessionId), eq(sessions.userId, userId)),
      "session_revoked",
    );
    if (ended.length === 0) throw detailError("not_found", "Not found.");
    await revokeSessionTokens(tx, ended);
  });
}

/** Ends every session of the user except `currentSessionId` (all of them without one). */
export async function revokeOtherSessions(
  db: Db,
  userId: string,
  currentSessionId: string | undefined,
): Promise<number> {
  return db.transaction(async (tx) => {
    const others = currentSessionId
      ? and(eq(sessions.userId, userId), ne(sessions.id, currentSessionId))
      : eq(sessions.userId, userId);
    const ended = await markRevoked(tx, others, "session_revoked");
    await revokeSessionTokens(tx, ended);
    return ended.length;
  });
}

/**
 * Deletes sessions past their expiry (hourly, with the refresh tokens). A revoked session is kept
 * until then: its revoked tokens are what reuse detection recognises.
 */
export async function purgeExpiredSessions(executor: Executor, now = new Date()): Promise<number> {
  const rows = await executor
    .delete(sessions)
    .where(lt(sessions.expiresAt, now))
    .returning({ id: sessions.id });
  return rows.length;
}
