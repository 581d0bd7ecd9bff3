import { randomUUID } from "node:crypto";
import { and, desc, eq } from "drizzle-orm";
import type { Static } from "typebox";
import {
  deletionState,
  getUserById,
  listSessions,
  resendVerification,
  setUserActive,
  type User,
} from "../accounts/index.ts";
import { listAudit } from "../audit/index.ts";
import {
  invoiceBody,
  listInvoices,
  listPayments,
  listSubscriptionsForStaff,
  paymentBody,
  subscriptionStatus,
} from "../billing/index.ts";
import type { Db } from "../platform/db/client.ts";
import { sendEmailJob } from "../platform/email/email-jobs.ts";
import { emails } from "../platform/email/email-tables.ts";
import type { AppDeps } from "../platform/feature.ts";
import { businessError } from "../platform/http/errors.ts";
import type { OutboxEmail, StaffUser, UserDetail } from "./users-schemas.ts";

const iso = (d: Date | null) => d?.toISOString() ?? null;
const FIRST_PAGE = { page: 1, limit: 20, offset: 0 };

export function staffUserBody(user: User): Static<typeof StaffUser> {
  return {
    id: user.id,
    email: user.email,
    username: user.username,
    first_name: user.firstName,
    last_name: user.lastName,
    is_active: user.isActive,
    is_staff: user.isStaff,
    is_superuser: user.isSuperuser,
    email_verified: user.emailVerifiedAt !== null,
    stripe_customer_id: user.stripeCustomerId,
    last_login: iso(user.lastLogin),
    created_at: user.createdAt.toISOString(),
  };
}

export async function requireUserById(db: Db, id: string): Promise<User> {
  const user = await getUserById(db, id);
  if (!user) throw businessError("not_found", "User not found.");
  return user;
}

async function userEmails(db: Db, userId: string): Promise<Static<typeof OutboxEmail>[]> {
  const rows = await db
    .select()
    .from(emails)
    .where(eq(emails.userId, userId))
    .orderBy(desc(emails.createdAt), desc(emails.id))
    .limit(20);
  return rows.map((r) => ({
    id: r.id,
    template: r.template,
    recipient: r.recipient,
    subject: r.subject,
    status: r.status,
    attempts: r.attempts,
    last_error: r.lastError,
    sent_at: iso(r.sentAt),
    created_at: r.createdAt.toISOString(),
  }));
}

/** Everything support looks at for one customer, each list its newest entries. */
export async function userDetail(db: Db, id: string): Promise<Static<typeof UserDetail>> {
  const user = await requireUserById(db, id);
  const [subscription, subscriptions, invoices, payments, mails, sessions, audit] =
    await Promise.all([
      subscriptionStatus(db, id),
      listSubscriptionsForStaff(db, { userId: id }, FIRST_PAGE),
      listInvoices(db, id, FIRST_PAGE),
      listPayments(db, id, FIRST_PAGE),
      userEmails(db, id),
      listSessions(db, id, undefined),
      listAudit(db, { userId: id, limit: 50 }),
    ]);
  return {
    user: staffUserBody(user),
    subscription,
    subscriptions: subscriptions.subscriptions,
    invoices: invoices.invoices.map(invoiceBody),
    payments: payments.payments.map(paymentBody),
    emails: mails,
    sessions: sessions.map(({ current: _, ...session }) => session),
    audit: audit.rows.map((row) => ({
      id: row.id,
      kind: row.kind,
      subject_id: row.subjectId,
      actor_kind: row.actorKind,
      actor_id: row.actorId,
      request_id: row.requestId,
      reason: row.reason,
      before: row.before,
      after: row.after,
      created_at: row.createdAt.toISOString(),
    })),
  };
}

/**
 * Activates or deactivates an account. Deactivation locks the user out at once (every request
 * reads `is_active`) and ends every session, so activating again later asks for a fresh sign-in
 * rather than reviving devices that were signed in before. A deleted account stays locked.
 */
export async function setActive(
  db: Db,
  staffUserId: string,
  id: string,
  active: boolean,
): Promise<User> {
  const user = await requireUserById(db, id);
  if (!active && user.id === staffUserId) {
    throw businessError("invalid", "You cannot deactivate your own account.");
  }
  if (active && (await deletionState(db, id)) !== "none") {
    throw businessError("conflict", "The account is deleted; it cannot be activated.");
  }
  await setUserActive(db, id, active);
  return requireUserById(db, id);
}

/**
 * Sends one of the user's emails again, exactly as it was rendered (links in it included), as a
 * new outbox row: the original keeps its own delivery history.
 */
export async function resendEmailCopy(
  deps: Pick<AppDeps, "database" | "jobs">,
  userId: string,
  emailId: string,
): Promise<string> {
  const { db } = deps.database;
  return db.transaction(async (tx) => {
    const [original] = await tx
      .select()
      .from(emails)
      .where(and(eq(emails.id, emailId), eq(emails.userId, userId)));
    if (!original) throw businessError("not_found", "This user has no such email.");
    const [copy] = await tx
      .insert(emails)
      .values({
        recipient: original.recipient,
        template: original.template,
        causeKey: `${original.causeKey}:resend:${randomUUID()}`,
        userId,
        subject: original.subject,
        textBody: original.textBody,
        htmlBody: original.htmlBody,
      })
      .returning({ id: emails.id });
    if (!copy) throw new Error("insert returned no email");
    await deps.jobs.enqueue(tx, sendEmailJob, { emailId: copy.id }, { key: copy.id });
    return copy.id;
  });
}

/**
 * Without `emailId`, a new verification email (a fresh link; the previous one stops working);
 * with it, a copy of that email. Returns the copy's id, or null for a verification email.
 */
export async function resendEmail(
  deps: Pick<AppDeps, "database" | "jobs" | "config">,
  userId: string,
  emailId: string | undefined,
): Promise<string | null> {
  const db = deps.database.db;
  const user = await requireUserById(db, userId);
  if (emailId) return resendEmailCopy(deps, user.id, emailId);
  await resendVerification({ db, jobs: deps.jobs, config: deps.config }, user);
  return null;
}
