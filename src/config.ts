import { isAbsolute, resolve } from "node:path";
import {
  bool,
  cronInterval,
  duration,
  durationAtLeast,
  int,
  list,
  oneOf,
  type Parser,
  rate,
  str,
  trustProxy,
  url,
  weakSecret,
} from "./config-parsers.ts";

/**
 * Every setting the service reads, in one table. `loadConfig` turns the environment into a frozen,
 * typed `Config`; `.env.example` documents the same names (a test keeps the two in step).
 * Nothing else in the codebase reads `process.env`.
 */

interface Setting<T> {
  parse: Parser<T>;
  /** Used when the variable is unset or empty. `undefined` means "optional, no default". */
  default?: T;
  doc: string;
}

const DEV_SECRET_KEY = "dev-insecure-secret-key-change-me-0123456789";

export const settings = {
  NODE_ENV: {
    parse: oneOf("development", "production", "test"),
    default: "development",
    doc: "development | production | test. Production enforces the safety checks below.",
  },
  HOST: { parse: str, default: "0.0.0.0", doc: "Interface the API listens on." },
  PORT: { parse: int(0, 65535), default: 8000, doc: "Port the API listens on." },
  DATA_DIR: {
    parse: str,
    default: "./data",
    doc: "Where the embedded database (PGlite) and the Stripe emulator keep their files.",
  },
  LOG_LEVEL: {
    parse: oneOf("fatal", "error", "warn", "info", "debug", "trace", "silent"),
    default: "info",
    doc: "pino log level.",
  },
  SECRET_KEY: {
    parse: str,
    default: DEV_SECRET_KEY,
    doc: "Signs JWTs. Production: at least 32 characters and 128 bits of entropy (`openssl rand -hex 32`).",
  },
  ACCESS_TOKEN_LIFETIME: {
    parse: duration,
    default: 3600,
    doc: "Lifetime of an access token (seconds, or 60m, 1h …).",
  },
  REFRESH_TOKEN_LIFETIME: {
    parse: duration,
    default: 604800,
    doc: "Lifetime of a refresh token (seconds, or 7d …). Every refresh rotates it.",
  },
  EMAIL_VERIFICATION_LIFETIME: {
    parse: durationAtLeast(60),
    default: 259200,
    doc: "How long an email verification link works (seconds, or 3d …). A newer link replaces it.",
  },
  PASSWORD_RESET_LIFETIME: {
    parse: durationAtLeast(60),
    default: 3600,
    doc:
      "How long a password reset link works (seconds, or 1h …); it works once, and a newer " +
      "request or any password change ends it. Keep it at least THROTTLE_PASSWORD_RESET_ACCOUNT's " +
      "period, so the owner always holds a working link while the account's emails are capped.",
  },
  REQUIRE_VERIFIED_EMAIL: {
    parse: bool,
    default: false,
    doc:
      "on: subscribing (and checkout, plan changes) answers 403 until the user has verified their " +
      "email address. off (the original's behaviour): unverified accounts may subscribe.",
  },
  EMAIL_CHANGE_LIFETIME: {
    parse: durationAtLeast(60),
    default: 86400,
    doc: "How long the link confirming a new email address works (seconds, or 1d …); once, and a newer request replaces it.",
  },
  ACCOUNT_DELETE_CANCEL: {
    parse: oneOf("immediately", "period_end"),
    default: "immediately",
    doc: "How deleting an account ends its live subscriptions at Stripe: immediately, or at the end of the paid period (period_end).",
  },
  PASSWORD_HASH_MEMORY_KIB: {
    parse: int(1024, 4_194_304),
    default: 19456,
    doc: "argon2id memory cost in KiB (OWASP: 19456 with 2 iterations). Lower only in tests.",
  },
  PASSWORD_HASH_ITERATIONS: {
    parse: int(1, 100),
    default: 2,
    doc: "argon2id time cost (iterations).",
  },
  PASSWORD_HASH_CONCURRENCY: {
    parse: int(1, 64),
    default: 1,
    doc: "argon2id hashes computed at once per API thread (each WEB_CONCURRENCY thread has its own turn); more logins wait their turn. Raise it for one thread on a many-core host.",
  },
  DATABASE_URL: {
    parse: url("postgres:", "postgresql:"),
    doc: "PostgreSQL URL. Unset: embedded PGlite under DATA_DIR (one process only).",
  },
  DATABASE_POOL_MAX: {
    parse: int(1, 1000),
    default: 10,
    doc: "Connections per process, opened as the load needs them and kept open while idle.",
  },
  MIGRATE_ON_START: {
    parse: bool,
    default: true,
    doc: "Apply pending migrations at startup.",
  },
  WORKER: {
    parse: oneOf("on", "off"),
    default: "on",
    doc: "Run the job worker inside the API process (off: run `npm run worker` separately).",
  },
  JOB_RETRY_LIMIT: {
    parse: int(0, 100),
    default: 3,
    doc: "Default retries of a failed background job before it is dead-lettered.",
  },
  JOB_RETRY_DELAY: {
    parse: duration,
    default: 60,
    doc: "Default delay before the first retry (seconds; doubles with backoff).",
  },
  JOB_TIMEOUT: {
    parse: durationAtLeast(1),
    default: 900,
    doc: "How long a job may run before it counts as lost (its worker died) and is retried (seconds, or 15m …). Keep it above the slowest job: Stripe and SMTP calls time out after 30 s.",
  },
  JOB_HEARTBEAT: {
    parse: durationAtLeast(10, { zeroIsOff: true }),
    default: 30,
    doc: "A running job's worker confirms it every half of this; a job unconfirmed for this long (its worker died) is retried without waiting for JOB_TIMEOUT (seconds; 0: off).",
  },
  SHUTDOWN_TIMEOUT: {
    parse: duration,
    default: 10,
    doc: "Seconds to wait for in-flight requests and jobs on SIGTERM/SIGINT.",
  },
  BODY_LIMIT: { parse: int(1024), default: 1_048_576, doc: "Largest request body, in bytes." },
  ALLOWED_HOSTS: {
    parse: list,
    default: [],
    doc: "Comma-separated Host header values accepted in production (.example.com: it and its subdomains; no wildcards).",
  },
  CORS_ALLOWED_ORIGINS: {
    parse: list,
    default: [],
    doc: "Comma-separated browser origins (scheme://host[:port]) allowed to call the API; no wildcards in production.",
  },
  TRUST_PROXY: {
    parse: trustProxy,
    default: false,
    doc: "Trust X-Forwarded-* from a load balancer: true, a hop count, or comma-separated addresses/CIDRs.",
  },
  SECURE_SSL_REDIRECT: {
    parse: bool,
    default: false,
    doc: "Redirect plain-HTTP requests to HTTPS (behind a TLS-terminating proxy, with TRUST_PROXY).",
  },
  METRICS_TOKEN: {
    parse: str,
    doc: "Bearer token required for /metrics in production (unset: /metrics is refused there); 64 bits of entropy or more.",
  },
  GRACE_PAST_DUE: {
    parse: duration,
    default: 7 * 86400,
    doc: "How long a past_due subscription keeps access after its first failed renewal (seconds, or 72h, 7d …; 0: none). docs/access.md.",
  },
  GRACE_INCOMPLETE: {
    parse: duration,
    default: 0,
    doc: "How long an incomplete subscription (first payment awaiting 3-D Secure) has access from its creation (0: none). docs/access.md.",
  },
  ACCESS_CLAIMS: {
    parse: bool,
    default: false,
    doc: "on: access tokens carry an `entitlements` claim (the plan's entitlements and allowed flag when the token was issued; stale for at most ACCESS_TOKEN_LIFETIME). docs/access.md.",
  },
  BUSINESS_METRICS_INTERVAL: {
    parse: cronInterval,
    default: 300,
    doc: "How often a worker computes the business metrics /metrics shows (5m, 15m, 1h …: whole minutes dividing an hour, or hours dividing a day). docs/operations.md.",
  },
  RECONCILE_INTERVAL: {
    parse: (raw) => (duration(raw) === 0 ? 0 : cronInterval(raw)),
    default: 3600,
    doc: "How often a worker reconciles the database with Stripe (1h, 6h …: whole minutes dividing an hour, or hours dividing a day; 0: never, only `billing:reconcile`). docs/operations.md, 'Reconciliation'.",
  },
  RECONCILE_MAX_OBJECTS: {
    parse: int(1),
    default: 10000,
    doc: "Stripe objects (events, subscriptions, invoices, refunds) one reconciliation run reads at most; the next run continues from its checkpoint.",
  },
  SERVICE_TOKENS: {
    parse: list,
    default: [],
    doc: "Comma-separated bearer tokens of the app's other services for /api/internal/access/{user_id}/ (unset: the route refuses everyone). Production: each at least 32 characters and 128 bits of entropy (`openssl rand -hex 32`).",
  },
  WEB_CONCURRENCY: {
    parse: int(1, 64),
    default: 1,
    doc: "API threads in the one process sharing its port (needs DATABASE_URL when above 1; Linux or FreeBSD). Above 1 the threads run a bundle of the sources built at start (docs/operations.md, 'Scaling').",
  },
  FRONTEND_URL: {
    parse: url("http:", "https:"),
    default: "http://localhost:3000",
    doc:
      "Base URL of the web app, used in email links (/verify-email?token=…, " +
      "/reset-password?token=…, /plans, /billing).",
  },
  STOREFRONT: {
    parse: bool,
    doc:
      "on: serve the storefront (a small site over the public API: sign up, subscribe through " +
      "Checkout, the account page) at /. Unset: on, except in production.",
  },
  ADMIN_CONSOLE: {
    parse: bool,
    default: true,
    doc:
      "on: serve the admin console (a browser UI over /api/admin/ for staff accounts) at " +
      "/admin/. off: /admin/ is a 404; the admin API itself stays.",
  },
  PRODUCT_NAME: {
    parse: str,
    default: "SaaS Billing",
    doc: "Product name in email subjects, greetings and signatures.",
  },
  EMAIL_FOOTER: {
    parse: str,
    default: "You receive this email because of your account at {{product}} ({{frontendUrl}}).",
    doc:
      "Footer of every email (a postal address belongs here); {{product}} and {{frontendUrl}} " +
      "are filled in, and the HTML part escapes it.",
  },
  STRIPE_SECRET_KEY: {
    parse: str,
    doc: "Stripe secret key (sk_test_… / sk_live_…). Unset: the built-in Stripe emulator.",
  },
  STRIPE_PUBLISHABLE_KEY: { parse: str, doc: "Stripe publishable key, handed to clients." },
  STRIPE_WEBHOOK_SECRET: {
    parse: str,
    doc: "Signing secret (whsec_…) of the webhook endpoint; production refuses any other shape.",
  },
  TRIAL_WITHOUT_CARD_END: {
    parse: oneOf("cancel", "pause", "create_invoice"),
    default: "cancel",
    doc: "How a trial taken without a card ends (Stripe's trial_settings.end_behavior.missing_payment_method): cancel the subscription, pause it, or create_invoice (an open invoice, past_due until paid). docs/plan-changes.md, 'Trials'.",
  },
  STRIPE_EMULATOR_PORT: {
    parse: int(0, 65535),
    doc: "Port of the embedded Stripe emulator and its /_emulator/ controls (moving its clock). Unset: 12111, or a free port when that is taken (logged); 0: a free port.",
  },
  STRIPE_API_BASE: {
    parse: url("http:", "https:"),
    doc: "Stripe API base URL. Unset: https://api.stripe.com (or the in-process emulator). Production allows only https://api.stripe.com.",
  },
  EMAIL_HOST: { parse: str, doc: "SMTP host. Unset: emails are printed to the console." },
  EMAIL_PORT: { parse: int(1, 65535), default: 587, doc: "SMTP port." },
  EMAIL_HOST_USER: { parse: str, doc: "SMTP user name." },
  EMAIL_HOST_PASSWORD: { parse: str, doc: "SMTP password." },
  EMAIL_USE_TLS: { parse: bool, default: true, doc: "Use STARTTLS/TLS with the SMTP server." },
  DEFAULT_FROM_EMAIL: {
    parse: str,
    default: "Billing <noreply@localhost>",
    doc: "From address of outgoing email.",
  },
  EMAIL_RETRY_LIMIT: {
    parse: int(0, 100),
    default: 3,
    doc: "Retries of a failed email send before it is dead-lettered and marked failed.",
  },
  EMAIL_RETRY_DELAY: {
    parse: duration,
    default: 60,
    doc: "Delay between email send retries (seconds; fixed, no backoff).",
  },
  WEBHOOK_RETRY_LIMIT: {
    parse: int(0, 100),
    default: 8,
    doc: "Retries of a failed Stripe event before it is dead-lettered (webhooks:list --failed).",
  },
  WEBHOOK_RETRY_DELAY: {
    parse: duration,
    default: 10,
    doc: "Delay before the first retry of a failed Stripe event (seconds; doubles each retry).",
  },
  REDIS_URL: {
    parse: url("redis:", "rediss:"),
    doc: "Redis URL for shared rate-limit counters. Unset: counters in memory.",
  },
  THROTTLE_LOGIN_IP: {
    parse: rate,
    default: { max: 20, windowSeconds: 60 },
    doc: "Login attempts per client IP (N/period).",
  },
  THROTTLE_LOGIN_ACCOUNT: {
    parse: rate,
    default: { max: 10, windowSeconds: 3600 },
    doc:
      "Failed logins per account (email) from one client (IP; IPv6 /64). Over it that client is " +
      "refused for that account, even with the right password; other clients are not.",
  },
  THROTTLE_LOGIN_ACCOUNT_TOTAL: {
    parse: rate,
    default: { max: 50, windowSeconds: 86400 },
    doc:
      "Failed logins per account from all clients together. Over it, clients that have failed on " +
      "that account are refused and each new client gets one try per THROTTLE_LOGIN_ACCOUNT " +
      "window; a client without failures still signs in, so guessing cannot lock the owner out.",
  },
  THROTTLE_REGISTER_IP: {
    parse: rate,
    default: { max: 10, windowSeconds: 3600 },
    doc: "Registrations per client IP.",
  },
  THROTTLE_REFRESH_IP: {
    parse: rate,
    default: { max: 60, windowSeconds: 60 },
    doc: "Token refreshes per client IP.",
  },
  THROTTLE_REFRESH_ACCOUNT: {
    parse: rate,
    default: { max: 30, windowSeconds: 60 },
    doc: "Token refreshes per account.",
  },
  THROTTLE_CHANGE_PASSWORD_IP: {
    parse: rate,
    default: { max: 20, windowSeconds: 3600 },
    doc: "Password changes per client IP.",
  },
  THROTTLE_CHANGE_PASSWORD_ACCOUNT: {
    parse: rate,
    default: { max: 10, windowSeconds: 3600 },
    doc: "Password changes per account (guessing the current password with a stolen token).",
  },
  THROTTLE_CHANGE_EMAIL_ACCOUNT: {
    parse: rate,
    default: { max: 5, windowSeconds: 3600 },
    doc: "Email change requests per account (each emails two addresses; guessing the password with a stolen token).",
  },
  THROTTLE_PASSWORD_RESET_IP: {
    parse: rate,
    default: { max: 10, windowSeconds: 3600 },
    doc: "Password reset requests per client IP; over it that client gets 429.",
  },
  THROTTLE_PASSWORD_RESET_ACCOUNT: {
    parse: rate,
    default: { max: 3, windowSeconds: 3600 },
    doc:
      "Reset emails per account (email address, whether or not it has an account). Over it the " +
      "request still answers the same 200 but sends nothing and keeps the last link working, so " +
      "nobody can flood an inbox, lock the owner out, or learn whether the account exists.",
  },
  THROTTLE_VERIFY_EMAIL_RESEND_IP: {
    parse: rate,
    default: { max: 10, windowSeconds: 3600 },
    doc: "Verification email resends per client IP.",
  },
  THROTTLE_VERIFY_EMAIL_RESEND_ACCOUNT: {
    parse: rate,
    default: { max: 3, windowSeconds: 3600 },
    doc: "Verification email resends per account; a throttled resend keeps the last link working.",
  },
  THROTTLE_ACCOUNT_TOKEN_IP: {
    parse: rate,
    default: { max: 30, windowSeconds: 600 },
    doc: "Uses of emailed links (verify email, confirm a password reset) per client IP.",
  },
  THROTTLE_ADMIN: {
    parse: rate,
    default: { max: 300, windowSeconds: 60 },
    doc: "Admin API requests (/api/admin/) per staff user.",
  },
  ADMIN_IDEMPOTENCY_KEY_TTL: {
    parse: durationAtLeast(60),
    default: 86400,
    doc:
      "How long the first answer to an admin write sent with an Idempotency-Key is kept and " +
      "replayed to a retry (seconds, or 24h, 7d); older keys are purged hourly.",
  },
} satisfies Record<string, Setting<unknown>>;

type Settings = typeof settings;
type ValueOf<S> = S extends Setting<infer T> ? T : never;

export type Config = Readonly<
  {
    [K in keyof Settings as Settings[K] extends { default: unknown } ? K : never]: ValueOf<
      Settings[K]
    >;
  } & {
    [K in keyof Settings as Settings[K] extends { default: unknown } ? never : K]?: ValueOf<
      Settings[K]
    >;
  } & {
    /** DATA_DIR made absolute. */
    dataDir: string;
    isProduction: boolean;
    /** True when no STRIPE_SECRET_KEY is set and the in-process emulator stands in for Stripe. */
    useStripeEmulator: boolean;
  }
>;

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
  }
}

/**
 * Reads settings from `env` (normally `process.env`, which loadConfigOrExit has already
 * filled). Throws a `ConfigError` naming every bad or missing value at once.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, setting] of Object.entries(settings) as [string, Setting<unknown>][]) {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") {
      if (setting.default !== undefined) values[name] = setting.default;
      continue;
    }
    try {
      values[name] = setting.parse(raw.trim());
    } catch (err) {
      problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const dataDir = String(values.DATA_DIR);
  const config = {
    ...values,
    dataDir: isAbsolute(dataDir) ? dataDir : resolve(dataDir),
    isProduction: values.NODE_ENV === "production",
    useStripeEmulator: values.STRIPE_SECRET_KEY === undefined,
  } as Config;

  if (config.isProduction) {
    const unsafe = productionProblems(config);
    if (unsafe.length > 0) throw new ConfigError(unsafe);
  }
  return Object.freeze(config);
}

/**
 * Production refuses to start with defaults that are only safe on a laptop (docs/architecture.md,
 * 'Modes and scale-out').
 */
function productionProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.SECRET_KEY === DEV_SECRET_KEY) {
    problems.push("SECRET_KEY: must be set (the development default is public)");
  } else if (config.SECRET_KEY.length < 32) {
    problems.push("SECRET_KEY: must be at least 32 characters");
  } else {
    const weak = weakSecret(config.SECRET_KEY, 128);
    if (weak) problems.push(`SECRET_KEY: ${weak}`);
  }
  if (config.PASSWORD_HASH_MEMORY_KIB < 19456 || config.PASSWORD_HASH_ITERATIONS < 2) {
    problems.push(
      "PASSWORD_HASH_MEMORY_KIB/PASSWORD_HASH_ITERATIONS: below OWASP's argon2id minimum (19456 KiB, 2)",
    );
  }
  if (!config.DATABASE_URL) {
    problems.push("DATABASE_URL: required (the embedded database is for development only)");
  }
  problems.push(...stripeProblems(config), ...originProblems(config));
  // /metrics shows traffic, not user data: the floor refuses a word, not a short generated token.
  const weakToken = config.METRICS_TOKEN && weakSecret(config.METRICS_TOKEN, 64);
  if (weakToken) problems.push(`METRICS_TOKEN: ${weakToken}`);
  // They open every user's access answer: as strong as SECRET_KEY. Never quoted in the message.
  for (const [i, token] of config.SERVICE_TOKENS.entries()) {
    const weak = token.length < 32 ? "must be at least 32 characters" : weakSecret(token, 128);
    if (weak) problems.push(`SERVICE_TOKENS: token ${i + 1} ${weak}`);
  }
  if (!config.EMAIL_HOST) problems.push("EMAIL_HOST: required (SMTP is required in production)");
  return problems;
}

/** Stripe's signing secrets are "whsec_" and 32 or more characters; 24 still refuses a placeholder. */
const WEBHOOK_SECRET_SHAPE = /^whsec_[A-Za-z0-9+/=]{24,}$/;

function stripeProblems(config: Config): string[] {
  const problems: string[] = [];
  if (!config.STRIPE_SECRET_KEY) {
    problems.push("STRIPE_SECRET_KEY: required (the Stripe emulator is never used in production)");
  } else if (!/^(sk|rk)_(live|test)_/.test(config.STRIPE_SECRET_KEY)) {
    problems.push("STRIPE_SECRET_KEY: must be a Stripe secret key (sk_live_… or sk_test_…)");
  }
  if (!config.STRIPE_PUBLISHABLE_KEY) problems.push("STRIPE_PUBLISHABLE_KEY: required");
  if (!config.STRIPE_WEBHOOK_SECRET) {
    problems.push("STRIPE_WEBHOOK_SECRET: required");
  } else if (!WEBHOOK_SECRET_SHAPE.test(config.STRIPE_WEBHOOK_SECRET)) {
    problems.push("STRIPE_WEBHOOK_SECRET: not a Stripe signing secret (whsec_ and 24+ characters)");
  }
  // The secret key is sent with every request: over TLS, to Stripe. No loopback exception either:
  // an emulator or a local proxy is a development setup.
  const base = config.STRIPE_API_BASE && new URL(config.STRIPE_API_BASE).origin;
  if (base && base !== "https://api.stripe.com") {
    problems.push("STRIPE_API_BASE: must be unset or https://api.stripe.com in production");
  }
  return problems;
}

/** Wildcards (Django's ALLOWED_HOSTS = ["*"], any CORS origin) are for development. */
function originProblems(config: Config): string[] {
  const problems: string[] = [];
  if (config.ALLOWED_HOSTS.length === 0) {
    problems.push("ALLOWED_HOSTS: required");
  } else if (config.ALLOWED_HOSTS.some((host) => host.includes("*"))) {
    problems.push("ALLOWED_HOSTS: no wildcards in production (.example.com matches subdomains)");
  }
  const origins = config.CORS_ALLOWED_ORIGINS;
  if (origins.some((origin) => origin.includes("*"))) {
    problems.push("CORS_ALLOWED_ORIGINS: no wildcards in production (list the web app's origins)");
  }
  const notOrigin = origins.find((o) => !o.includes("*") && URL.parse(o)?.origin !== o);
  if (notOrigin) {
    problems.push(`CORS_ALLOWED_ORIGINS: ${notOrigin} is not an origin (scheme://host[:port])`);
  }
  return problems;
}
