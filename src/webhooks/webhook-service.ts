import { desc, eq, inArray, sql } from "drizzle-orm";
import Stripe from "stripe";
import type { BillingDeps } from "../billing/sync-service.ts";
import type { Db, Executor } from "../platform/db/client.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Metrics } from "../platform/metrics.ts";
import { handleEvent } from "./webhook-handlers.ts";
import { processEventJob } from "./webhook-jobs.ts";
import { stripeEvents } from "./webhook-tables.ts";

export type StoredEvent = typeof stripeEvents.$inferSelect;

export interface IntakeDeps {
  db: Db;
  jobs: BillingDeps["jobs"];
  /** Only its webhook helpers are used: verification needs no network. */
  stripe: Stripe;
  webhookSecret: string | undefined;
}

/** Stripe's own limit, and the SDK's default: a replayed capture older than this is refused. */
const TOLERANCE_SECONDS = 300;

function isEvent(value: unknown): value is Stripe.Event {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | undefined;
  return (
    typeof e.id === "string" &&
    e.id.length > 0 &&
    e.object === "event" &&
    typeof e.type === "string" &&
    typeof e.created === "number" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}

/**
 * Webhook intake (DESIGN §4.2): verify the signature over the exact bytes, store the event once
 * (a redelivery hits the primary key) and enqueue its processing in the same transaction, so an
 * event is processed if and only if it was stored. Nothing is stored for a request that fails
 * verification or is not an event.
 */
export async function receiveEvent(
  deps: IntakeDeps,
  rawBody: Buffer,
  signature: string | string[] | undefined,
): Promise<{ duplicate: boolean; type: string }> {
  if (!deps.webhookSecret) {
    throw businessError("unavailable", "Webhook signing secret is not configured.");
  }
  if (typeof signature !== "string" || signature === "") {
    throw businessError("invalid", "Missing Stripe-Signature header.");
  }
  let event: unknown;
  try {
    event = deps.stripe.webhooks.constructEvent(
      rawBody,
      signature,
      deps.webhookSecret,
      TOLERANCE_SECONDS,
    );
  } catch (err) {
    if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw businessError("invalid", "Invalid signature.");
    }
    throw businessError("invalid", "Invalid payload.");
  }
  if (!isEvent(event)) throw businessError("invalid", "Invalid payload.");
  const verified = event;
  return deps.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(stripeEvents)
      .values({
        id: verified.id,
        type: verified.type,
        created: new Date(verified.created * 1000),
        apiVersion: verified.api_version,
        payload: verified,
      })
      .onConflictDoNothing()
      .returning({ id: stripeEvents.id });
    if (!row) return { duplicate: true, type: verified.type };
    await deps.jobs.enqueue(tx, processEventJob, { eventId: row.id }, { key: row.id });
    return { duplicate: false, type: verified.type };
  });
}

/**
 * Processes one stored event. Safe to run twice: a finished event is skipped, and every handler
 * writes through guarded upserts and unique keys. `final` says whether a failure now is the last
 * attempt (the row becomes `failed`, listed by `webhooks:list --failed`).
 */
export async function processStoredEvent(
  deps: BillingDeps & { metrics?: Metrics },
  eventId: string,
  final: boolean,
): Promise<StoredEvent["status"] | undefined> {
  const [row] = await deps.db
    .update(stripeEvents)
    .set({ attempts: sql`${stripeEvents.attempts} + 1` })
    .where(eq(stripeEvents.id, eventId))
    .returning();
  if (!row) return undefined;
  if (row.status === "processed" || row.status === "ignored") return row.status;
  try {
    // Verified and shape-checked at intake; stored as received.
    const outcome = await handleEvent(deps, row.payload as Stripe.Event);
    await deps.db
      .update(stripeEvents)
      .set({ status: outcome, processedAt: new Date(), lastError: null })
      .where(eq(stripeEvents.id, eventId));
    deps.metrics?.webhookEvents.inc({ type: row.type, outcome });
    deps.metrics?.webhookLag.observe(
      { type: row.type },
      (Date.now() - row.receivedAt.getTime()) / 1000,
    );
    return outcome;
  } catch (err) {
    await deps.db
      .update(stripeEvents)
      .set({
        status: final ? "failed" : "retrying",
        lastError: err instanceof Error ? err.message : String(err),
      })
      .where(eq(stripeEvents.id, eventId));
    deps.metrics?.webhookEvents.inc({ type: row.type, outcome: final ? "failed" : "retried" });
    throw err;
  }
}

export async function listEvents(
  db: Executor,
  options: { failed?: boolean; limit?: number } = {},
): Promise<StoredEvent[]> {
  const query = db.select().from(stripeEvents);
  const filtered = options.failed
    ? query.where(inArray(stripeEvents.status, ["failed", "retrying"]))
    : query;
  return filtered.orderBy(desc(stripeEvents.receivedAt)).limit(options.limit ?? 50);
}

/** `webhooks:replay`: processes a stored event again now, whatever its state, and reports. */
export async function replayEvent(
  deps: BillingDeps,
  eventId: string,
): Promise<StoredEvent["status"]> {
  const [row] = await deps.db
    .update(stripeEvents)
    .set({ status: "pending", processedAt: null, lastError: null })
    .where(eq(stripeEvents.id, eventId))
    .returning({ id: stripeEvents.id });
  if (!row) throw new Error(`no stored event ${eventId}`);
  return (await processStoredEvent(deps, eventId, true)) ?? "pending";
}
