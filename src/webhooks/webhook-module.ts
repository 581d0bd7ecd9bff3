import type { AppDeps } from "../platform/feature.ts";
import type { App } from "../platform/http/types.ts";
import { registerWebhookRoutes } from "./webhook-routes.ts";

/** The webhooks feature's HTTP surface: `/api/webhooks/stripe/`. */
export async function webhookModule(app: App, deps: AppDeps): Promise<void> {
  await registerWebhookRoutes(app, deps);
}
