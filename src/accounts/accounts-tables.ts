import { sql } from "drizzle-orm";
import {
  boolean,
  check,
  index,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * Accounts. Email is stored as the user typed it but unique and looked up lowercased, as the
 * original's login compared it; username is unique as typed (Django's rule).
 */
export const users = pgTable(
  "users",
  {
    id: uuid().primaryKey().defaultRandom(),
    email: text().notNull(),
    username: text().notNull().unique(),
    firstName: text().notNull().default(""),
    lastName: text().notNull().default(""),
    /** argon2id PHC string (algorithm, parameters and salt travel with the hash). */
    passwordHash: text().notNull(),
    /** false: the account is locked out; its tokens stop working at once. */
    isActive: boolean().notNull().default(true),
    isStaff: boolean().notNull().default(false),
    isSuperuser: boolean().notNull().default(false),
    /** Set by billing when it creates the Stripe customer; webhooks resolve users through it. */
    stripeCustomerId: text().unique(),
    lastLogin: timestamp({ withTimezone: true }),
    /** When the owner proved they read this address (a verification link); null: not yet. */
    emailVerifiedAt: timestamp({ withTimezone: true }),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    updatedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("users_email_lower_key").on(sql`lower(${t.email})`)],
);

/**
 * Every refresh token ever issued and not yet expired (simplejwt's outstanding + blacklisted
 * tokens in one table). A refresh is accepted only while its row exists with `revokedAt` null;
 * rotation, logout and password changes set `revokedAt`. Presenting a revoked token again means it
 * leaked, so the whole family (all the user's tokens) is revoked. Rows past `expiresAt` prove
 * nothing any more (the signature check already refuses the token) and are purged by a job. Each
 * token belongs to the session (below) it was issued in.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    /** The token's `jti` claim. */
    jti: uuid().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    /** Null for tokens issued before sessions existed: their next rotation opens one. */
    sessionId: uuid().references(() => sessions.id, { onDelete: "cascade" }),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp({ withTimezone: true }),
    /** A RevokeReason of token-service.ts (rotated, logout, session_revoked, …). */
    revokedReason: text(),
  },
  (t) => [index().on(t.userId), index().on(t.expiresAt), index().on(t.sessionId)],
);

export const ACCOUNT_TOKEN_PURPOSES = ["verify_email", "password_reset", "change_email"] as const;
export type AccountTokenPurpose = (typeof ACCOUNT_TOKEN_PURPOSES)[number];

/**
 * Single-use tokens sent by email (account-tokens.ts). A token is usable while `usedAt` and
 * `revokedAt` are null and `expiresAt` is ahead; rows are kept after use so that a second click
 * reads "already used" rather than "invalid", and purged a while after they expire.
 */
export const accountTokens = pgTable(
  "account_tokens",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    purpose: text().$type<AccountTokenPurpose>().notNull(),
    /** sha256 (hex) of the token; the token itself is only ever in the email. */
    tokenHash: text().notNull().unique(),
    /** What the token is for beyond its purpose (the new address of an email change). */
    payload: jsonb().$type<Record<string, unknown>>(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    usedAt: timestamp({ withTimezone: true }),
    revokedAt: timestamp({ withTimezone: true }),
    /** superseded (a newer token of the same purpose) | password_changed | email_changed | … */
    revokedReason: text(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [
    // At most one live token per user and purpose: issuing supersedes the previous one.
    uniqueIndex("account_tokens_live_key")
      .on(t.userId, t.purpose)
      .where(sql`${t.usedAt} is null and ${t.revokedAt} is null`),
    index().on(t.expiresAt),
    check(
      "account_tokens_purpose",
      sql`${t.purpose} in (${sql.raw(ACCOUNT_TOKEN_PURPOSES.map((p) => `'${p}'`).join(", "))})`,
    ),
  ],
);

/**
 * A signed-in device: one refresh-token family (docs/accounts.md, 'Sessions'). Sign-in opens one;
 * every rotation keeps it and moves `lastUsedAt` and `expiresAt` (the newest token's expiry, past
 * which the session is over). Revoking it revokes its refresh tokens. User agent and IP are stored
 * as the client sent them, truncated, to let the user recognise the device; an account deletion
 * deletes them.
 */
export const sessions = pgTable(
  "sessions",
  {
    id: uuid().primaryKey().defaultRandom(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    userAgent: text().notNull().default(""),
    ip: text().notNull().default(""),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    lastUsedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    revokedAt: timestamp({ withTimezone: true }),
    /** A RevokeReason (token-service.ts), or `session_revoked` when the user ended it. */
    revokedReason: text(),
  },
  (t) => [index().on(t.userId), index().on(t.expiresAt)],
);

/**
 * One row per account deletion (DELETE /api/auth/profile/, `users:delete`), the state of the
 * deletion job: each step records its completion here, so a job restarted after a crash skips what
 * is done. The user row is kept (anonymized), so this row keeps pointing at it.
 */
export const accountDeletions = pgTable("account_deletions", {
  userId: uuid()
    .primaryKey()
    .references(() => users.id),
  /** immediately | period_end: how live subscriptions end (ACCOUNT_DELETE_CANCEL at request time). */
  cancelMode: text().notNull(),
  /** user | operator */
  requestedBy: text().notNull(),
  requestedAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
  /** Subscriptions canceled and payment methods detached at Stripe. */
  stripeSettledAt: timestamp({ withTimezone: true }),
  /** Goodbye email queued and the user row anonymized, in one transaction: the deletion is done. */
  completedAt: timestamp({ withTimezone: true }),
});
