import type { AppDeps } from "../platform/feature.ts";
import { registerThrottle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import { registerAccountTokenRoutes } from "./account-token-routes.ts";
import { registerAccountRoutes } from "./accounts-routes.ts";
import { noSubscription } from "./accounts-service.ts";
import type { ClaimOf } from "./token-service.ts";

/**
 * With ACCESS_CLAIMS=on, the access token's `entitlements` claim as billing answers it (through the
 * services, docs/architecture.md, 'The feature contract'); off, none, and signing reads nothing.
 */
function claimOf(deps: AppDeps): ClaimOf | undefined {
  const { accessClaimOf, config } = deps;
  if (!config.ACCESS_CLAIMS || !accessClaimOf) return undefined;
  return (executor, userId) => accessClaimOf(executor, config, userId);
}

/** The accounts feature's HTTP surface: `/api/auth/…`, throttled, with the `request.user` slot. */
export async function accountsModule(app: App, deps: AppDeps): Promise<void> {
  if (!app.hasRequestDecorator("user")) app.decorateRequest("user", null);
  const throttle = await registerThrottle(app, { redisUrl: deps.config.REDIS_URL });
  registerAccountRoutes(
    app,
    {
      db: deps.database.db,
      config: deps.config,
      jobs: deps.jobs,
      subscriptionStatusOf: deps.subscriptionStatusOf ?? noSubscription,
      claimOf: claimOf(deps),
    },
    deps,
    throttle,
  );
  registerAccountTokenRoutes(app, deps, throttle);
}
