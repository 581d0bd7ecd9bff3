import { eq, sql } from "drizzle-orm";
import type { FastifyRequest } from "fastify";
import type { Config } from "../config.ts";
import type { Db, Tx } from "../platform/db/client.ts";
import { type QueueEmailDeps, queueEmail } from "../platform/email/email-service.ts";
import type { EmailConfig } from "../platform/email/templates.ts";
import type { JobDeps } from "../platform/feature.ts";
import type { ErrorCase } from "../platform/http/error-schemas.ts";
import { businessFailure } from "../platform/http/error-schemas.ts";
import { businessError } from "../platform/http/errors.ts";
import { AccountTokenError, consumeAccountToken, issueAccountToken } from "./account-tokens.ts";
import { welcomeEmail } from "./accounts-emails.ts";
import { users } from "./accounts-tables.ts";
import { verifyEmailEmail } from "./token-emails.ts";

/**
 * Email verification (docs/accounts.md): the owner of an address proves it by following a link
 * carrying a single-use token (account-tokens.ts). The token's payload names the address it was
 * sent to, so a link sent before an email change cannot verify the new address.
 */

export type VerificationConfig = EmailConfig & Pick<Config, "EMAIL_VERIFICATION_LIFETIME">;

export interface VerificationDeps {
  db: Db;
  jobs: QueueEmailDeps<JobDeps>["jobs"];
  config: VerificationConfig;
}

interface Recipient {
  id: string;
  email: string;
  firstName: string;
  username: string;
}

async function issueVerification(tx: Tx, config: VerificationConfig, user: Recipient) {
  return issueAccountToken(tx, user.id, "verify_email", config.EMAIL_VERIFICATION_LIFETIME, {
    email: user.email,
  });
}

/**
 * In the registration transaction: the first verification token, carried by the welcome email
 * (one email per registration, keyed by the user as before).
 */
export async function queueWelcomeEmail(
  tx: Tx,
  deps: Omit<VerificationDeps, "db">,
  user: Recipient,
): Promise<void> {
  const { token } = await issueVerification(tx, deps.config, user);
  await queueEmail(tx, deps, {
    to: user.email,
    template: welcomeEmail,
    data: {
      firstName: user.firstName,
      username: user.username,
      verifyToken: token,
      verifyLifetimeSeconds: deps.config.EMAIL_VERIFICATION_LIFETIME,
    },
    causeKey: user.id,
    userId: user.id,
  });
}

/**
 * A new link for a signed-in user whose address is not verified yet. It supersedes the previous
 * one; the email is keyed by the new token, so each resend is one email.
 */
export async function resendVerification(
  deps: VerificationDeps,
  user: Recipient & { emailVerifiedAt: Date | null },
): Promise<void> {
  if (user.emailVerifiedAt) {
    throw businessError("invalid", "Your email address is already verified.");
  }
  await deps.db.transaction(async (tx) => {
    const { token, row } = await issueVerification(tx, deps.config, user);
    await queueEmail(tx, deps, {
      to: user.email,
      template: verifyEmailEmail,
      data: {
        firstName: user.firstName,
        username: user.username,
        email: user.email,
        token,
        lifetimeSeconds: deps.config.EMAIL_VERIFICATION_LIFETIME,
      },
      causeKey: row.id,
      userId: user.id,
    });
  });
}

/**
 * Spends a verification token and marks the address verified. A token for an address the account
 * no longer has (changed since) is refused as no longer valid. Verifying twice is harmless: the
 * first time stands.
 */
export async function verifyEmail(db: Db, token: string): Promise<void> {
  await db.transaction(async (tx) => {
    const row = await consumeAccountToken(tx, token, "verify_email");
    const [user] = await tx
      .select({ email: users.email })
      .from(users)
      .where(eq(users.id, row.userId))
      .for("update");
    const sentTo = typeof row.payload?.email === "string" ? row.payload.email : "";
    if (!user || user.email.toLowerCase() !== sentTo.toLowerCase()) {
      throw new AccountTokenError("revoked");
    }
    await tx
      .update(users)
      .set({
        emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())`,
        updatedAt: new Date(),
      })
      .where(eq(users.id, row.userId));
  });
}

const UNVERIFIED =
  "Verify your email address first: follow the link we emailed you, or request a new one " +
  "(POST /api/auth/verify-email/resend/).";

/** The 403 of a route guarded by `requireVerifiedEmail`, for its response schema. */
export const unverifiedEmailFailure: ErrorCase = businessFailure(
  403,
  "REQUIRE_VERIFIED_EMAIL is on and the user has not verified their email address.",
);

/**
 * A hook for routes that spend money (subscribe, and checkout and plan changes when they exist):
 * with REQUIRE_VERIFIED_EMAIL on, a user whose address is not verified gets 403. Runs after
 * `authenticate`, on the user row it loaded.
 */
export function requireVerifiedEmail(
  config: Pick<Config, "REQUIRE_VERIFIED_EMAIL">,
): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    if (!config.REQUIRE_VERIFIED_EMAIL) return;
    if (!request.user?.emailVerifiedAt) throw businessError("forbidden", UNVERIFIED);
  };
}
