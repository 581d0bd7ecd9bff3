import type { Static, TSchema } from "typebox";
import { v5 as uuidv5 } from "uuid";

export { cronEvery } from "./cron.ts";

// What a feature declares about its background jobs (src/platform/jobs/jobs.ts runs them).

export interface RetryPolicy {
  /** Retries after the first attempt; then the job moves to the dead-letter queue. */
  limit: number;
  /** Seconds before the first retry. */
  delaySeconds: number;
  /** Double the delay on each retry (with jitter). */
  backoff: boolean;
}

export interface JobContext {
  id: string;
  /** 0 on the first attempt, 1 on the first retry, … */
  retryCount: number;
  /** No retry follows if this attempt fails: the job goes to the dead-letter queue. */
  lastAttempt: boolean;
}

/**
 * A background job: its queue name, the payload it accepts, how it is retried, and its handler.
 * `D` is the set of dependencies the handler needs; the worker hands it in.
 */
export interface JobDefinition<S extends TSchema = TSchema, D = never> {
  name: string;
  payload: S;
  retry?: Partial<RetryPolicy>;
  /** Parallel jobs of this queue per worker process. */
  concurrency?: number;
  /** A cron expression (UTC): the job is also enqueued on this schedule, once across all workers. */
  schedule?: string;
  /** Handles one job; a job that throws is retried by its policy. */
  handler?(payload: Static<S>, deps: D, job: JobContext): Promise<void>;
  /**
   * Instead of `handler`: takes up to `size` due jobs at once (a backlog drains with a few statements per
   * batch rather than per job). The handler settles each job on its own: it answers, in order, the
   * error a job failed with or `undefined`, and only the failed jobs are retried. It throws only
   * when nothing could be done, and then the whole batch is retried.
   */
  batch?: {
    size: number;
    handler(jobs: BatchItem<Static<S>>[], deps: D): Promise<(Error | undefined)[]>;
  };
}

export interface BatchItem<P> {
  payload: P;
  job: JobContext;
}

type OneByOne<S extends TSchema, D> = JobDefinition<S, D> & {
  handler: NonNullable<JobDefinition<S, D>["handler"]>;
};

export function defineJob<S extends TSchema, D>(definition: OneByOne<S, D>): OneByOne<S, D>;
export function defineJob<S extends TSchema, D>(
  definition: JobDefinition<S, D>,
): JobDefinition<S, D>;
export function defineJob<S extends TSchema, D>(definition: JobDefinition<S, D>) {
  return definition;
}

// A fixed namespace so that one (queue, key) pair always names the same job id.
const JOB_ID_NAMESPACE = "7d6a3f0e-5b1c-4f3e-9a51-3c2b8e1f4d20";

export function deadLetterQueue(name: string): string {
  return `${name}.dead`;
}

export function jobId(queue: string, key: string): string {
  return uuidv5(`${queue}:${key}`, JOB_ID_NAMESPACE);
}
