import { fork } from "node:child_process";
import { readdir, readFile, stat } from "node:fs/promises";
import { flushCompileCache, getCompileCacheDir } from "node:module";
import { setPriority } from "node:os";
import { type Config, ConfigError, loadConfig } from "../config.ts";
import type { LogLines } from "./line-log.ts";

/**
 * Loads the configuration, `.env` in the working directory included when there is one (a variable
 * already set wins), or prints every problem (no stack trace) and exits 1. Read here rather than
 * with Node's `--env-file-if-exists`, which prints ".env not found" to every run without one.
 */
export function loadConfigOrExit(): Config {
  try {
    loadEnvFileIfExists(".env");
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}

/**
 * Exits 1 with one line when this process would start its own in-process Stripe emulator while
 * another process needs the same Stripe (`why` says which): the emulator keeps its state in one
 * process's memory, so each process would talk to a different Stripe and the webhooks of one would
 * name objects the other never made.
 */
export function refuseUnsharedEmulator(
  config: Pick<Config, "useStripeEmulator">,
  why: string,
): void {
  if (!config.useStripeEmulator) return;
  process.stderr.write(
    `${why}, and the in-process Stripe emulator cannot be shared: run one with \`npm run stripe-emulator\` and point every process at it with STRIPE_API_BASE=http://127.0.0.1:12111 and STRIPE_SECRET_KEY=sk_test_… (README, "Running against PostgreSQL").\n`,
  );
  process.exit(1);
}

function loadEnvFileIfExists(path: string): void {
  try {
    process.loadEnvFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * Reports a fatal start-up failure in one log line and exits 1. A failure the operator can fix (a
 * missing database, a taken port, the embedded database in use: startup-failure.ts) is one short
 * sentence saying what to do; anything else is a bug, logged with its stack.
 */
export function exitOnStartupFailure(
  logger: LogLines,
  what: string,
  config?: Pick<Config, "PORT" | "DATABASE_URL">,
) {
  return async (err: unknown): Promise<never> => {
    const { startupFailureLine } = await import("./startup-failure.ts");
    const line = startupFailureLine(err, config);
    if (line) logger.fatal(`${what} failed to start: ${line}`);
    else logger.fatal({ err }, `${what} failed to start`);
    process.exit(1);
  };
}

/**
 * On SIGINT/SIGTERM runs `stop` once, bounded by `timeoutSeconds`, and exits 0 (1 if stopping
 * failed or took too long). A second signal exits at once. Returns the handler, for a thread,
 * which receives no signals (`signals` empty), to call when its supervisor asks it to stop.
 * `beforeExit` runs after the last line, before the exit (a thread waits there for its log).
 */
export function stopOnSignals(
  logger: LogLines,
  timeoutSeconds: number,
  stop: () => Promise<void>,
  signals: NodeJS.Signals[] = ["SIGINT", "SIGTERM"],
  beforeExit: () => Promise<void> = async () => {},
): (signal: NodeJS.Signals) => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, "second signal: exiting now");
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, "shutting down");
    const timer = setTimeout(
      () => {
        logger.error("shutdown timed out");
        process.exit(1);
      },
      timeoutSeconds * 1000 + 2000,
    );
    timer.unref();
    const exit = (code: number) => beforeExit().finally(() => process.exit(code));
    stop().then(
      () => {
        logger.info("stopped");
        return exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        return exit(1);
      },
    );
  };
  for (const signal of signals) process.on(signal, onSignal);
  return onSignal;
}

/**
 * Writes what this process compiled to Node's compile cache (NODE_COMPILE_CACHE: `npm start`, the
 * worker and the Docker image set it) now that start-up is over, instead of at exit, which a
 * killed process never reaches. Every later start, replacement API threads included,
 * then loads the sources already stripped of their types: Node never loads its TypeScript stripper
 * (memory in every process: docs/performance.md) and starts faster. Node checks each
 * entry against the file's contents, so an edited file is compiled again. Without the variable it
 * does nothing.
 */
export function saveCompileCache(): void {
  if (getCompileCacheDir()) flushCompileCache();
}

/**
 * Runs the module at `url` in a child process with this process's Node options
 * and environment, its output going to this process's, and resolves to its exit code (1 when a
 * signal ended it).
 */
export function runToExit(url: URL): Promise<number> {
  const child = fork(url);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => resolve(code ?? 1));
  });
}

/** The niceness of libuv's thread-pool threads in an API process: the lowest priority there is. */
export const THREAD_POOL_NICE = 19;

/**
 * Runs libuv's thread pool, where argon2id hashes (each far costlier than a request), below the
 * event loop: nice 19 for its threads, the event loop staying at 0. A core then goes to hashing
 * only when no request is waiting for it, so logins use the CPU the other endpoints leave and no
 * longer double their latency (docs/performance.md: status while logins run). Linux only, where
 * each thread is a /proc/self/task entry and setpriority applies to one thread; elsewhere it does
 * nothing. Returns how many threads it lowered (a thread that exits and is replaced would be back
 * at 0, but libuv keeps its pool threads for the life of the process).
 */
export async function lowerThreadPoolPriority(): Promise<number> {
  if (process.platform !== "linux") return 0;
  // libuv starts every pool thread with the first job it is given.
  await stat("/");
  let lowered = 0;
  for (const task of await readdir("/proc/self/task")) {
    const name = await readFile(`/proc/self/task/${task}/comm`, "utf8").catch(() => "");
    if (name.trim() !== "libuv-worker") continue;
    try {
      setPriority(Number(task), THREAD_POOL_NICE);
      lowered++;
    } catch {
      // A sandbox may forbid setpriority: hashing then competes as before, nothing else changes.
    }
  }
  return lowered;
}
