import type { Config } from "../config.ts";
import type { Database, Executor } from "./db/client.ts";
import type { Mailer } from "./email/mailer.ts";
import type { App } from "./http/types.ts";
import type { JobDefinition, RetryPolicy } from "./jobs/definitions.ts";
import type { Jobs } from "./jobs/jobs.ts";
import type { Logger } from "./logging.ts";
import type { Metrics } from "./metrics.ts";
import type { StripeDeps } from "./stripe.ts";

// The feature contract (docs/architecture.md): what a feature folder brings, and what the entry
// points hand it. It sits below every feature, so a feature imports these types without
// importing an entry point, and the entry points (app.ts, services.ts, cli.ts) iterate the list
// in src/features.ts without knowing any feature by name.

/** The `subscription_status` of the user shape: billing answers it, accounts asks it. */
export type SubscriptionStatusOf = (executor: Executor, userId: string) => Promise<string>;

/**
 * The `entitlements` claim of an access token (ACCESS_CLAIMS=on, docs/access.md): whether the
 * access policy allowed the user and what their plan granted when the token was signed. Billing
 * answers it, accounts asks it.
 */
export interface AccessClaim {
  allowed: boolean;
  features: Record<string, boolean | number>;
}
export type AccessClaimOf = (
  executor: Executor,
  config: Config,
  userId: string,
) => Promise<AccessClaim>;

/** What job handlers may draw on; each handler's own type names the few it uses. */
export interface JobDeps {
  config: Config;
  database: Database;
  logger: Logger;
  mailer: Mailer;
  metrics: Metrics;
  /** The Stripe SDK client (and the in-process emulator in the embedded default). */
  stripe: StripeDeps;
  /** Handlers enqueue follow-up work (emails) in their own transactions. */
  jobs: Jobs<JobDeps>;
}

/** The open database, job queue, mailer and Stripe of one process (src/services.ts opens them). */
export interface Services extends JobDeps {
  /** The `subscription_status` of the user shape, answered by billing. */
  subscriptionStatusOf: SubscriptionStatusOf;
  /** The access token's `entitlements` claim, answered by billing (asked only with ACCESS_CLAIMS). */
  accessClaimOf?: AccessClaimOf | undefined;
  close(): Promise<void>;
}

/** What routes are built with. */
export interface AppDeps {
  config: Config;
  database: Database;
  logger: Logger;
  metrics: Metrics;
  /** Routes enqueue background work (emails, …) inside their transactions. */
  jobs: Jobs<JobDeps>;
  /** The `subscription_status` of the user shape; billing supplies it (default: "inactive"). */
  subscriptionStatusOf?: SubscriptionStatusOf;
  /** The access token's `entitlements` claim (ACCESS_CLAIMS); billing supplies it. */
  accessClaimOf?: AccessClaimOf | undefined;
  /** Billing and webhook routes reach Stripe through this. */
  stripe: StripeDeps;
}

/** A feature's HTTP surface: registers its routes on the app. */
export type AppModule = (app: App, deps: AppDeps) => void | Promise<void>;

/**
 * A job of any payload whose handler needs no more than `JobDeps`. (`any`: a list holds every
 * payload type; each definition checks its own.)
 */
// biome-ignore lint/suspicious/noExplicitAny: definitions of every payload type
export type AnyJobDefinition = JobDefinition<any, JobDeps>;

/** What a start-up hook learns about the process starting. */
export interface StartContext {
  /** This process opened the in-process emulator itself (the embedded default, not a test's). */
  embeddedStripe: boolean;
}

/** Everything one feature brings. Entry points iterate `features` (src/features.ts). */
export interface Feature {
  name: string;
  /** Its HTTP routes (app.ts registers them in the order of `features`). */
  routes?: AppModule;
  /** Its background jobs. */
  jobs?: AnyJobDefinition[];
  /** Settings-driven retry policies per queue, over the definitions' own (e.g. EMAIL_RETRY_*). */
  retryPolicies?(config: Config): Record<string, Partial<RetryPolicy>>;
  /** Settings-driven cron schedules per queue, over the definitions' own (e.g. BUSINESS_METRICS_INTERVAL). */
  schedules?(config: Config): Record<string, string>;
  /** Its operator commands (`npm run cli -- <name>`). */
  commands?: Record<string, Command>;
  /** Runs once the services are open, before the process serves (e.g. demo-plan seeding). */
  onStart?(services: Services, context: StartContext): Promise<void>;
  /**
   * Runs in an API process once it listens on `address` (PORT may be 0: only now is it known). Not
   * awaited: it must not hold the start, and must not throw.
   */
  onListen?(services: Services, address: { host: string; port: number }): void;
  /** Answers another feature asks through the services (at most one feature provides each). */
  provides?: { subscriptionStatusOf?: SubscriptionStatusOf; accessClaimOf?: AccessClaimOf };
}

/**
 * An operator command: `npm run cli -- <name> [options]`. Features declare theirs in
 * `Feature.commands`; src/cli.ts parses the arguments, opens the services and runs it.
 */
export interface Command {
  summary: string;
  usage?: string;
  /** Options in node:util parseArgs form. */
  options?: Record<string, { type: "string" | "boolean"; short?: string }>;
  /** Needs the database and job queue (most commands do). */
  services?: boolean;
  run(context: CommandContext): Promise<number | undefined>;
}

export interface CommandContext {
  config: Config;
  logger: Logger;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  /** Present when the command asked for `services`. */
  services: Services | undefined;
  out: (line: string) => void;
  /** Where a command reads piped input (a password); process.stdin when run from a shell. */
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
}
