import type { AppDeps } from "../platform/feature.ts";
import { registerThrottle } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import { jobsRoutes } from "./admin-jobs-routes.ts";
import { paymentsRoutes } from "./admin-payments-routes.ts";
import { plansRoutes } from "./admin-plans-routes.ts";
import { webhooksRoutes } from "./admin-webhooks-routes.ts";
import { overviewRoutes } from "./overview-routes.ts";
import { guardAdminScope } from "./staff-guard.ts";
import { subscriptionsRoutes } from "./subscriptions-routes.ts";
import { usersRoutes } from "./users-routes.ts";

/**
 * One part of the admin API: registers its routes (under /api/admin/, tag "admin", failures from
 * `adminErrors` / `adminWriteErrors`) on the admin scope, which guards them all.
 */
export type AdminRoutes = (app: App, deps: AppDeps) => void | Promise<void>;

/** Every part of the admin API, in registration order; a new part adds one entry. */
export const adminRouteModules: AdminRoutes[] = [
  usersRoutes,
  subscriptionsRoutes,
  overviewRoutes,
  paymentsRoutes,
  webhooksRoutes,
  jobsRoutes,
  plansRoutes,
];

/**
 * The admin feature's HTTP surface: `/api/admin/…`, staff only. Its routes live in their own
 * Fastify scope so that the guard's hooks (staff-guard.ts) apply to them and to no other route.
 */
export async function adminModule(app: App, deps: AppDeps): Promise<void> {
  if (!app.hasRequestDecorator("user")) app.decorateRequest("user", null);
  const throttle = await registerThrottle(app, { redisUrl: deps.config.REDIS_URL });
  const limit = throttle.limiter("admin", deps.config.THROTTLE_ADMIN);
  await app.register(async (scope: App) => {
    guardAdminScope(scope, deps, limit);
    for (const register of adminRouteModules) await register(scope, deps);
  });
}
