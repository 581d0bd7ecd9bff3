import type { AddressInfo } from "node:net";
import { buildApp } from "./app.ts";
import { registerEmbeddedWebhook } from "./billing/stripe-client.ts";
import { createLogger } from "./platform/logging.ts";
import { exitOnStartupFailure, loadConfigOrExit, stopOnSignals } from "./platform/process.ts";
import { openServices } from "./services.ts";

// The API process: HTTP server, plus the job worker unless WORKER=off.
const config = loadConfigOrExit();
const logger = createLogger(config);

async function main(): Promise<void> {
  const services = await openServices(config, logger);
  const app = await buildApp(services);
  await app.listen({ port: config.PORT, host: config.HOST });
  registerEmbeddedWebhook(services.stripe, config.HOST, (app.server.address() as AddressInfo).port);
  if (config.WORKER === "on") await services.jobs.work(services);
  logger.info(
    {
      database: services.database.driver,
      worker: config.WORKER,
      docs: `http://localhost:${config.PORT}/api/docs/`,
    },
    "API ready",
  );
  stopOnSignals(logger, config.SHUTDOWN_TIMEOUT, async () => {
    // Stop accepting connections and finish in-flight requests, then drain jobs, then the database.
    await app.close();
    await services.close();
  });
}

main().catch(exitOnStartupFailure(logger, "API"));
