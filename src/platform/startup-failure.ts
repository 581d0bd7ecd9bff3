import type { Config } from "../config.ts";
import { databaseUnavailable, driverError } from "./db/client.ts";
import { StartupError } from "./startup-error.ts";

/**
 * The one line that says why a process could not start and what to do about it, for the failures
 * an operator causes (a database not created yet, a port taken, a server not running); undefined
 * for anything else, which is a bug and keeps its stack.
 */
export function startupFailureLine(
  err: unknown,
  config: Pick<Config, "PORT" | "DATABASE_URL"> | undefined,
): string | undefined {
  if (err instanceof StartupError) return err.message;
  const listen = err as NodeJS.ErrnoException & { port?: number };
  if (listen?.code === "EADDRINUSE" || listen?.code === "EACCES") {
    const port = listen.port ?? config?.PORT;
    const setting = port === config?.PORT ? ` (PORT=${port})` : "";
    return listen.code === "EADDRINUSE"
      ? `port ${port} is already in use${setting}: stop the process listening there or set PORT to a free port`
      : `not allowed to listen on port ${port}${setting}: set PORT to a port above 1023`;
  }
  const database = config?.DATABASE_URL ? new URL(config.DATABASE_URL) : undefined;
  const name = decodeURIComponent(database?.pathname.slice(1) ?? "") || "postgres";
  const code = driverError(err)?.code;
  if (code === "3D000") {
    return `PostgreSQL has no database "${name}" (DATABASE_URL): create it with \`createdb ${name}\``;
  }
  if (code === "28P01" || code === "28000") {
    return `PostgreSQL refused the login of "${decodeURIComponent(database?.username ?? "")}" (DATABASE_URL): check its user and password`;
  }
  const unavailable = databaseUnavailable(err);
  if (unavailable && database) {
    return `cannot reach PostgreSQL at ${database.host || "localhost"} (DATABASE_URL): ${unavailable.code ?? unavailable.message}; is it running?`;
  }
  return undefined;
}
