// First: V8 settings that must precede the rest (v8-flags.ts).
import "./platform/v8-flags.ts";
import type { AddressInfo, ListenOptions } from "node:net";
import type { FastifyListenOptions } from "fastify";
import { apiThreadEntry } from "./platform/api-bundle.ts";
import {
  isApiThread,
  isSupervisor,
  onStopRequest,
  superviseApiThreads,
} from "./platform/api-threads.ts";
import { lineLog } from "./platform/line-log.ts";
import type { Logger } from "./platform/logging.ts";
import {
  exitOnStartupFailure,
  loadConfigOrExit,
  lowerThreadPoolPriority,
  refuseUnsharedEmulator,
  runToExit,
  saveCompileCache,
  stopOnSignals,
} from "./platform/process.ts";

// The API process: HTTP server, plus the job worker unless WORKER=off; with WEB_CONCURRENCY above
// 1, that many API threads sharing the port, and a main thread that supervises them.
// The configuration is checked before the application modules load, so a bad setting is reported
// at once instead of after a second of imports.
const config = loadConfigOrExit();

async function main(logger: Logger): Promise<void> {
  const [{ buildApp }, { features }, { openServices }] = await Promise.all([
    import("./app.ts"),
    import("./features.ts"),
    import("./services.ts"),
  ]);
  await lowerThreadPoolPriority();
  const services = await openServices(config, logger, { worksJobs: config.WORKER === "on" });
  const app = await buildApp(services);
  // API threads each bind the port; the kernel spreads connections over them (api-threads.ts).
  const listenOn: FastifyListenOptions & Pick<ListenOptions, "reusePort"> = {
    port: config.PORT,
    host: config.HOST,
    ...(isApiThread() ? { reusePort: true } : {}),
  };
  await app.listen(listenOn);
  const { port } = app.server.address() as AddressInfo;
  for (const feature of features) feature.onListen?.(services, { host: config.HOST, port });
  if (config.WORKER === "on") await services.jobs.work(services);
  const emulator = services.stripe.emulator;
  logger.info(
    {
      database: services.database.driver,
      worker: config.WORKER,
      docs: `http://localhost:${port}/api/docs/`,
      ...(emulator ? { stripe_emulator: emulator.url } : {}),
    },
    "API ready",
  );
  saveCompileCache();
  // Signals reach the main thread only: an API thread drains when its supervisor asks it to.
  const signals: NodeJS.Signals[] = isApiThread() ? [] : ["SIGINT", "SIGTERM"];
  const stop = stopOnSignals(
    logger,
    config.SHUTDOWN_TIMEOUT,
    async () => {
      // Stop accepting connections and finish in-flight requests, then drain jobs, then the database.
      await app.close();
      await services.close();
    },
    signals,
    // A thread's exit drops a log write still in flight ("stopped" and the lines before it, seen
    // in CI under load): wait for the log to be written first.
    async () => {
      if (isApiThread()) await new Promise<void>((resolve) => logger.flush(() => resolve()));
    },
  );
  if (isApiThread()) onStopRequest(stop);
}

if (isSupervisor(config.WEB_CONCURRENCY)) {
  // The embedded database (PGlite) belongs to one thread.
  if (!config.DATABASE_URL) {
    process.stderr.write(
      `WEB_CONCURRENCY=${config.WEB_CONCURRENCY} needs PostgreSQL: set DATABASE_URL (the embedded database serves one API thread).\n`,
    );
    process.exit(1);
  }
  refuseUnsharedEmulator(
    config,
    `WEB_CONCURRENCY=${config.WEB_CONCURRENCY} needs one Stripe for all its API threads`,
  );
  // The threads share the port through SO_REUSEPORT, which spreads connections on these only.
  if (process.platform !== "linux" && process.platform !== "freebsd") {
    process.stderr.write(
      `WEB_CONCURRENCY=${config.WEB_CONCURRENCY} needs Linux or FreeBSD (SO_REUSEPORT); elsewhere run one process per core behind a load balancer.\n`,
    );
    process.exit(1);
  }
  // The main thread only supervises: what the API threads need is imported in the other branch
  // and in main(), which it never runs (pino included: it logs with lineLog), and the migrations
  // run in a process of their own, so it stays small for the life of the process; the threads run
  // one bundle of the sources, built meanwhile (api-bundle.ts; docs/performance.md, "The API
  // tier's memory").
  const logger = lineLog(config);
  superviseApiThreads(logger, {
    threads: config.WEB_CONCURRENCY,
    entry: apiThreadEntry(logger, new URL(import.meta.url)),
    shutdownTimeoutSeconds: config.SHUTDOWN_TIMEOUT,
    prepare: async () => {
      if (!config.MIGRATE_ON_START) return;
      // It has logged why it failed, in the line the primary would have written.
      if ((await runToExit(new URL("./platform/db/migrate-process.ts", import.meta.url))) !== 0)
        process.exit(1);
    },
  }).then(saveCompileCache, exitOnStartupFailure(logger, "API cluster", config));
} else {
  if (config.WORKER === "off") {
    refuseUnsharedEmulator(
      config,
      "WORKER=off leaves the jobs to `npm run worker`, which needs the same Stripe",
    );
  }
  const { createLogger } = await import("./platform/logging.ts");
  const logger = createLogger(config);
  main(logger).catch(exitOnStartupFailure(logger, "API", config));
}
