import { sql } from "drizzle-orm";
import { boolean, index, pgTable, text, timestamp, uniqueIndex, uuid } from "drizzle-orm/pg-core";

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
