import { timingSafeEqual } from "node:crypto";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Config } from "../config.ts";
import type { Database } from "./db/client.ts";
import { detailError } from "./http/errors.ts";
import type { App } from "./http/types.ts";

/**
 * The process's Prometheus metrics. One instance per process, handed to whatever records:
 * the HTTP layer, the job runner, the webhook ledger, the mailer.
 */
export class Metrics {
  readonly registry = new Registry();

  readonly httpDuration = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request duration by route template, method and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly webhookEvents = new Counter({
    name: "stripe_webhook_events_total",
    help: "Stripe events by type and outcome (received, duplicate, processed, failed)",
    labelNames: ["type", "outcome"] as const,
    registers: [this.registry],
  });

  readonly webhookLag = new Histogram({
    name: "stripe_webhook_processing_lag_seconds",
    help: "Time from receiving a Stripe event to finishing its processing",
    labelNames: ["type"] as const,
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120, 600, 3600],
    registers: [this.registry],
  });

  readonly jobs = new Counter({
    name: "jobs_total",
    help: "Background job attempts by queue and outcome (completed, retried, failed)",
    labelNames: ["queue", "outcome"] as const,
    registers: [this.registry],
  });

  readonly emails = new Counter({
    name: "emails_total",
    help: "Email send attempts by template and outcome (sent, failed)",
    labelNames: ["template", "outcome"] as const,
    registers: [this.registry],
  });

  constructor(database?: Database) {
    collectDefaultMetrics({ register: this.registry });
    const registry = this.registry;
    new Gauge({
      name: "db_pool_connections",
      help: "Database pool connections by state (PostgreSQL only)",
      labelNames: ["state"] as const,
      registers: [registry],
      collect() {
        const counts = database?.poolCounts?.();
        if (!counts) return;
        this.set({ state: "total" }, counts.total);
        this.set({ state: "idle" }, counts.idle);
        this.set({ state: "waiting" }, counts.waiting);
      },
    });
  }
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from(header?.startsWith("Bearer ") ? header.slice(7) : "");
  const expected = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * Times every request by its route template and serves `/metrics`. In production `/metrics`
 * needs `Authorization: Bearer <METRICS_TOKEN>`, and is refused when no token is configured.
 */
export function registerMetrics(app: App, metrics: Metrics, config: Config): void {
  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.httpDuration.observe(
      { method: request.method, route, status: String(reply.statusCode) },
      reply.elapsedTime / 1000,
    );
    done();
  });

  app.get("/metrics", { schema: { hide: true } }, async (request, reply) => {
    if (config.isProduction) {
      const token = config.METRICS_TOKEN;
      if (!token || !tokenMatches(request.headers.authorization, token)) {
        throw detailError("forbidden", "You do not have permission to perform this action.");
      }
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });
}
