import cluster, { type Worker } from "node:cluster";
import type { LogLines } from "./line-log.ts";

export interface ClusterOptions {
  processes: number;
  shutdownTimeoutSeconds: number;
  /** Runs once in the primary before any process is forked (e.g. migrations). */
  prepare(): Promise<void>;
}

/**
 * The primary of `WEB_CONCURRENCY` API processes sharing one port (node:cluster). It forks them,
 * replaces one that dies, and on SIGTERM/SIGINT passes the signal on and waits — bounded — for
 * all of them to drain and exit.
 */
export async function superviseCluster(logger: LogLines, options: ClusterOptions): Promise<void> {
  await options.prepare();
  let stopping = false;
  const fork = (): Worker =>
    // Migrations already ran here; N processes migrating at once would only race.
    cluster.fork({ MIGRATE_ON_START: "false" });

  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    logger.error(
      { pid: worker.process.pid, code, signal },
      "API process died; starting a replacement",
    );
    // A short pause keeps a process that crashes at start from spinning the CPU.
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000).unref();
  });

  for (let i = 0; i < options.processes; i++) fork();
  logger.info({ processes: options.processes }, "API cluster started");

  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "stopping API processes");
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => !!w);
    const exits = workers.map(
      (worker) => new Promise<void>((resolve) => worker.once("exit", () => resolve())),
    );
    for (const worker of workers) worker.process.kill("SIGTERM");
    const timer = setTimeout(
      () => {
        logger.error("API processes did not stop in time");
        process.exit(1);
      },
      (options.shutdownTimeoutSeconds + 5) * 1000,
    );
    Promise.all(exits).then(() => {
      clearTimeout(timer);
      logger.info("stopped");
      process.exit(0);
    });
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}

export function isClusterPrimary(processes: number): boolean {
  return processes > 1 && cluster.isPrimary;
}
