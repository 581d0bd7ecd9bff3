import { eq, sql } from "drizzle-orm";
import type Stripe from "stripe";
import { Type } from "typebox";
import type { Config } from "../config.ts";
import { type Db, driverError, type Executor } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { JobDeps } from "../platform/feature.ts";
import { fieldError, validationError } from "../platform/http/errors.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import type { Logger } from "../platform/logging.ts";
import { consumeAccountToken, issueAccountToken, revokeAccountTokens } from "./account-tokens.ts";
import { users } from "./accounts-tables.ts";
import { confirmEmailChangeEmail, emailChangeNoticeEmail } from "./lifecycle-emails.ts";
import { type HashConfig, verifyPassword } from "./passwords.ts";

// Changing the email address (docs/accounts.md, 'Changing the email address'): the request mails
// a single-use link (account-tokens.ts, purpose change_email, the new address in its payload) to
// the new address and a notice to the old one; only following the link changes the address, and
// then the Stripe customer's email follows through a job.

const EMAIL_TAKEN = "user with this email already exists.";

export interface EmailChangeDeps {
  db: Db;
  config: Pick<Config, "EMAIL_CHANGE_LIFETIME" | "FRONTEND_URL" | "PRODUCT_NAME" | "EMAIL_FOOTER"> &
    HashConfig;
  jobs: Jobs<JobDeps>;
}

/** Another account holds this address (compared lowercased, as the unique index does). */
async function takenByAnother(executor: Executor, email: string, userId: string) {
  const [row] = await executor
    .select({ id: users.id })
    .from(users)
    .where(eq(sql`lower(${users.email})`, email.toLowerCase()));
  return row !== undefined && row.id !== userId;
}

/**
 * POST /api/auth/change-email/: the password again, an address no account holds; then the
 * confirmation link to the new address and the notice to the old one, in one transaction with the
 * token. A newer request replaces the previous link.
 */
export async function requestEmailChange(
  deps: EmailChangeDeps,
  userId: string,
  input: { new_email: string; password: string },
): Promise<void> {
  const [user] = await deps.db.select().from(users).where(eq(users.id, userId));
  if (!user) throw new Error("authenticated user not found");
  const errors: Record<string, string[]> = {};
  if (!(await verifyPassword(user.passwordHash, input.password, deps.config))) {
    errors.password = ["Password is incorrect."];
  }
  if (input.new_email.toLowerCase() === user.email.toLowerCase()) {
    errors.new_email = ["This is already your email address."];
  } else if (await takenByAnother(deps.db, input.new_email, userId)) {
    errors.new_email = [EMAIL_TAKEN];
  }
  if (Object.keys(errors).length > 0) throw validationError(errors);
  await deps.db.transaction(async (tx) => {
    const lifetime = deps.config.EMAIL_CHANGE_LIFETIME;
    const { token, row } = await issueAccountToken(tx, userId, "change_email", lifetime, {
      email: input.new_email,
    });
    const names = { firstName: user.firstName, username: user.username };
    await queueEmail(tx, deps, {
      to: input.new_email,
      template: confirmEmailChangeEmail,
      data: { ...names, newEmail: input.new_email, token, lifetimeSeconds: lifetime },
      causeKey: row.id,
      userId,
    });
    await queueEmail(tx, deps, {
      to: user.email,
      template: emailChangeNoticeEmail,
      data: { ...names, newEmail: input.new_email },
      causeKey: row.id,
      userId,
    });
  });
}

/**
 * POST /api/auth/change-email/confirm/: spends the token and moves the account to the new address,
 * now verified (the link reached it). The address is checked again, since another account may
 * have taken it since the request; then the token stays unspent. Links still pointing at the old
 * address (verification, password reset) stop working. The Stripe customer follows by a job
 * queued in the same transaction.
 */
export async function confirmEmailChange(deps: EmailChangeDeps, token: string): Promise<string> {
  try {
    return await deps.db.transaction(async (tx) => {
      const used = await consumeAccountToken(tx, token, "change_email");
      const email = used.payload?.email;
      if (typeof email !== "string") throw new Error("change_email token without an address");
      if (await takenByAnother(tx, email, used.userId)) throw emailTaken();
      const [user] = await tx
        .update(users)
        .set({ email, emailVerifiedAt: new Date(), updatedAt: new Date() })
        .where(eq(users.id, used.userId))
        .returning({ stripeCustomerId: users.stripeCustomerId });
      await revokeAccountTokens(tx, used.userId, "verify_email", "email_changed");
      await revokeAccountTokens(tx, used.userId, "password_reset", "email_changed");
      if (user?.stripeCustomerId) {
        await deps.jobs.enqueue(
          tx,
          syncStripeEmailJob,
          { userId: used.userId, email, changeId: used.id },
          { key: used.id },
        );
      }
      return email;
    });
  } catch (err) {
    // Two confirmations racing for one address: the unique index decides.
    if (driverError(err)?.code === "23505") throw emailTaken();
    throw err;
  }
}

const emailTaken = () => fieldError("token", `This address is no longer free: ${EMAIL_TAKEN}`);

/**
 * Sets the Stripe customer's email to the confirmed address. Safe to run twice: the idempotency
 * key (the change's token id) makes Stripe apply it once, and a change that a newer one (or a
 * deletion) overtook is skipped, so retries never put an old address back.
 */
export async function syncStripeEmail(
  deps: { db: Db; stripe: Stripe; logger: Logger },
  payload: { userId: string; email: string; changeId: string },
): Promise<void> {
  const [user] = await deps.db
    .select({ email: users.email, customer: users.stripeCustomerId })
    .from(users)
    .where(eq(users.id, payload.userId));
  if (!user?.customer || user.email.toLowerCase() !== payload.email.toLowerCase()) return;
  await deps.stripe.customers.update(
    user.customer,
    { email: payload.email },
    { idempotencyKey: `email-change:${payload.changeId}` },
  );
  deps.logger.info({ userId: payload.userId }, "Stripe customer email updated");
}

export const syncStripeEmailJob = defineJob({
  name: "accounts.sync-stripe-email",
  payload: Type.Object({
    userId: Type.String({ format: "uuid" }),
    email: Type.String(),
    changeId: Type.String({ format: "uuid" }),
  }),
  // Stripe may be down for a while: doubling from 10 s, ten retries span hours.
  retry: { limit: 10, delaySeconds: 10, backoff: true },
  async handler(payload, deps: Pick<JobDeps, "database" | "stripe" | "logger">) {
    await syncStripeEmail(
      { db: deps.database.db, stripe: deps.stripe.stripe, logger: deps.logger },
      payload,
    );
  },
});
