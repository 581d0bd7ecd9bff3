import { writeSync } from "node:fs";
import { hostname } from "node:os";
import type { Config } from "../config.ts";
import { prettyDestination } from "./log-pretty.ts";

type LogMethod = { (fields: object, message?: string): void; (message: string): void };

/** The log methods a supervising process uses; pino's logger has them too. */
export interface LogLines {
  fatal: LogMethod;
  error: LogMethod;
  warn: LogMethod;
  info: LogMethod;
}

const LEVELS: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: 100,
};

/**
 * The logger of the main thread that supervises the API threads: the JSON lines of createLogger's
 * pino (level, time, pid, hostname, the fields, msg; an `err` with its type, message and stack),
 * each written at once. It writes a handful of lines in its life, none of them with request data or
 * a secret; pino and what it loads were about 7 MB (docs/performance.md, "The API tier's memory").
 */
export function lineLog(config: Pick<Config, "LOG_LEVEL"> & Partial<Pick<Config, "NODE_ENV">>) {
  const threshold = LEVELS[config.LOG_LEVEL] ?? 30;
  const base = { pid: process.pid, hostname: hostname() };
  const pretty =
    config.NODE_ENV === "development" && process.stdout.isTTY
      ? prettyDestination(process.stdout)
      : undefined;
  const write = pretty ? (line: string) => pretty.write(line) : writeLine;
  const method =
    (level: number): LogMethod =>
    (first: object | string, message?: string) => {
      if (level < threshold) return;
      const fields = typeof first === "string" ? {} : withError(first);
      const msg = typeof first === "string" ? first : message;
      write(`${JSON.stringify({ level, time: Date.now(), ...base, ...fields, msg })}\n`);
    };
  return {
    fatal: method(60),
    error: method(50),
    warn: method(40),
    info: method(30),
  } satisfies LogLines;
}

function withError(fields: object): object {
  const { err } = fields as { err?: unknown };
  if (!(err instanceof Error)) return fields;
  const { name, message, stack } = err;
  return { ...fields, err: { type: err.constructor?.name ?? name, message, stack } };
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Writes a whole line to stdout. The API threads write to the same descriptor, and a pipe one of
 * them made non-blocking answers EAGAIN while its reader lags: the line is retried for up to about
 * a second, then dropped, as it is when stdout is gone (EPIPE), rather than crashing the thread
 * that supervises the others.
 */
function writeLine(line: string): void {
  let rest = Buffer.from(line);
  for (let tries = 0; rest.length > 0; ) {
    try {
      rest = rest.subarray(writeSync(1, rest));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EAGAIN" || ++tries > 100) return;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}
