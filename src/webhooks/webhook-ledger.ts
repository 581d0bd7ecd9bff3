import { desc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import type { Db, Executor, Tx } from "../platform/db/client.ts";
import type { Metrics } from "../platform/metrics.ts";
import { stripeEvents } from "./webhook-tables.ts";

// The ledger of received events: attempts, outcomes, dead letters, replay and the operator's
// queries. It knows nothing of what an event means: the handler a feature injects
// (`EventsHandler`, see src/features.ts) decides that.

export type StoredEvent = typeof stripeEvents.$inferSelect;

/** What handling an event came to. `ignored`: a type nobody acts on, answered all the same. */
export type Outcome = "processed" | "ignored";

/** An event as its handler receives it: verified and shape-checked at intake, stored as received. */
export interface LedgerEvent {
  id: string;
  type: string;
  payload: unknown;
}

/** What the ledger offers a handler for one batch. */
export interface Batch {
  /**
   * The database clock as of counting this batch's attempts, so earlier than anything the handler
   * fetches for it: a version marker for what it reads.
   */
  readAt: Date;
  /**
   * Marks events `processed` inside the handler's own transaction, with the writes they caused; the
   * handler then answers them `settled`.
   */
  settle(tx: Tx, ids: string[]): Promise<void>;
}

/** Per event: its outcome, `settled` (processed and recorded through `Batch.settle`), or its error. */
export type HandlerResult = Outcome | "settled" | Error;

/**
 * Handles a batch of events and answers, per event in order, a `HandlerResult`. It throws only
 * when nothing could be done (the whole batch is then retried). Must be safe to run twice on an
 * event: a job may be retried after it succeeded but before it was recorded.
 */
export type EventsHandler<D> = (
  deps: D,
  events: LedgerEvent[],
  batch: Batch,
) => Promise<HandlerResult[]>;

/** The handler bound to its dependencies. */
export type HandleEvents = (events: LedgerEvent[], batch: Batch) => Promise<HandlerResult[]>;

export interface LedgerDeps {
  db: Db;
  metrics?: Metrics;
}

/**
 * Processes a batch of stored events (the worker's path) and answers, per event in order, the
 * error it failed with or `undefined`. One statement counts every attempt; the handler takes the
 * events not finished yet at once; each outcome is then recorded on its own row, so one event's
 * failure is its own. `final` says whether a failure now is the event's last attempt (the row
 * becomes `failed`, listed by `webhooks:list --failed`).
 */
export async function processStoredEvents(
  deps: LedgerDeps,
  handle: HandleEvents,
  events: { eventId: string; final: boolean }[],
): Promise<(Error | undefined)[]> {
  const { rows, clock } = await countAttempts(
    deps.db,
    events.map((e) => e.eventId),
  );
  const due = rows.filter((row) => !finished(row));
  const final = new Map(events.map((e) => [e.eventId, e.final]));
  const errors = new Map<string, Error>();
  const results = due.length > 0 ? await handle(due.map(ledgerEvent), batchAt(clock)) : [];
  for (const [i, row] of due.entries()) {
    const outcome = await record(deps, row, results[i], final.get(row.id) ?? true);
    if (outcome instanceof Error) errors.set(row.id, outcome);
  }
  return events.map((e) => errors.get(e.eventId));
}

/**
 * Processes one stored event and answers its status (undefined: no such event). Safe to run twice:
 * a finished event is skipped, and the handler treats "already done" as success.
 */
export async function processStoredEvent(
  deps: LedgerDeps,
  handle: HandleEvents,
  eventId: string,
  final: boolean,
): Promise<StoredEvent["status"] | undefined> {
  const { rows, clock } = await countAttempts(deps.db, [eventId]);
  const [row] = rows;
  if (!row) return undefined;
  if (finished(row)) return row.status;
  const [result] = await handle([ledgerEvent(row)], batchAt(clock));
  const outcome = await record(deps, row, result, final);
  if (outcome instanceof Error) throw outcome;
  return outcome;
}

function batchAt(readAt: Date): Batch {
  return {
    readAt,
    async settle(tx, ids) {
      if (ids.length === 0) return;
      await tx
        .update(stripeEvents)
        .set({ status: "processed", processedAt: new Date(), lastError: null })
        .where(inArray(stripeEvents.id, ids));
    },
  };
}

/** Records an event's result on its row; answers its outcome, or the error it failed with. */
async function record(
  deps: LedgerDeps,
  row: StoredEvent,
  result: HandlerResult | undefined,
  final: boolean,
): Promise<Outcome | Error> {
  if (result === "settled") {
    recordOutcome(deps, row, "processed");
    return "processed";
  }
  if (result === "processed" || result === "ignored") {
    await deps.db
      .update(stripeEvents)
      .set({ status: result, processedAt: new Date(), lastError: null })
      .where(eq(stripeEvents.id, row.id));
    recordOutcome(deps, row, result);
    return result;
  }
  const err = result ?? new Error(`event ${row.id} got no answer from its handler`);
  await deps.db
    .update(stripeEvents)
    .set({ status: final ? "failed" : "retrying", lastError: err.message })
    .where(eq(stripeEvents.id, row.id));
  deps.metrics?.webhookEvents.inc({ type: row.type, outcome: final ? "failed" : "retried" });
  return err;
}

function recordOutcome(deps: LedgerDeps, row: StoredEvent, outcome: Outcome): void {
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

const ledgerEvent = (row: StoredEvent): LedgerEvent => ({
  id: row.id,
  type: row.type,
  payload: row.payload,
});

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
  deps: LedgerDeps,
  handle: HandleEvents,
  eventId: string,
): Promise<StoredEvent["status"]> {
  const [row] = await deps.db
    .update(stripeEvents)
    .set({ status: "pending", processedAt: null, lastError: null })
    .where(eq(stripeEvents.id, eventId))
    .returning({ id: stripeEvents.id });
  if (!row) throw new Error(`no stored event ${eventId}`);
  return (await processStoredEvent(deps, handle, eventId, true)) ?? "pending";
}
