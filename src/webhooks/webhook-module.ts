import type { AppModule } from "../platform/feature.ts";
import { registerWebhookRoutes } from "./webhook-routes.ts";
import type { EventSource } from "./webhook-source.ts";

/** The webhooks feature's HTTP surface: `/api/webhooks/<source>/`. */
export function webhookModule(source: EventSource): AppModule {
  return (app, deps) => registerWebhookRoutes(app, deps, source);
}
