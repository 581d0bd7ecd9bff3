import type { AppDeps } from "../platform/feature.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import { Overview } from "./overview-schemas.ts";
import { adminOverview } from "./overview-service.ts";
import { adminErrors } from "./staff-guard.ts";

/** `GET /api/admin/overview/`: the business at a glance. */
export function overviewRoutes(app: App, deps: AppDeps): void {
  app.get(
    "/api/admin/overview/",
    {
      schema: {
        tags: ["admin"],
        security: [{ bearerAuth: [] }],
        operationId: "admin_overview",
        summary:
          "Business metrics computed now (MRR, subscriptions, trials, churn, recovery) and recent failures.",
        description:
          "Computed on each request (not the stored snapshot of /metrics): MRR per currency, subscriptions by status and plan, trials, churn and recovery over the window; failed payments in the window, stored webhook events by state, emails whose retries are spent, and dead-lettered jobs per queue.",
        response: {
          200: described("The overview.", Overview),
          ...adminErrors(),
        },
      },
    },
    async () => adminOverview(deps, new Date()),
  );
}
