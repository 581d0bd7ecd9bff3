import { AsyncLocalStorage } from "node:async_hooks";

// Who is acting, for the audit trail (docs/access.md, 'Audit trail'). The code that starts a unit
// of work says who acts (a route: the user; the webhook handler: the event; a job or the
// reconciler: itself; the admin API: the staff user); the code that writes a billing transition
// records it with `currentActor()`, so the services between them pass nothing.
//
// Two strengths. `withActor` is a caller's explicit word (the admin API, the reconciler): it holds
// for everything inside it. `withDefaultActor` is what an entry point assumes (a job runs as its
// queue, a CLI command as itself, a webhook event as that event, a route as its user): an inner
// default replaces an outer one (the webhook job's event is more precise than its queue), but
// never an explicit actor around it.

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

interface Acting {
  context: AuditContext;
  explicit: boolean;
}

const storage = new AsyncLocalStorage<Acting>();

/** Runs `fn` with `context` as the actor of every transition it records, defaults inside included. */
export function withActor<T>(context: AuditContext, fn: () => T): T {
  return storage.run({ context, explicit: true }, fn);
}

/** Runs `fn` as `context` unless a caller named the actor with `withActor`. */
export function withDefaultActor<T>(context: AuditContext, fn: () => T): T {
  if (storage.getStore()?.explicit) return fn();
  return storage.run({ context, explicit: false }, fn);
}

/** The context `withDefaultActor(context, …)` would run with here. */
export function actorOr(context: AuditContext): AuditContext {
  const acting = storage.getStore();
  return acting?.explicit ? acting.context : context;
}

/** The actor of the work in progress; `system` "unknown" when nothing said who acts. */
export function currentActor(): AuditContext {
  return storage.getStore()?.context ?? { actor: { kind: "system", job: "unknown" } };
}
