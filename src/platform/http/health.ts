import { Type } from "typebox";
import { type Database, databaseUnavailable } from "../db/client.ts";
import { migrationStatus } from "../db/migrate.ts";
import { described } from "./openapi.ts";
import type { App } from "./types.ts";

/**
 * The probe paths. Orchestrators call them on any host name, over plain HTTP, every few seconds:
 * they skip the host check, the HTTPS redirect and request logging.
 */
export const PROBES: ReadonlySet<string> = new Set([
  "/healthz",
  "/readyz",
  "/healthz/",
  "/readyz/",
]);

const Health = Type.Object({ status: Type.String(), detail: Type.Optional(Type.String()) });

/** `/healthz`: the process is alive. `/readyz`: the database answers and is fully migrated. */
export function registerHealth(app: App, database: Database): void {
  const healthz = {
    tags: ["operations"],
    summary: "Liveness",
    description:
      "Answers without touching the database: a failure means the process should be restarted.",
    operationId: "healthz",
    response: { 200: described('Alive: `{"status": "ok"}`.', Health) },
  };
  app.get("/healthz", { schema: healthz }, async () => ({ status: "ok" }));

  const readyz = {
    tags: ["operations"],
    summary: "Readiness: database reachable and migrated",
    description:
      "A 503 means this instance should get no traffic for now: the database is unreachable or " +
      "migrations are pending.",
    operationId: "readyz",
    response: {
      200: described("Ready: the database answers and every migration is applied.", Health),
      503: described("Not ready: `detail` says whether the database or migrations.", Health),
    },
  };
  app.get("/readyz", { schema: readyz }, async (request, reply) => {
    try {
      await database.ping();
      const migrations = await migrationStatus(database);
      if (!migrations.current) {
        return reply.code(503).send({
          status: "unavailable",
          detail: `migrations pending (${migrations.applied} of ${migrations.expected} applied)`,
        });
      }
      return { status: "ok" };
    } catch (err) {
      const outage = databaseUnavailable(err);
      if (outage) request.log.warn({ database: outage }, "readiness check failed");
      else request.log.warn({ err }, "readiness check failed");
      return reply.code(503).send({ status: "unavailable", detail: "database unreachable" });
    }
  });
}
