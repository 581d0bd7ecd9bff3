import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DestinationStream } from "pino";
import { type App, buildApp, modules } from "../../src/app.ts";
import { type Config, loadConfig } from "../../src/config.ts";
import type { AppModule, Services } from "../../src/platform/feature.ts";
import { createLogger } from "../../src/platform/logging.ts";
import { openServices, type ServicesOptions } from "../../src/services.ts";
import { createTestDatabase, type TestDatabase } from "./database.ts";
import { checkResponsesAgainstDocument } from "./openapi-contract.ts";

/** A test configuration: the defaults, quiet logs, a private DATA_DIR, plus `overrides`. */
export async function testConfig(overrides: Record<string, string> = {}): Promise<Config> {
  const dataDir = await mkdtemp(join(tmpdir(), "billing-data-"));
  return loadConfig({
    NODE_ENV: "test",
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "silent",
    DATA_DIR: dataDir,
    MIGRATE_ON_START: "false",
    // Tests run side by side: never the embedded emulator's well-known port.
    STRIPE_EMULATOR_PORT: "0",
    // Never on the hour in the middle of a test (a test that holds deliveries, say): tests run it.
    RECONCILE_INTERVAL: "0",
    ...overrides,
  });
}

export interface TestApp {
  app: App;
  services: Services;
  config: Config;
  testDatabase: TestDatabase;
  /** Responses that did not match /api/schema/ (empty unless the app drifted from its document). */
  contractViolations: string[];
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  /** Feature modules to mount (default: the real ones). */
  modules?: AppModule[];
  /** Run the job worker in this process (default true). */
  worker?: boolean;
  /** Job definitions to register (default: the real ones). */
  jobs?: ServicesOptions["jobs"];
  /** Stripe to use (default: a private in-process emulator, as in the embedded default). */
  stripe?: ServicesOptions["stripe"];
  /** Where log lines go (default stdout, at TEST_LOG_LEVEL or silent). */
  logDestination?: DestinationStream;
}

/** The real app on a fresh database, with the worker running, ready for `app.inject`. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const testDatabase = await createTestDatabase();
  const config = await testConfig(options.env);
  const logger = createLogger(config, options.logDestination);
  const services = await openServices(config, logger, {
    database: testDatabase.database,
    spies: true,
    pollingIntervalSeconds: 0.5,
    ...(options.jobs ? { jobs: options.jobs } : {}),
    ...(options.stripe ? { stripe: options.stripe } : {}),
  });
  const app = await buildApp(services, options.modules ?? modules);
  // Every response is checked against /api/schema/: a route cannot drift from its document.
  const contract = checkResponsesAgainstDocument(app);
  await app.ready();
  if (options.worker ?? true) await services.jobs.work(services);
  return {
    app,
    services,
    config,
    testDatabase,
    contractViolations: contract.violations,
    async close() {
      await app.close();
      await services.close();
      await testDatabase.drop();
      if (contract.violations.length > 0) {
        throw new Error(
          `responses that do not match /api/schema/:\n${contract.violations.join("\n")}`,
        );
      }
    },
  };
}
