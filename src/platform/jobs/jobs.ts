import { createHash } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { type Db as BossDb, PgBoss } from "pg-boss";
import type { Static, TSchema } from "typebox";
import { Value } from "typebox/value";
import { type Database, databaseUnavailable, type Tx } from "../db/client.ts";
import {
  deadLetterQueue,
  type JobContext,
  type JobDefinition,
  jobId,
  type RetryPolicy,
} from "./definitions.ts";

/** The PostgreSQL schema pg-boss keeps its tables in. */
export const JOB_SCHEMA = "pgboss";

/**
 * Installs or upgrades pg-boss's schema, and nothing else (no supervision, no schedules): run with
 * the application's migrations, so that a process that only enqueues starts without migrating, and
 * the API threads of a process do not race to install it.
 */
export async function installJobSchema(database: Database): Promise<void> {
  const boss = new PgBoss({
    ...database.boss,
    schema: JOB_SCHEMA,
    supervise: false,
    schedule: false,
    useListenNotify: false,
    registerInstance: false,
  });
  await boss.start();
  await boss.stop({ graceful: false, close: true });
}

export interface JobsOptions {
  defaultRetry: RetryPolicy;
  log: { error(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Told the outcome of every attempt (metrics). */
  onAttempt?: (queue: string, outcome: "completed" | "retried" | "failed") => void;
  /** Per-queue retry policies from configuration; they win over the definitions' own. */
  retry?: Record<string, Partial<RetryPolicy>>;
  /** Per-queue cron schedules from configuration; they win over the definitions' own. */
  schedules?: Record<string, string>;
  /** pg-boss job spies, so tests can await a job instead of sleeping. Never in production. */
  spies?: boolean;
  /** How often an idle worker looks for due jobs (new jobs wake it at once through NOTIFY). */
  pollingIntervalSeconds?: number;
  /**
   * How long a job may stay active before it counts as lost and is retried (JOB_TIMEOUT; pg-boss's
   * default is 15 minutes). A worker that dies mid-job (SIGKILL, OOM, a lost host) never settles
   * its jobs: this expiry, or sooner a lapsed heartbeat, hands them to another worker.
   */
  timeoutSeconds?: number;
  /**
   * A running job's worker confirms it every half of this (JOB_HEARTBEAT, at least 10 s): a job
   * left unconfirmed this long is retried without waiting for `timeoutSeconds`, as is one whose
   * fetch committed while its answer never reached the worker (a database outage).
   */
  heartbeatSeconds?: number;
  /**
   * Whether this process also runs pg-boss's background duties: supervision (expiring lost jobs,
   * retention, the queue monitor), schedules, schema upgrades, and listening for new jobs. On (the
   * default) where jobs are worked. Off in a process that only enqueues, such as an API process with WORKER=off
   * or a CLI command: the worker does them, and in the API processes their passes (every few
   * seconds to a minute, at the same moment in every process started together) stalled requests.
   */
  background?: boolean;
}

// biome-ignore lint/suspicious/noExplicitAny: a registry holds definitions of every payload type
type AnyJob<D> = JobDefinition<any, D>;

/**
 * pg-boss on the application's database. Jobs are inserted inside the caller's Drizzle
 * transaction, so a job exists exactly when the fact that caused it committed
 * (docs/architecture.md, 'Side effects exactly once').
 */
export class Jobs<D = unknown> {
  readonly boss: PgBoss;
  readonly #definitions = new Map<string, AnyJob<D>>();
  readonly #options: JobsOptions;
  readonly #database: Database;
  #started = false;

  constructor(database: Database, options: JobsOptions) {
    this.#options = options;
    this.#database = database;
    const lost = lostAfter(options);
    this.boss = new PgBoss({
      ...database.boss,
      schema: JOB_SCHEMA,
      useListenNotify: true,
      application_name: "billing-jobs",
      __test__enableSpies: options.spies ?? false,
      // A producer's jobs go into its callers' transactions: pg-boss's own connections only
      // refresh its queue cache and its instance row. Its schema is installed by the migrations
      // (installJobSchema), so a producer only checks it.
      ...(options.background === false
        ? { supervise: false, schedule: false, migrate: false, useListenNotify: false, max: 2 }
        : {}),
      // Lost jobs (expired, or their heartbeat lapsed) are found by the supervisor, every minute by
      // default: look as often as half the shorter of the two, so a dead worker's job is retried
      // within about 1.5 times it.
      ...(lost
        ? {
            superviseIntervalSeconds: supervisorInterval(lost),
            monitorIntervalSeconds: supervisorInterval(lost),
          }
        : {}),
    });
    // pg-boss reports failed polls and maintenance here and retries them itself: during a database
    // outage that is one line per failed attempt, without a stack, until the database is back.
    this.boss.on("error", (err) => {
      const outage = databaseUnavailable(err);
      // A worker's failed poll names its queue.
      const queue = "queue" in err && typeof err.queue === "string" ? err.queue : undefined;
      if (outage) options.log.warn({ database: outage, queue }, "job queue: database unavailable");
      else options.log.error({ err }, "job queue error");
    });
    this.boss.on("warning", (warning) => options.log.warn({ warning }, "job queue warning"));
  }

  register(...definitions: AnyJob<D>[]): this {
    for (const def of definitions) {
      if (!def.handler === !def.batch)
        throw new Error(`job ${def.name}: give a handler or a batch`);
      this.#definitions.set(def.name, def);
    }
    return this;
  }

  /** The registered queues' names. */
  queueNames(): string[] {
    return [...this.#definitions.keys()];
  }

  retryPolicy(def: { name: string; retry?: Partial<RetryPolicy> }): RetryPolicy {
    return { ...this.#options.defaultRetry, ...def.retry, ...this.#options.retry?.[def.name] };
  }

  /** Installs or upgrades pg-boss's schema and creates every registered queue with its dead-letter queue. */
  async start(): Promise<void> {
    await this.boss.start();
    this.#started = true;
    const existing = new Set((await this.boss.getQueues()).map((q) => q.name));
    for (const def of this.#definitions.values()) {
      const dead = deadLetterQueue(def.name);
      if (!existing.has(dead)) await this.boss.createQueue(dead, { notify: false });
      const retry = this.retryPolicy(def);
      const policy = {
        retryLimit: retry.limit,
        retryDelay: retry.delaySeconds,
        retryBackoff: retry.backoff,
        deadLetter: dead,
        notify: true,
        ...(this.#options.timeoutSeconds ? { expireInSeconds: this.#options.timeoutSeconds } : {}),
        ...(this.#options.heartbeatSeconds
          ? { heartbeatSeconds: this.#options.heartbeatSeconds }
          : {}),
      };
      // createQueue leaves an existing queue alone, so apply the current policy explicitly.
      if (existing.has(def.name)) {
        // null turns a heartbeat off that an earlier configuration turned on.
        await this.boss.updateQueue(def.name, {
          ...policy,
          heartbeatSeconds: this.#options.heartbeatSeconds || null,
        });
      } else await this.boss.createQueue(def.name, policy);
      // pg-boss keeps one schedule per queue and sends it from whichever instance holds the lock.
      const schedule = this.#options.schedules?.[def.name] ?? def.schedule;
      if (schedule && this.#options.background !== false)
        await this.boss.schedule(def.name, schedule, {}, { tz: "UTC" });
    }
  }

  /** Starts processing every registered queue in this process. */
  async work(deps: D): Promise<void> {
    for (const def of this.#definitions.values()) {
      // One pg-boss worker per slot, so each handler knows its own worker to wake (below).
      for (let slot = 0; slot < (def.concurrency ?? 2); slot++) {
        if (def.batch) await this.#workBatches(def, def.batch, deps);
        else await this.#workOne(def, deps);
      }
    }
  }

  #pollOptions() {
    return {
      localConcurrency: 1,
      pollingIntervalSeconds: this.#options.pollingIntervalSeconds ?? 2,
      // NOTIFY wakes the worker for new jobs, but not for retries coming due: keep polling at the
      // base rate so a retry runs close to its scheduled time.
      notifyPollingIntervalSeconds: this.#options.pollingIntervalSeconds ?? 2,
    };
  }

  #context(def: AnyJob<D>, job: { id: string; retryCount?: number }): JobContext {
    const retryCount = job.retryCount ?? 0;
    return { id: job.id, retryCount, lastAttempt: retryCount >= this.retryPolicy(def).limit };
  }

  async #workOne(def: AnyJob<D>, deps: D): Promise<void> {
    const handler = def.handler;
    if (!handler) return;
    let workerId = "";
    workerId = await this.boss.work<unknown>(
      def.name,
      { ...this.#pollOptions(), batchSize: 1 },
      async ([job]) => {
        if (!job) return;
        const started = Date.now();
        const context = this.#context(def, job);
        try {
          await handler(job.data, deps, context);
          this.#options.onAttempt?.(def.name, "completed");
        } catch (err) {
          this.#options.onAttempt?.(def.name, context.lastAttempt ? "failed" : "retried");
          if (databaseUnavailable(err)) await this.#untilDatabaseAnswers(job, started);
          throw err;
        } finally {
          // pg-boss waits out the polling interval after every fetch, even a full one, so a
          // backlog (jobs stored while no worker ran: a deploy, an outage) drained at one job per
          // slot per polling interval (docs/performance.md). Having just found a job, look for
          // the next one at once; an empty fetch falls back to polling.
          this.boss.notifyWorker(workerId);
        }
      },
    );
  }

  /**
   * A batch worker: pg-boss settles each job by the handler's answer for it (perJobResults), in one
   * statement for the completed ones and one for the failed ones. As in `#workOne`, a worker that
   * found jobs looks again at once, and an empty fetch falls back to polling.
   */
  async #workBatches(
    def: AnyJob<D>,
    batch: NonNullable<AnyJob<D>["batch"]>,
    deps: D,
  ): Promise<void> {
    let workerId = "";
    workerId = await this.boss.work<unknown>(
      def.name,
      { ...this.#pollOptions(), batchSize: batch.size, perJobResults: true },
      async (jobs) => {
        this.boss.notifyWorker(workerId);
        const started = Date.now();
        const contexts = jobs.map((job) => this.#context(def, job));
        let errors: (Error | undefined)[];
        try {
          errors = await batch.handler(
            jobs.map((job, i) => ({ payload: job.data, job: contexts[i] as JobContext })),
            deps,
          );
        } catch (err) {
          for (const context of contexts) {
            this.#options.onAttempt?.(def.name, context.lastAttempt ? "failed" : "retried");
          }
          const first = jobs[0];
          if (first && databaseUnavailable(err)) await this.#untilDatabaseAnswers(first, started);
          throw err;
        }
        return jobs.map((job, i) => {
          const error = errors[i];
          const context = contexts[i] as JobContext;
          if (!error) {
            this.#options.onAttempt?.(def.name, "completed");
            return { id: job.id, status: "completed" as const };
          }
          this.#options.onAttempt?.(def.name, context.lastAttempt ? "failed" : "retried");
          return { id: job.id, status: "failed" as const, output: { message: error.message } };
        });
      },
    );
  }

  /**
   * An attempt cut off by a database outage cannot be recorded as failed while the database is
   * down: pg-boss's fail() fails too, and the job stays active until its heartbeat lapses or it
   * expires, after the outage. So the attempt keeps its slot until the database answers again, then
   * fails normally and is retried by its policy. Bounded by the job's own expiry and by the worker
   * stopping. (An attempt that succeeded but could not be marked complete still waits for its
   * heartbeat to lapse; handlers are safe to run twice.)
   */
  async #untilDatabaseAnswers(
    job: { signal: AbortSignal; expireInSeconds: number },
    started: number,
  ): Promise<void> {
    const deadline = started + job.expireInSeconds * 1000 - 1000;
    while (!job.signal.aborted && Date.now() < deadline) {
      try {
        await this.#database.ping();
        return;
      } catch {
        await delay(500, undefined, { signal: job.signal }).catch(() => {});
      }
    }
  }

  /**
   * Inserts a job inside `tx`. `key` identifies the cause (for example an invoice id): the job id is
   * derived from (queue, key), so enqueueing the same cause twice inserts one job. Returns whether
   * this call inserted it.
   */
  async enqueue<S extends TSchema>(
    tx: Tx,
    def: JobDefinition<S, D>,
    payload: Static<S>,
    options: { key: string; startAfterSeconds?: number },
  ): Promise<boolean> {
    this.#check(def, payload);
    const id = jobId(def.name, options.key);
    const inserted = await this.boss.send(def.name, payload as object, {
      id,
      singletonKey: options.key,
      ...(options.startAfterSeconds ? { startAfter: options.startAfterSeconds } : {}),
      db: bossTransaction(tx),
    });
    return inserted !== null;
  }

  /**
   * `enqueue` for many causes at once, in one statement (pg-boss's insert): a job per key, none
   * inserted twice. For a batch of new facts, such as the events one intake transaction stored.
   */
  async enqueueMany<S extends TSchema>(
    tx: Tx,
    def: JobDefinition<S, D>,
    jobs: { payload: Static<S>; key: string }[],
  ): Promise<void> {
    if (jobs.length === 0) return;
    for (const job of jobs) this.#check(def, job.payload);
    await this.boss.insert(
      def.name,
      jobs.map((job) => ({
        id: jobId(def.name, job.key),
        data: job.payload as object,
        singletonKey: job.key,
      })),
      { db: bossTransaction(tx) },
    );
  }

  #check(def: AnyJob<D>, payload: unknown): void {
    if (!this.#definitions.has(def.name)) throw new Error(`job ${def.name} is not registered`);
    if (!Value.Check(def.payload, payload)) {
      throw new Error(`invalid payload for job ${def.name}`);
    }
  }

  async stop(timeoutMs: number): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    await this.boss.stop({ graceful: true, timeout: timeoutMs, close: true });
  }
}

/** How long a job may go unheard of before it counts as lost: its timeout or its heartbeat. */
function lostAfter(options: JobsOptions): number {
  const limits = [options.timeoutSeconds, options.heartbeatSeconds].filter((n) => !!n) as number[];
  return limits.length > 0 ? Math.min(...limits) : 0;
}

function supervisorInterval(lostAfterSeconds: number): number {
  return Math.max(1, Math.min(60, Math.floor(lostAfterSeconds / 2)));
}

/**
 * pg-boss runs its inserts through the caller's transaction, as named prepared statements: their
 * text is the same on every call for a queue, so PostgreSQL plans each once per connection instead
 * of every time: planning was most of the cost of pg-boss's large batch insert, which intake runs
 * once per batch (docs/performance.md). Both drivers answer `{ rows }`.
 */
function bossTransaction(tx: Tx): BossDb {
  return {
    async executeSql(text, values = []) {
      const name = statementName(text);
      const query = tx._.session.prepareQuery(
        { sql: text, params: values },
        undefined,
        name,
        false,
      );
      return (await query.execute()) as { rows: unknown[] };
    },
  };
}

/**
 * At most this many statement texts get a name: a server keeps a prepared statement for as long
 * as its connection lives, so a text that did vary from call to call must not add one per call.
 */
const NAMED_STATEMENTS_MAX = 32;
const statementNames = new Map<string, string>();

/** A name unique to `text`, or undefined (unnamed: planned each time) past the limit. */
function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < NAMED_STATEMENTS_MAX) {
    name = `boss_${createHash("sha256").update(text).digest("hex").slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return name;
}
