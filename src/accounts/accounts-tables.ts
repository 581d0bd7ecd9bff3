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
 * nothing any more (the signature check already refuses the token) and are purged by a job.
 */
export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    /** The token's `jti` claim. */
    jti: uuid().primaryKey(),
    userId: uuid()
      .notNull()
      .references(() => users.id, { onDelete: "cascade" }),
    expiresAt: timestamp({ withTimezone: true }).notNull(),
    createdAt: timestamp({ withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp({ withTimezone: true }),
    /** rotated | logout | password_changed | reuse_detected | deactivated */
    revokedReason: text(),
  },
  (t) => [index().on(t.userId), index().on(t.expiresAt)],
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
