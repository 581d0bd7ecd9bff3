import { and, eq, inArray, ne } from "drizzle-orm";
import type Stripe from "stripe";
import { Type } from "typebox";
import type { Config } from "../config.ts";
import type { Db, Executor, Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import { emails } from "../platform/email/email-tables.ts";
import type { JobDeps } from "../platform/feature.ts";
import { fieldError } from "../platform/http/errors.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import type { Logger } from "../platform/logging.ts";
import { accountDeletions, accountTokens, sessions, users } from "./accounts-tables.ts";
import { goodbyeEmail } from "./lifecycle-emails.ts";
import { type HashConfig, verifyPassword } from "./passwords.ts";
import { revokeAllRefreshTokens } from "./token-service.ts";

// Account deletion (docs/accounts.md, 'Deleting an account'). The request locks the account out at
// once and queues one job; the job settles billing at Stripe, then sends the goodbye email and
// anonymizes the user row in one transaction. Each step records its completion in
// `account_deletions`, and every Stripe write carries an idempotency key, so a job that dies
// halfway and runs again repeats nothing that was done.

export type CancelMode = "immediately" | "period_end";

export interface DeletionRequestDeps {
  db: Db;
  config: Pick<Config, "ACCOUNT_DELETE_CANCEL"> & HashConfig;
  jobs: Jobs<JobDeps>;
}

/**
 * DELETE /api/auth/profile/: the password again, then the deletion is scheduled. A wrong password
 * is a field error on `password`, like change-password's.
 */
export async function requestAccountDeletion(
  deps: DeletionRequestDeps,
  userId: string,
  password: string,
): Promise<void> {
  const [row] = await deps.db
    .select({ passwordHash: users.passwordHash })
    .from(users)
    .where(eq(users.id, userId));
  if (!row || !(await verifyPassword(row.passwordHash, password, deps.config))) {
    throw fieldError("password", "Password is incorrect.");
  }
  await scheduleAccountDeletion(deps, userId, "user");
}

/**
 * Locks the account out (inactive, every session and refresh token revoked), records the
 * deletion and queues its job, in one transaction. Asking twice changes nothing: the first
 * request's row and job stand.
 */
export async function scheduleAccountDeletion(
  deps: Pick<DeletionRequestDeps, "db" | "config" | "jobs">,
  userId: string,
  requestedBy: "user" | "operator",
): Promise<void> {
  await deps.db.transaction(async (tx) => {
    await tx
      .update(users)
      .set({ isActive: false, updatedAt: new Date() })
      .where(eq(users.id, userId));
    await revokeAllRefreshTokens(tx, userId, "account_deleted");
    await tx
      .insert(accountDeletions)
      .values({ userId, requestedBy, cancelMode: deps.config.ACCOUNT_DELETE_CANCEL })
      .onConflictDoNothing();
    await deps.jobs.enqueue(tx, deleteAccountJob, { userId }, { key: userId });
  });
}

type DeletionDeps = {
  db: Db;
  stripe: Stripe;
  jobs: Jobs<JobDeps>;
  config: Config;
  logger: Logger;
};

/** Runs what is left of a scheduled deletion; a finished or unknown one is left alone. */
export async function runAccountDeletion(deps: DeletionDeps, userId: string): Promise<void> {
  const [deletion] = await deps.db
    .select()
    .from(accountDeletions)
    .where(eq(accountDeletions.userId, userId));
  if (!deletion || deletion.completedAt) return;
  const [user] = await deps.db
    .select({ stripeCustomerId: users.stripeCustomerId })
    .from(users)
    .where(eq(users.id, userId));
  if (!user) return;
  if (!deletion.stripeSettledAt) {
    if (user.stripeCustomerId) {
      await settleAtStripe(deps.stripe, user.stripeCustomerId, deletion.cancelMode as CancelMode, {
        keyPrefix: `account-deletion:${userId}`,
        logger: deps.logger,
      });
    }
    await deps.db
      .update(accountDeletions)
      .set({ stripeSettledAt: new Date() })
      .where(eq(accountDeletions.userId, userId));
  }
  await forgetUser(deps, userId, deletion.cancelMode === "period_end");
}

/** Stripe's subscription statuses that still bill or may bill. */
const ENDED = new Set(["canceled", "incomplete_expired"]);

/**
 * Runs a Stripe write; if Stripe refuses it as invalid and `done` finds its effect already there
 * (another run, the CLI and the job at once, got there first), that is success.
 */
async function idempotent(write: () => Promise<unknown>, done: () => Promise<boolean>) {
  try {
    await write();
  } catch (err) {
    if ((err as { type?: unknown }).type !== "StripeInvalidRequestError" || !(await done())) {
      throw err;
    }
  }
}

/**
 * Ends the customer's live subscriptions (now, or at the end of the paid period) and detaches
 * every saved payment method. Safe to repeat: what is ended or detached is no longer listed, a
 * write whose answer was lost is replayed by Stripe under the same idempotency key, and one that
 * a concurrent run already made is refused by Stripe and found done.
 */
export async function settleAtStripe(
  stripe: Stripe,
  customer: string,
  mode: CancelMode,
  options: { keyPrefix: string; logger: Logger },
): Promise<void> {
  const key = (what: string) => ({ idempotencyKey: `${options.keyPrefix}:${what}` });
  for await (const sub of stripe.subscriptions.list({ customer, status: "all", limit: 100 })) {
    if (ENDED.has(sub.status)) continue;
    const ended = async () => ENDED.has((await stripe.subscriptions.retrieve(sub.id)).status);
    // A schedule would go on changing (or renewing) the subscription: release it first.
    if (sub.schedule) {
      const schedule = typeof sub.schedule === "string" ? sub.schedule : sub.schedule.id;
      await idempotent(
        () => stripe.subscriptionSchedules.release(schedule, {}, key(`release:${schedule}`)),
        async () => (await stripe.subscriptionSchedules.retrieve(schedule)).status !== "active",
      );
    }
    // An incomplete subscription has no paid period to run out: it ends now in either mode.
    if (mode === "immediately" || sub.status === "incomplete") {
      await idempotent(
        () => stripe.subscriptions.cancel(sub.id, {}, key(`cancel:${sub.id}`)),
        ended,
      );
    } else if (!sub.cancel_at_period_end) {
      await idempotent(
        () =>
          stripe.subscriptions.update(
            sub.id,
            { cancel_at_period_end: true },
            key(`cancel-at-period-end:${sub.id}`),
          ),
        ended,
      );
    }
    options.logger.info({ subscription: sub.id, mode }, "account deletion: subscription ended");
  }
  for await (const method of stripe.paymentMethods.list({ customer, limit: 100 })) {
    await idempotent(
      () => stripe.paymentMethods.detach(method.id, {}, key(`detach:${method.id}`)),
      async () => (await stripe.paymentMethods.retrieve(method.id)).customer === null,
    );
  }
}

/** What the user row holds once anonymized: nothing of the person, unique per id. */
export function anonymized(userId: string) {
  return {
    email: `deleted-${userId}@deleted.invalid`,
    username: `deleted_${userId.replaceAll("-", "")}`,
    firstName: "",
    lastName: "",
    // Not an argon2 hash: no password verifies against it.
    passwordHash: "!",
    isActive: false,
    isStaff: false,
    isSuperuser: false,
    emailVerifiedAt: null,
    lastLogin: null,
    updatedAt: new Date(),
  };
}

/**
 * The last step, in one transaction: queue the goodbye email to the address still on the row
 * (the outbox keeps its own copy of the recipient, so erasing the row cannot lose it), then erase
 * the person from the row, the sessions, the account tokens and the earlier emails. The row lock
 * on the deletion makes a concurrent run (the CLI and the job) wait and then find it done.
 */
async function forgetUser(deps: DeletionDeps, userId: string, atPeriodEnd: boolean) {
  await deps.db.transaction(async (tx) => {
    const [deletion] = await tx
      .select({ completedAt: accountDeletions.completedAt })
      .from(accountDeletions)
      .where(eq(accountDeletions.userId, userId))
      .for("update");
    if (!deletion || deletion.completedAt) return;
    const [user] = await tx.select().from(users).where(eq(users.id, userId));
    if (!user) return;
    await queueEmail(tx, deps, {
      to: user.email,
      template: goodbyeEmail,
      data: { firstName: user.firstName, username: user.username, atPeriodEnd },
      causeKey: userId,
      userId,
    });
    await eraseTraces(tx, userId);
    await tx.update(users).set(anonymized(userId)).where(eq(users.id, userId));
    await tx
      .update(accountDeletions)
      .set({ completedAt: new Date() })
      .where(eq(accountDeletions.userId, userId));
  });
  deps.logger.info({ userId }, "account deleted");
}

/** Sessions (IP, user agent), pending account tokens and the copies of earlier emails. */
async function eraseTraces(tx: Tx, userId: string): Promise<void> {
  await tx.delete(sessions).where(eq(sessions.userId, userId));
  await revokeAllRefreshTokens(tx, userId, "account_deleted");
  await tx.delete(accountTokens).where(eq(accountTokens.userId, userId));
  // Delivered or abandoned emails keep their row (the operator's log) but not the address or text;
  // one still on its way is left to finish.
  await tx
    .update(emails)
    .set({
      recipient: anonymized(userId).email,
      subject: "",
      textBody: "",
      htmlBody: "",
      updatedAt: new Date(),
    })
    .where(
      and(
        eq(emails.userId, userId),
        ne(emails.template, goodbyeEmail.name),
        inArray(emails.status, ["sent", "failed"]),
      ),
    );
}

/** Whether a deletion of this user is recorded, and whether it finished. */
export async function deletionState(
  executor: Executor,
  userId: string,
): Promise<"none" | "pending" | "done"> {
  const [row] = await executor
    .select({ completedAt: accountDeletions.completedAt })
    .from(accountDeletions)
    .where(eq(accountDeletions.userId, userId));
  if (!row) return "none";
  return row.completedAt ? "done" : "pending";
}

/**
 * Runs a scheduled deletion. Safe to run twice, or after a crash halfway: each step is recorded
 * when done and skipped after, Stripe writes are idempotent by key, and the goodbye email is
 * queued once per user (its outbox key) in the transaction that ends the deletion.
 */
export const deleteAccountJob = defineJob({
  name: "accounts.delete-account",
  payload: Type.Object({ userId: Type.String({ format: "uuid" }) }),
  // Stripe or the database may be down for a while: doubling from 10 s, ten retries span hours.
  retry: { limit: 10, delaySeconds: 10, backoff: true },
  concurrency: 1,
  async handler(
    { userId },
    deps: Pick<JobDeps, "database" | "stripe" | "jobs" | "config" | "logger">,
  ) {
    await runAccountDeletion(
      {
        db: deps.database.db,
        stripe: deps.stripe.stripe,
        jobs: deps.jobs,
        config: deps.config,
        logger: deps.logger,
      },
      userId,
    );
  },
});
