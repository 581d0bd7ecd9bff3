// First: V8 settings that must precede the rest (v8-flags.ts).
import "./platform/v8-flags.ts";
import { createLogger } from "./platform/logging.ts";
import {
  exitOnStartupFailure,
  loadConfigOrExit,
  refuseUnsharedEmulator,
  saveCompileCache,
  stopOnSignals,
} from "./platform/process.ts";

// The job worker alone, for production scale-out (docs/architecture.md, 'Scale-out'): run any
// number of these.
const config = loadConfigOrExit();
const logger = createLogger(config);

// The embedded database (PGlite) belongs to the one process that opened it; a second process on
// the same files would corrupt them.
if (!config.DATABASE_URL) {
  process.stderr.write(
    "A separate worker needs PostgreSQL: set DATABASE_URL. With the embedded database, `npm start` runs the worker in-process.\n",
  );
  process.exit(1);
}
refuseUnsharedEmulator(config, "A separate worker needs the Stripe the API uses");

async function main(): Promise<void> {
  const { openServices } = await import("./services.ts");
  const services = await openServices(config, logger);
  await services.jobs.work(services);
  logger.info({ database: services.database.driver }, "worker ready");
  saveCompileCache();
  stopOnSignals(logger, config.SHUTDOWN_TIMEOUT, () => services.close());
}

main().catch(exitOnStartupFailure(logger, "worker", config));
