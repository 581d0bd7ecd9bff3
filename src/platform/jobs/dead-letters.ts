import { count, desc, type SQL, sql } from "drizzle-orm";
import { integer, jsonb, pgSchema, text, timestamp, uuid } from "drizzle-orm/pg-core";
import { type Executor, queryRows } from "../db/client.ts";
import { prepared } from "../db/prepared.ts";
import { deadLetterQueue } from "./definitions.ts";
import { JOB_SCHEMA, type Jobs } from "./jobs.ts";

// Dead letters, for operators (the admin API): a job whose retries are spent is moved by pg-boss
// into its queue's dead-letter queue (`<queue>.dead`, which no worker reads), with the queue it
// failed on, its retry count and its last error. Retrying one is pg-boss's redrive: the job goes
// back to its queue as a new job with a fresh retry budget, and leaves the dead-letter queue.
// The listing reads pg-boss's job table directly: pg-boss's `findJobs` reads one queue, oldest
// first, with no count, and a page of every queue's dead letters needs all three.

export interface DeadLetter {
  /** The job's id in the dead-letter queue: what `retryDeadLetter` takes. */
  id: string;
  /** The queue it failed on. */
  queue: string;
  payload: unknown;
  /** Its last attempt's error message, when pg-boss recorded one. */
  error: string | null;
  /** Retries it used before it was dead-lettered. */
  retryCount: number;
  /** When it was first queued, and when it was dead-lettered. */
  queuedAt: Date | null;
  deadLetteredAt: Date;
}

interface DeadLetterRow {
  id: string;
  source_name: string | null;
  name: string;
  data: unknown;
  error: string | null;
  source_retry_count: number | null;
  source_created_on: string | Date | null;
  created_on: string | Date;
}

/** What these functions use of the job queue. */
export type QueueAccess = Pick<Jobs, "boss" | "queueNames">;

const table = sql.raw(`${JOB_SCHEMA}.job`);
/** Waiting in a dead-letter queue; `failed` there is a redrive that collided with a live job. */
const WAITING = sql.raw(`state in ('created', 'retry', 'failed')`);

/** The dead-letter queues of `queues` (all of the registered ones by default) as SQL. */
function deadQueues(jobs: QueueAccess, queue?: string): SQL {
  const names = (queue ? [queue] : jobs.queueNames()).map(deadLetterQueue);
  return sql`name in (${sql.join(
    names.map((n) => sql`${n}`),
    sql`, `,
  )})`;
}

/**
 * The columns of pg-boss's job table that the listing reads, for a query prepared once. pg-boss
 * owns the table: this file is not a `*-tables.ts`, so drizzle-kit never sees it.
 */
const job = pgSchema(JOB_SCHEMA).table("job", {
  id: uuid().notNull(),
  name: text().notNull(),
  state: text().notNull(),
  data: jsonb(),
  output: jsonb(),
  createdOn: timestamp({ withTimezone: true }).notNull(),
  sourceName: text(),
  sourceRetryCount: integer(),
  sourceCreatedOn: timestamp({ withTimezone: true }),
  sourceOutput: jsonb(),
});

/** Waiting in one of the dead-letter queues named by the `queues` placeholder. */
const waitingIn = sql`${job.name} = any(${sql.placeholder("queues")}) and ${WAITING}`;

/** Dead letters, newest first, `limit` from `offset`, of one queue or all; and how many. */
export async function listDeadLetters(
  db: Executor,
  jobs: QueueAccess,
  filter: { queue?: string | undefined },
  page: { limit: number; offset: number },
): Promise<{ count: number; deadLetters: DeadLetter[] }> {
  if (filter.queue !== undefined && !jobs.queueNames().includes(filter.queue)) {
    return { count: 0, deadLetters: [] };
  }
  const queues = (filter.queue ? [filter.queue] : jobs.queueNames()).map(deadLetterQueue);
  const query = prepared(db, "dead_letters_page", (e) =>
    e
      .select({
        id: job.id,
        name: job.name,
        sourceName: job.sourceName,
        data: job.data,
        sourceRetryCount: job.sourceRetryCount,
        sourceCreatedOn: job.sourceCreatedOn,
        createdOn: job.createdOn,
        error: sql<string | null>`coalesce(${job.sourceOutput}, ${job.output}) ->> 'message'`,
        total: sql<number>`count(*) over ()`.mapWith(Number),
      })
      .from(job)
      .where(waitingIn)
      .orderBy(desc(job.createdOn), desc(job.id))
      .limit(sql.placeholder("limit"))
      .offset(sql.placeholder("offset"))
      .prepare("dead_letters_page"),
  );
  const rows = await query.execute({ queues, limit: page.limit, offset: page.offset });
  const count =
    rows[0] !== undefined
      ? rows[0].total
      : page.offset === 0
        ? 0
        : await countDeadLetters(db, queues);
  return {
    count,
    deadLetters: rows.map((row) => ({
      id: row.id,
      queue: row.sourceName ?? row.name.replace(/\.dead$/, ""),
      payload: row.data,
      error: row.error,
      retryCount: row.sourceRetryCount ?? 0,
      queuedAt: row.sourceCreatedOn,
      deadLetteredAt: row.createdOn,
    })),
  };
}

async function countDeadLetters(db: Executor, queues: string[]): Promise<number> {
  const query = prepared(db, "dead_letters_count", (e) =>
    e.select({ n: count() }).from(job).where(waitingIn).prepare("dead_letters_count"),
  );
  const [row] = await query.execute({ queues });
  return row?.n ?? 0;
}

function deadLetterOf(row: DeadLetterRow): DeadLetter {
  const queue = row.source_name ?? row.name.replace(/\.dead$/, "");
  return {
    id: row.id,
    queue,
    payload: row.data,
    error: row.error,
    retryCount: row.source_retry_count ?? 0,
    queuedAt: row.source_created_on === null ? null : new Date(row.source_created_on),
    deadLetteredAt: new Date(row.created_on),
  };
}

/** One dead letter by its id, in any registered queue's dead-letter queue. */
export async function findDeadLetter(
  db: Executor,
  jobs: QueueAccess,
  id: string,
): Promise<DeadLetter | undefined> {
  const [row] = await queryRows<DeadLetterRow>(
    db,
    sql`select id, name, source_name, data, source_retry_count, source_created_on, created_on,
          coalesce(source_output, output) ->> 'message' as error
        from ${table}
        where ${deadQueues(jobs)} and ${WAITING} and id = ${id}::uuid`,
  );
  return row ? deadLetterOf(row) : undefined;
}

/**
 * Sends a dead letter back to its queue (pg-boss's redrive). Answers whether it moved: false when
 * it is no longer there (retried already) or could not be re-created.
 */
export async function retryDeadLetter(jobs: QueueAccess, letter: DeadLetter): Promise<boolean> {
  const moved = await jobs.boss.redrive(deadLetterQueue(letter.queue), { ids: [letter.id] });
  return moved > 0;
}

/**
 * Removes the dead letters of `queue` whose payload contains `payload`: the cause they failed for
 * has been queued again another way (a replayed webhook event, a retried email), so they no
 * longer stand for work left undone.
 */
export async function dropDeadLetters(
  db: Executor,
  jobs: QueueAccess,
  queue: string,
  payload: Record<string, unknown>,
): Promise<number> {
  const rows = await queryRows<{ id: string }>(
    db,
    sql`select id from ${table}
        where name = ${deadLetterQueue(queue)} and ${WAITING}
          and data @> ${JSON.stringify(payload)}::jsonb`,
  );
  if (rows.length === 0) return 0;
  await jobs.boss.deleteJob(
    deadLetterQueue(queue),
    rows.map((r) => r.id),
  );
  return rows.length;
}

/** One job of a cause's history: a processing attempt's job, or its dead letter. */
export interface JobRecord {
  id: string;
  queue: string;
  state: string;
  retryCount: number;
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
}

/**
 * The jobs of `queue` and its dead-letter queue whose payload contains `payload`, oldest first:
 * what became of each time the cause was queued (pg-boss keeps finished jobs for its retention
 * period, then deletes them).
 */
export async function jobsOfPayload(
  db: Executor,
  queue: string,
  payload: Record<string, unknown>,
): Promise<JobRecord[]> {
  const rows = await queryRows<{
    id: string;
    name: string;
    state: string;
    retry_count: number;
    error: string | null;
    created_on: string | Date;
    started_on: string | Date | null;
    completed_on: string | Date | null;
  }>(
    db,
    sql`select id, name, state::text as state, retry_count, output ->> 'message' as error,
          created_on, started_on, completed_on
        from ${table}
        where name in (${queue}, ${deadLetterQueue(queue)})
          and data @> ${JSON.stringify(payload)}::jsonb
        order by created_on, id`,
  );
  const date = (v: string | Date | null) => (v === null ? null : new Date(v));
  return rows.map((r) => ({
    id: r.id,
    queue: r.name,
    state: r.state,
    retryCount: r.retry_count,
    error: r.error,
    createdAt: new Date(r.created_on),
    startedAt: date(r.started_on),
    completedAt: date(r.completed_on),
  }));
}
