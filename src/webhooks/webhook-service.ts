import { type Db, databaseUnavailable, driverError } from "../platform/db/client.ts";
import type { JobDeps } from "../platform/feature.ts";
import { businessError } from "../platform/http/errors.ts";
import type { Jobs } from "../platform/jobs/jobs.ts";
import { processEventQueue } from "./webhook-jobs.ts";
import { EventRejected, type IncomingEvent, type Verifier } from "./webhook-source.ts";
import { stripeEvents } from "./webhook-tables.ts";

export interface Intake {
  /** One per process, so that concurrent requests share transactions. */
  store: EventStore;
  /** The source's signature header, as its "missing" message names it. */
  signatureHeader: string;
  verifier: Verifier;
}

/** Events stored by one intake transaction, at most. */
const BATCH_LIMIT = 100;

/** Batch sizes whose insert is a named prepared statement (see `#insert`). */
const NAMED_SIZES = 32;

interface Arrival {
  event: IncomingEvent;
  resolve(duplicate: boolean): void;
  reject(err: unknown): void;
}

/**
 * Stores verified events and enqueues their processing, with group commit. An event that arrives
 * while no intake transaction is running is stored at once, in its own; the events that arrive
 * while one is running wait for it and are then stored together, in one multi-row insert, one job
 * insert and one commit. An idle endpoint adds no delay; a busy one pays one commit per batch
 * instead of one per event (docs/performance.md). Each request is answered after its own event
 * committed, never before.
 *
 * A batch the database refuses is retried event by event, so an event it cannot store fails only
 * its own request (its sender redelivers it). Ids are inserted in sorted order: two processes' batches
 * that share ids then lock them in the same order and cannot deadlock.
 */
export class EventStore {
  readonly #db: Db;
  readonly #jobs: Jobs<JobDeps>;
  #arrivals: Arrival[] = [];
  #running = false;

  constructor(deps: { db: Db; jobs: Jobs<JobDeps> }) {
    this.#db = deps.db;
    this.#jobs = deps.jobs;
  }

  /** Resolves once the event is stored (or found stored already: `duplicate`). */
  store(event: IncomingEvent): Promise<boolean> {
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
  async #insert(events: IncomingEvent[]): Promise<Set<string>> {
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
      // present: receiveEvent checked the others), so PostgreSQL plans each size once per
      // connection (docs/performance.md). Sizes past NAMED_SIZES, which only a backlog
      // reaches, are planned each time, so a connection keeps at most that many.
      const rows = await (sorted.length <= NAMED_SIZES
        ? insert.prepare(`stripe_events_insert_${sorted.length}`).execute()
        : insert);
      await this.#jobs.enqueueMany(
        tx,
        processEventQueue,
        rows.map((row) => ({ payload: { eventId: row.id }, key: row.id })),
      );
      return new Set(rows.map((row) => row.id));
    });
  }
}

/** SQLSTATE class 22: the database refuses a value itself (a \u0000 inside jsonb, say). */
const refusedValue = (err: unknown) => driverError(err)?.code.startsWith("22") === true;

const invalidPayload = () => new EventRejected("Invalid payload.");

/** The envelope the ledger stores by, whatever the source checked besides. */
function isIncomingEvent(value: unknown): value is IncomingEvent {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  return (
    typeof e.id === "string" &&
    e.id.length > 0 &&
    typeof e.type === "string" &&
    typeof e.created === "number"
  );
}

/**
 * Webhook intake (docs/architecture.md, 'The webhook ledger'): the source verifies the signature
 * over the exact bytes, then the event is stored once (a redelivery hits the primary key) and its
 * processing enqueued in the same transaction (`EventStore`), so an event is processed if and only
 * if it was stored. Nothing is stored for a request that fails verification or is not an event.
 */
export async function receiveEvent(
  intake: Intake,
  rawBody: Buffer,
  signature: string | string[] | undefined,
): Promise<{ duplicate: boolean; type: string }> {
  const { verifier } = intake;
  if ("unavailable" in verifier) throw businessError("unavailable", verifier.unavailable);
  if (typeof signature !== "string" || signature === "") {
    throw new EventRejected(`Missing ${intake.signatureHeader} header.`);
  }
  const event = verifier.verify(rawBody, signature);
  if (!isIncomingEvent(event)) throw invalidPayload();
  return { duplicate: await intake.store.store(event), type: event.type };
}
