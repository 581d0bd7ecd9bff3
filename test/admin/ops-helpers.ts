import { and, eq } from "drizzle-orm";
import { users } from "../../src/accounts/accounts-tables.ts";
import { auditLog } from "../../src/audit/audit-tables.ts";
import type { Executor } from "../../src/platform/db/client.ts";
import type { BillingTestApp, Customer } from "../helpers/billing.ts";

// Helpers of the admin operations tests (payments, webhooks, jobs, plans).

/** The tests poll admin lists while they wait for the worker: far above THROTTLE_ADMIN's default. */
export const ADMIN_ENV = { THROTTLE_ADMIN: "100000/min" };

export interface AdminResult {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies of every endpoint, asserted field by field
  body: any;
}

export type AdminCall = (
  method: string,
  path: string,
  options?: { body?: unknown; key?: string },
) => Promise<AdminResult>;

/** A signed-up user made staff (as `users:grant-staff` does), and a caller acting as them. */
export async function staffCaller(
  t: BillingTestApp,
): Promise<{ staff: Customer; call: AdminCall }> {
  const staff = await t.signUp();
  await t.services.database.db
    .update(users)
    .set({ isStaff: true })
    .where(eq(users.id, staff.userId));
  const call: AdminCall = async (method, path, options = {}) => {
    const res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${staff.token}`,
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.key ? { "idempotency-key": options.key } : {}),
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
  };
  return { staff, call };
}

/** The audit rows of `kind` about `subjectId`, oldest first. */
export async function auditRows(db: Executor, kind: string, subjectId: string) {
  return db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.kind, kind), eq(auditLog.subjectId, subjectId)))
    .orderBy(auditLog.id);
}
