import { randomUUID } from "node:crypto";
import { and, eq, sql, TransactionRollbackError } from "drizzle-orm";
import { Type } from "typebox";
import type { Config } from "../config.ts";
import type { Db, Tx } from "../platform/db/client.ts";
import { queueEmail } from "../platform/email/email-service.ts";
import type { EmailConfig } from "../platform/email/templates.ts";
import type { JobDeps } from "../platform/feature.ts";
import { fieldError, validationError } from "../platform/http/errors.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import {
  AccountTokenError,
  checkAccountToken,
  consumeAccountToken,
  issueAccountToken,
  revokeAccountTokens,
} from "./account-tokens.ts";
import { users } from "./accounts-tables.ts";
import { type HashConfig, hashPassword, passwordProblems } from "./passwords.ts";
import { passwordChangedEmail, passwordResetEmail } from "./token-emails.ts";
import { revokeAllRefreshTokens } from "./token-service.ts";

/**
 * Password reset (docs/accounts.md). Asking for a reset never says whether the address has an
 * account: the request only queues a job, the same insert for every address, and the job looks
 * the account up and sends the link (or nothing). Using the link sets the password, revokes every
 * refresh token and emails a notice.
 */

type Deps = Pick<JobDeps, "jobs"> & {
  db: Db;
  config: EmailConfig & Pick<Config, "PASSWORD_RESET_LIFETIME">;
};

/**
 * Sends the reset link for a request, when the address belongs to an active account. Safe to run
 * twice: the email is keyed by the request, and a run that finds it already queued rolls back its
 * new token, so the link already sent stays the live one.
 */
export const passwordResetJob = defineJob({
  name: "accounts.password-reset",
  payload: Type.Object({
    email: Type.String({ maxLength: 254 }),
    requestId: Type.String({ format: "uuid" }),
  }),
  retry: { limit: 3, delaySeconds: 30, backoff: false },
  async handler(payload, deps: Pick<JobDeps, "database" | "jobs" | "config">) {
    await sendPasswordReset({ ...deps, db: deps.database.db }, payload.email, payload.requestId);
  },
});

/** The request's whole work, the same for every address: one job, inserted. */
export async function requestPasswordReset(
  deps: Pick<Deps, "db" | "jobs">,
  email: string,
): Promise<void> {
  const requestId = randomUUID();
  await deps.db.transaction((tx) =>
    deps.jobs.enqueue(tx, passwordResetJob, { email, requestId }, { key: requestId }),
  );
}

export async function sendPasswordReset(
  deps: Deps,
  email: string,
  requestId: string,
): Promise<void> {
  const [user] = await deps.db
    .select({
      id: users.id,
      email: users.email,
      firstName: users.firstName,
      username: users.username,
    })
    .from(users)
    .where(and(eq(sql`lower(${users.email})`, email.toLowerCase()), eq(users.isActive, true)));
  if (!user) return;
  const lifetime = deps.config.PASSWORD_RESET_LIFETIME;
  try {
    await deps.db.transaction(async (tx) => {
      const { token } = await issueAccountToken(tx, user.id, "password_reset", lifetime);
      const queued = await queueEmail(tx, deps, {
        to: user.email,
        template: passwordResetEmail,
        data: {
          firstName: user.firstName,
          username: user.username,
          token,
          lifetimeSeconds: lifetime,
        },
        causeKey: requestId,
        userId: user.id,
      });
      if (!queued) tx.rollback();
    });
  } catch (err) {
    if (!(err instanceof TransactionRollbackError)) throw err;
  }
}

export interface ResetConfirmInput {
  token: string;
  new_password: string;
  new_password_confirm: string;
}

/**
 * Sets a new password with a reset token. The token and the new password are checked before the
 * token is spent (a weak password leaves the link usable); then, in one transaction, the token is
 * spent, the password set, every refresh token revoked and the notice queued. Following the link
 * also proves the address, so it counts as verified.
 */
export async function confirmPasswordReset(
  deps: Deps & { config: HashConfig },
  input: ResetConfirmInput,
): Promise<void> {
  const token = await checkAccountToken(deps.db, input.token, "password_reset");
  const [user] = await deps.db.select().from(users).where(eq(users.id, token.userId));
  if (!user?.isActive) throw new AccountTokenError("revoked");
  const problems = passwordProblems(input.new_password, user);
  if (problems.length > 0) throw validationError({ new_password: problems });
  if (input.new_password !== input.new_password_confirm) {
    throw fieldError("new_password_confirm", "Passwords do not match.");
  }
  const passwordHash = await hashPassword(input.new_password, deps.config);
  await deps.db.transaction(async (tx) => {
    const used = await consumeAccountToken(tx, input.token, "password_reset");
    await tx
      .update(users)
      .set({
        passwordHash,
        emailVerifiedAt: sql`coalesce(${users.emailVerifiedAt}, now())`,
        updatedAt: new Date(),
      })
      .where(eq(users.id, user.id));
    await revokeAllRefreshTokens(tx, user.id, "password_changed");
    await queuePasswordChanged(tx, deps, user, used.id);
  });
}

/**
 * What every password change does besides setting the hash (a reset, and change-password): pending
 * reset links stop working, and the owner is told, so a change they did not make does not go
 * unnoticed. `causeKey` names the change (the reset token, or a fresh id).
 */
export async function queuePasswordChanged(
  tx: Tx,
  deps: Pick<Deps, "jobs"> & { config: EmailConfig },
  user: { id: string; email: string; firstName: string; username: string },
  causeKey: string = randomUUID(),
): Promise<void> {
  await revokeAccountTokens(tx, user.id, "password_reset", "password_changed");
  await queueEmail(tx, deps, {
    to: user.email,
    template: passwordChangedEmail,
    data: {
      firstName: user.firstName,
      username: user.username,
      changedAt: new Date().toISOString(),
    },
    causeKey,
    userId: user.id,
  });
}
