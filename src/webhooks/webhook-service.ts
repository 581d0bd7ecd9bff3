import { desc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import pLimit from "p-limit";
import Stripe from "stripe";
import {
  applySubscriptions,
  type BillingDeps,
  RetryLater,
  type Snapshot,
} from "../billing/sync-service.ts";
import { type Db, databaseUnavailable, driverError, type Executor } from "../platform/db/client.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Metrics } from "../platform/metrics.ts";
import { handleEvent, type Outcome, subscriptionToSync } from "./webhook-handlers.ts";
import { processEventJob } from "./webhook-jobs.ts";
import { stripeEvents } from "./webhook-tables.ts";

export type StoredEvent = typeof stripeEvents.$inferSelect;

export interface IntakeDeps {
  /** One per process, so that concurrent requests share transactions. */
  store: EventStore;
  /** Only its webhook helpers are used: verification needs no network. */
  stripe: Stripe;
  webhookSecret: string | undefined;
}

/** Events stored by one intake transaction, at most. */
const BATCH_LIMIT = 100;

/** Batch sizes whose insert is a named prepared statement (see `#insert`). */
const NAMED_SIZES = 32;

interface Arrival {
  event: Stripe.Event;
  resolve(duplicate: boolean): void;
  reject(err: unknown): void;
}

/**
 * Stores verified events and enqueues their processing, with group commit. An event that arrives
 * while no intake transaction is running is stored at once, in its own; the events that arrive
 * while one is running wait for it and are then stored together, in one multi-row insert, one job
 * insert and one commit. An idle endpoint adds no delay; a busy one pays one commit per batch
 * instead of one per event (measured by bench/: webhook intake). Each request is answered after
 * its own event committed, never before.
 *
 * A batch the database refuses is retried event by event, so an event it cannot store fails only
 * its own request (Stripe redelivers it). Ids are inserted in sorted order: two processes' batches
 * that share ids then lock them in the same order and cannot deadlock.
 */
export class EventStore {
  readonly #db: Db;
  readonly #jobs: BillingDeps["jobs"];
  #arrivals: Arrival[] = [];
  #running = false;

  constructor(deps: { db: Db; jobs: BillingDeps["jobs"] }) {
    this.#db = deps.db;
    this.#jobs = deps.jobs;
  }

  /** Resolves once the event is stored (or found stored already: `duplicate`). */
  store(event: Stripe.Event): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.#arrivals.push({ event, resolve, reject });
      if (!this.#running) void this.#drain();
    });
  }

  async #drain(): Promise<void> {
    this.#running = true;
    try {
      while (this.#arrivals.length > 0) {
        await this.#commit(this.#arrivals.splice(0, BATCH_LIMIT));
      }
    } finally {
      this.#running = false;
    }
  }

  async #commit(batch: Arrival[]): Promise<void> {
    // A redelivery racing its original inside one batch: the first is the one stored.
    const first = new Map<string, Arrival>();
    const repeats: Arrival[] = [];
    for (const arrival of batch) {
      if (first.has(arrival.event.id)) repeats.push(arrival);
      else first.set(arrival.event.id, arrival);
    }
    try {
      const stored = await this.#insert([...first.values()].map((a) => a.event));
      for (const [id, arrival] of first) arrival.resolve(!stored.has(id));
      for (const arrival of repeats) arrival.resolve(true);
    } catch (err) {
      if (batch.length === 1 || databaseUnavailable(err)) {
        const answer = batch.length === 1 && refusedValue(err) ? invalidPayload() : err;
        for (const arrival of batch) arrival.reject(answer);
        return;
      }
      for (const arrival of batch) await this.#commit([arrival]);
    }
  }

  /** One transaction: the new events' rows and their processing jobs. Returns the ids it stored. */
  async #insert(events: Stripe.Event[]): Promise<Set<string>> {
    const sorted = events.toSorted((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.#db.transaction(async (tx) => {
      const insert = tx
        .insert(stripeEvents)
        .values(
          sorted.map((event) => ({
            id: event.id,
            type: event.type,
            created: new Date(event.created * 1000),
            // Never undefined, which Drizzle writes as `default` and which would change the
            // statement's text for the same name (below).
            apiVersion: event.api_version ?? null,
            payload: event,
          })),
        )
        .onConflictDoNothing()
        .returning({ id: stripeEvents.id });
      // Named by its number of rows, the only thing its text depends on (every value above is
      // present: isEvent checked the others at intake), so PostgreSQL plans each size once per
      // connection (8 rows: 0.65 → 0.39 ms here). Sizes past NAMED_SIZES, which only a backlog
      // reaches, are planned each time, so a connection keeps at most that many.
      const rows = await (sorted.length <= NAMED_SIZES
        ? insert.prepare(`stripe_events_insert_${sorted.length}`).execute()
        : insert);
      await this.#jobs.enqueueMany(
        tx,
        processEventJob,
        rows.map((row) => ({ payload: { eventId: row.id }, key: row.id })),
      );
      return new Set(rows.map((row) => row.id));
    });
  }
}

/** SQLSTATE class 22: the database refuses a value itself (a \u0000 inside jsonb, say). */
const refusedValue = (err: unknown) => driverError(err)?.code.startsWith("22") === true;

const invalidPayload = () => businessError("invalid", "Invalid payload.");

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
 * (a redelivery hits the primary key) and enqueue its processing in the same transaction
 * (`EventStore`), so an event is processed if and only if it was stored. Nothing is stored for a
 * request that fails verification or is not an event.
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
    throw invalidPayload();
  }
  if (!isEvent(event)) throw invalidPayload();
  return { duplicate: await deps.store.store(event), type: event.type };
}

type ProcessDeps = BillingDeps & { metrics?: Metrics };

/**
 * Processes one stored event. Safe to run twice: a finished event is skipped, and every handler
 * writes through guarded upserts and unique keys. `final` says whether a failure now is the last
 * attempt (the row becomes `failed`, listed by `webhooks:list --failed`).
 */
export async function processStoredEvent(
  deps: ProcessDeps,
  eventId: string,
  final: boolean,
): Promise<StoredEvent["status"] | undefined> {
  const { rows } = await countAttempts(deps.db, [eventId]);
  const [row] = rows;
  if (!row) return undefined;
  if (finished(row)) return row.status;
  const outcome = await processRow(deps, row, final);
  if (outcome instanceof Error) throw outcome;
  return outcome;
}

/** Subscription reads in flight per batch: a backlog must not turn into a burst against Stripe. */
const READS_PER_BATCH = 5;

/**
 * Processes a batch of stored events (the worker's path) and answers, per event in order, the
 * error it failed with or `undefined`. Equivalent to `processStoredEvent` on each, in fewer
 * statements: one counts every attempt; the subscription events, the bulk of Stripe's traffic,
 * read each subscription once however many of them name it, and are written in one transaction
 * with their new status. Should that transaction fail (a user not linked yet, a refused write),
 * and for every other type, each event is processed on its own, so one event's failure is its
 * own.
 */
export async function processStoredEvents(
  deps: ProcessDeps,
  events: { eventId: string; final: boolean }[],
): Promise<(Error | undefined)[]> {
  const { rows, clock } = await countAttempts(
    deps.db,
    events.map((e) => e.eventId),
  );
  // Subscription events by the subscription they sync; every other type on its own.
  const bySubscription: Synced = new Map();
  const others: StoredEvent[] = [];
  for (const row of rows) {
    if (finished(row)) continue;
    const id = subscriptionToSync(payloadOf(row));
    if (id === undefined) others.push(row);
    else bySubscription.set(id, [...(bySubscription.get(id) ?? []), row]);
  }
  const alone = [...others, ...(await syncTogether(deps, bySubscription, clock))];
  const errors = new Map<string, Error>();
  const final = new Map(events.map((e) => [e.eventId, e.final]));
  for (const row of alone) {
    const outcome = await processRow(deps, row, final.get(row.id) ?? true);
    if (outcome instanceof Error) errors.set(row.id, outcome);
  }
  return events.map((e) => errors.get(e.eventId));
}

/** Subscription events by the subscription they sync. */
type Synced = Map<string, StoredEvent[]>;

/**
 * Reads each subscription of `bySubscription` once and writes them with their events' `processed`
 * status in one transaction. `readAt` is the database clock of before any read left: the version
 * marker every snapshot carries (DESIGN §4.1), and earlier than every read. Answers the events
 * left to process one by one: those whose read failed or whose user is not known yet, or all of
 * them if the transaction failed.
 */
async function syncTogether(
  deps: ProcessDeps,
  bySubscription: Synced,
  readAt: Date,
): Promise<StoredEvent[]> {
  const all = [...bySubscription.values()].flat();
  // Sorted, so two batches that share subscriptions lock their rows in the same order.
  const ids = [...bySubscription.keys()].sort();
  const limit = pLimit(READS_PER_BATCH);
  const reads = await Promise.allSettled(
    ids.map((id) => limit(() => deps.stripe.subscriptions.retrieve(id))),
  );
  const snapshots: Snapshot[] = reads.flatMap((read) =>
    read.status === "fulfilled" ? [{ sub: read.value, readAt }] : [],
  );
  if (snapshots.length === 0) return all;
  let synced: StoredEvent[];
  try {
    synced = await deps.db.transaction(async (tx) => {
      const applied = await applySubscriptions(tx, deps, snapshots);
      // A subscription whose user is not known yet leaves its events to the one-by-one path,
      // which records the failure and retries them.
      const done = snapshots.flatMap(({ sub }, i) =>
        applied[i] instanceof RetryLater ? [] : (bySubscription.get(sub.id) ?? []),
      );
      if (done.length > 0) {
        await tx
          .update(stripeEvents)
          .set({ status: "processed", processedAt: new Date(), lastError: null })
          .where(
            inArray(
              stripeEvents.id,
              done.map((row) => row.id),
            ),
          );
      }
      return done;
    });
  } catch {
    return all;
  }
  for (const row of synced) recordOutcome(deps, row, "processed");
  const processed = new Set(synced);
  return all.filter((row) => !processed.has(row));
}

/** Runs an event's handler and records the outcome; answers it, or the error it failed with. */
async function processRow(
  deps: ProcessDeps,
  row: StoredEvent,
  final: boolean,
): Promise<Outcome | Error> {
  try {
    const outcome = await handleEvent(deps, payloadOf(row));
    await deps.db
      .update(stripeEvents)
      .set({ status: outcome, processedAt: new Date(), lastError: null })
      .where(eq(stripeEvents.id, row.id));
    recordOutcome(deps, row, outcome);
    return outcome;
  } catch (err) {
    await deps.db
      .update(stripeEvents)
      .set({
        status: final ? "failed" : "retrying",
        lastError: err instanceof Error ? err.message : String(err),
      })
      .where(eq(stripeEvents.id, row.id));
    deps.metrics?.webhookEvents.inc({ type: row.type, outcome: final ? "failed" : "retried" });
    return err instanceof Error ? err : new Error(String(err));
  }
}

function recordOutcome(deps: ProcessDeps, row: StoredEvent, outcome: Outcome): void {
  deps.metrics?.webhookEvents.inc({ type: row.type, outcome });
  deps.metrics?.webhookLag.observe(
    { type: row.type },
    (Date.now() - row.receivedAt.getTime()) / 1000,
  );
}

/**
 * Counts an attempt at each stored event of `ids` and answers their rows, with the database clock
 * as of this statement (so before anything it leads to is fetched).
 */
async function countAttempts(db: Db, ids: string[]): Promise<{ rows: StoredEvent[]; clock: Date }> {
  const rows = await db
    .update(stripeEvents)
    .set({ attempts: sql`${stripeEvents.attempts} + 1` })
    .where(inArray(stripeEvents.id, ids))
    .returning({
      ...getTableColumns(stripeEvents),
      clock: sql<string | Date>`clock_timestamp()`,
    });
  const clock = rows[0] ? new Date(rows[0].clock) : new Date();
  return { rows: rows.map(({ clock: _clock, ...row }) => row), clock };
}

const finished = (row: StoredEvent) => row.status === "processed" || row.status === "ignored";

/** Verified and shape-checked at intake; stored as received. */
const payloadOf = (row: StoredEvent) => row.payload as Stripe.Event;

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
