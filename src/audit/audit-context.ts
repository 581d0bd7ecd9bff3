import { AsyncLocalStorage } from "node:async_hooks";

// Who is acting, for the audit trail (docs/access.md, 'Audit trail'). The code that starts a unit
// of work says who acts (a route: the user; the webhook handler: the event; a job or the
// reconciler: itself; the admin API: the staff user) with `withActor`; the code that writes a
// billing transition records it with `currentActor()`, so the services between them pass nothing.

/** Who caused a change. */
export type AuditActor =
  | { kind: "user"; userId: string }
  | { kind: "admin"; userId: string }
  | { kind: "stripe_event"; eventId: string }
  | { kind: "system"; job: string };

export interface AuditContext {
  actor: AuditActor;
  /** The HTTP request's id, when a request caused it. */
  requestId?: string;
  /** Why, when the actor alone does not say (e.g. "reconcile"). */
  reason?: string;
}

const storage = new AsyncLocalStorage<AuditContext>();

/** Runs `fn` with `context` as the actor of every transition it records. */
export function withActor<T>(context: AuditContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** The actor of the work in progress; `system` "unknown" when nothing said who acts. */
export function currentActor(): AuditContext {
  return storage.getStore() ?? { actor: { kind: "system", job: "unknown" } };
}
