import type { AppDeps } from "../platform/feature.ts";
import type { App } from "../platform/http/types.ts";
import { registerAccessRoutes } from "./access-routes.ts";
import { registerBillingRoutes } from "./billing-routes.ts";
import { registerChangeRoutes } from "./change-routes.ts";
import { registerHostedRoutes } from "./hosted-routes.ts";

/** The billing feature's HTTP surface: `/api/subscriptions/…`, `/api/internal/access/…`. */
export function billingModule(app: App, deps: AppDeps): void {
  if (!app.hasRequestDecorator("user")) app.decorateRequest("user", null);
  const billingDeps = {
    db: deps.database.db,
    stripe: deps.stripe.stripe,
    jobs: deps.jobs,
    config: deps.config,
  };
  registerBillingRoutes(app, deps, billingDeps);
  registerChangeRoutes(app, deps, billingDeps);
  registerHostedRoutes(app, deps, billingDeps);
  registerAccessRoutes(app, deps, billingDeps);
}
