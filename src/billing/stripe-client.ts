import { join } from "node:path";
import Stripe from "stripe";
import type { Config } from "../config.ts";
import type { Database } from "../platform/db/client.ts";
import type { Logger } from "../platform/logging.ts";
import { StartupError } from "../platform/startup-error.ts";
import type { StripeDeps } from "../platform/stripe.ts";
import { databaseSnapshotStore } from "./emulator-snapshot.ts";

/**
 * The API version every request and every webhook payload is read with (docs/architecture.md,
 * 'The Stripe API version').
 */
export const STRIPE_API_VERSION = "2026-10-28.endive";

/**
 * The signing secret of the embedded emulator's webhook endpoint when STRIPE_WEBHOOK_SECRET is
 * unset. Public on purpose: it only ever guards a laptop's offline emulator.
 */
export const DEV_WEBHOOK_SECRET = "whsec_development_emulator_only_0123456789abcdef";

/** Names our endpoint in the emulator's snapshot, so a restart on a new port reuses it. */
const EMBEDDED_ENDPOINT = "billing-api (embedded)";

/**
 * Where the embedded emulator listens unless STRIPE_EMULATOR_PORT says otherwise: a known port, so
 * that README's walkthrough reaches its `/_emulator/` controls (the standalone emulator's default
 * too). When it is taken, a free port, logged.
 */
export const EMULATOR_DEFAULT_PORT = 12111;

export type { EmbeddedEmulator, StripeDeps } from "../platform/stripe.ts";

/** Splits STRIPE_API_BASE into the SDK's host/port/protocol; unset keeps api.stripe.com. */
export function sdkAddress(base: string | undefined): {
  host?: string;
  port?: number;
  protocol?: "http" | "https";
} {
  if (!base) return {};
  const url = new URL(base);
  const protocol = url.protocol === "http:" ? "http" : "https";
  return {
    host: url.hostname,
    port: url.port ? Number(url.port) : protocol === "http" ? 80 : 443,
    protocol,
  };
}

/** The one place an SDK client is made. Retries are ours to choose (the SDK's default is 2). */
export function createStripeClient(secretKey: string, base: string | undefined): Stripe {
  return new Stripe(secretKey, {
    apiVersion: STRIPE_API_VERSION,
    maxNetworkRetries: 2,
    timeout: 30_000,
    telemetry: false,
    ...sdkAddress(base),
  });
}

/**
 * Stripe from configuration: the real API (or STRIPE_API_BASE) with STRIPE_SECRET_KEY, otherwise
 * an in-process emulator whose state lives in `database` (emulator-snapshot.ts). The emulator
 * module is imported dynamically, so production (where config refuses the emulator) never loads it.
 */
export async function openStripe(
  config: Pick<
    Config,
    | "STRIPE_SECRET_KEY"
    | "STRIPE_API_BASE"
    | "STRIPE_WEBHOOK_SECRET"
    | "STRIPE_EMULATOR_PORT"
    | "useStripeEmulator"
  > & { dataDir: string },
  logger: Logger,
  database: Database,
): Promise<StripeDeps> {
  if (!config.useStripeEmulator && config.STRIPE_SECRET_KEY) {
    return {
      stripe: createStripeClient(config.STRIPE_SECRET_KEY, config.STRIPE_API_BASE),
      webhookSecret: config.STRIPE_WEBHOOK_SECRET,
      emulator: undefined,
    };
  }
  const { startStripeEmulator } = await import("../../stripe-emulator/index.ts");
  const port = config.STRIPE_EMULATOR_PORT;
  const emulator = await startStripeEmulator({
    port: port ?? EMULATOR_DEFAULT_PORT,
    orFreePort: port === undefined,
    snapshot: databaseSnapshotStore(database, join(config.dataDir, "stripe-emulator.json")),
    logger: logger.child({ component: "stripe-emulator" }),
    unref: true,
  }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    throw new StartupError(
      `port ${port} is already in use (STRIPE_EMULATOR_PORT=${port}): stop the process listening there, or unset STRIPE_EMULATOR_PORT for ${EMULATOR_DEFAULT_PORT} or a free port`,
    );
  });
  if (port === undefined && emulator.port !== EMULATOR_DEFAULT_PORT) {
    logger.warn(
      { url: emulator.url },
      `port ${EMULATOR_DEFAULT_PORT} is taken: the Stripe emulator (in-process) listens on a free port instead (STRIPE_EMULATOR_PORT chooses one)`,
    );
  } else {
    logger.info({ url: emulator.url }, "Stripe emulator (in-process) ready");
  }
  return {
    stripe: createStripeClient("sk_test_embedded_emulator", emulator.url),
    webhookSecret: config.STRIPE_WEBHOOK_SECRET ?? DEV_WEBHOOK_SECRET,
    emulator,
  };
}

/**
 * Points the embedded emulator's webhooks at our own `/api/webhooks/stripe/`, once the API
 * listens (PORT may be 0, so the URL is only known now). A wildcard listen address is reached
 * over loopback.
 */
export function registerEmbeddedWebhook(deps: StripeDeps, host: string, port: number): void {
  if (!deps.emulator || !deps.webhookSecret) return;
  const wildcard = ["0.0.0.0", "::", "localhost", ""].includes(host);
  const target = wildcard ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  deps.emulator.addWebhookEndpoint({
    url: `http://${target}:${port}/api/webhooks/stripe/`,
    secret: deps.webhookSecret,
    description: EMBEDDED_ENDPOINT,
  });
}
