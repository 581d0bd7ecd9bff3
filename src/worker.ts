import { createLogger } from "./platform/logging.ts";
import { exitOnStartupFailure, loadConfigOrExit, stopOnSignals } from "./platform/process.ts";
import { openServices } from "./services.ts";

// The job worker alone, for production scale-out (DESIGN §6): run any number of these.
const config = loadConfigOrExit();
const logger = createLogger(config);

async function main(): Promise<void> {
  const services = await openServices(config, logger);
  await services.jobs.work(services);
  logger.info({ database: services.database.driver }, "worker ready");
  stopOnSignals(logger, config.SHUTDOWN_TIMEOUT, () => services.close());
}

main().catch(exitOnStartupFailure(logger, "worker"));
