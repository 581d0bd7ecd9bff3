import { hostname } from "node:os";
import { isatty } from "node:tty";
import { isMainThread, threadId } from "node:worker_threads";
import { type DestinationStream, type Logger, pino } from "pino";
import type { Config } from "../config.ts";
import { prettyDestination } from "./log-pretty.ts";

export type { Logger };

/** Paths that may hold secrets; pino replaces their values before anything is written. */
export const REDACT_PATHS = [
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["stripe-signature"]',
  "*.password",
  "*.new_password",
  "*.old_password",
  "*.refresh",
  "*.access",
  "*.token",
];

/**
 * pino's error serializer, without the data a database error carries. Drizzle's DrizzleQueryError
 * holds the statement and every parameter (a password hash, say) in `query`, `params` and its
 * message; the driver's error, its `cause`, has them too (PGlite) and may quote the failing row in
 * `detail`. Such errors are logged with their type, the driver's message, SQLSTATE and stack only.
 */
export function serializeError(err: unknown): unknown {
  return pino.stdSerializers.err(withoutQueryData(err, new Set()) as Error);
}

/** Properties of a database error that hold statements or values. */
const QUERY_DATA = new Set(["query", "params", "detail", "internalQuery", "queryOptions"]);

function withoutQueryData(err: unknown, seen: Set<unknown>): unknown {
  if (!(err instanceof Error) || seen.has(err)) return err;
  seen.add(err);
  // A driver's error (PostgreSQL's, PGlite's) has a severity; Drizzle's wrapper has only the data.
  const driver = "severity" in err && "code" in err;
  const wrapper = !driver && "params" in err && "query" in err;
  const cause = withoutQueryData(err.cause, seen);
  if (!driver && !wrapper && cause === err.cause) return err;
  // A copy, of the same class so that the line still names it: the caller's error is not touched.
  const copy: Error = Object.create(Object.getPrototypeOf(err));
  for (const key of Object.getOwnPropertyNames(err)) {
    if (QUERY_DATA.has(key) || key === "cause") continue;
    Object.defineProperty(copy, key, {
      value: (err as unknown as Record<string, unknown>)[key],
      enumerable: Object.prototype.propertyIsEnumerable.call(err, key),
      writable: true,
      configurable: true,
    });
  }
  if (err.cause !== undefined) copy.cause = cause;
  if (wrapper) {
    copy.message = "Failed query (its SQL and parameters are not logged)";
    // The stack starts with the message; only its frames are kept.
    const frames = (err.stack ?? "").split("\n").filter((line) => /^\s+at /.test(line));
    copy.stack = [`${err.name}: ${copy.message}`, ...frames].join("\n");
  }
  return copy;
}

/**
 * `log.error(err)` makes the error's message the line's `msg`, past the serializer: such a call
 * becomes `log.error({ err }, message)` with the message of the error as serialized.
 */
function errorFirst(args: unknown[]): unknown[] {
  // Every line passes here (the access log's too): the common case allocates nothing.
  if (!(args[0] instanceof Error)) return args;
  const [first, ...rest] = args as [Error, ...unknown[]];
  const message =
    typeof rest[0] === "string" ? [] : [(withoutQueryData(first, new Set()) as Error).message];
  return [{ err: first }, ...message, ...rest];
}

/**
 * The process's logger, secrets redacted and database errors stripped of their data
 * (serializeError): JSON lines on stdout, buffered; in development on a terminal, one readable
 * line each instead (log-pretty.ts). `destination` replaces stdout (tests).
 */
export function createLogger(
  config: Pick<Config, "LOG_LEVEL"> & Partial<Pick<Config, "NODE_ENV">>,
  destination?: DestinationStream,
): Logger {
  const options = {
    level: config.LOG_LEVEL,
    // API threads (WEB_CONCURRENCY above 1) share the pid: each line also names its thread.
    ...(isMainThread ? {} : { base: { pid: process.pid, hostname: hostname(), thread: threadId } }),
    redact: { paths: REDACT_PATHS, censor: "[redacted]" },
    serializers: { err: serializeError },
    hooks: {
      logMethod(this: Logger, args: unknown[], method: (...args: unknown[]) => void) {
        method.apply(this, errorFirst(args));
      },
    },
  };
  if (destination) return pino(options, destination);
  // A person reads a terminal; machines read production's JSON (and so does anything piped).
  // (A thread's process.stdout is a pipe to the main thread: ask about the descriptor itself.)
  if (config.NODE_ENV === "development" && isatty(1)) {
    return pino(options, prettyDestination(process.stdout));
  }
  // Lines are gathered and written 4 KiB at a time, off the event loop, and at least every
  // LOG_FLUSH_MS: one synchronous write per line was a system call in every request, a share of
  // its CPU the bench could see (docs/performance.md). pino writes what is left when the process
  // exits, even on a fatal error; only a SIGKILL loses the last LOG_FLUSH_MS. A stalled reader
  // of stdout makes lines past LOG_BUFFER_MAX be dropped instead of blocking the API or growing
  // without bound.
  const stdout = pino.destination({
    dest: 1,
    sync: false,
    minLength: 4096,
    maxLength: LOG_BUFFER_MAX,
  });
  setInterval(() => stdout.flush(), LOG_FLUSH_MS).unref();
  // pino writes what is left at exit in the main thread only: an API thread that drains and exits
  // would lose its last lines ("shutting down", "stopped", the last requests') without this.
  if (!isMainThread) {
    process.on("exit", () => stdout.flushSync());
  }
  return pino(options, stdout);
}

const LOG_FLUSH_MS = 250;
const LOG_BUFFER_MAX = 16 * 1024 * 1024;
