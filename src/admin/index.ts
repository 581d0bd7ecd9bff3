import type { Feature } from "../platform/feature.ts";
import { purgeIdempotencyKeysJob } from "./admin-jobs.ts";
import { adminModule } from "./admin-module.ts";
import { adminOpsCommands } from "./admin-ops-cli.ts";

export { type AdminRoutes, adminRouteModules } from "./admin-module.ts";
export {
  ADMIN_PREFIX,
  adminErrors,
  adminWriteErrors,
  idempotencyConflict,
  notStaff,
} from "./staff-guard.ts";

/**
 * The staff admin API (`/api/admin/…`, docs/operations.md, 'Support tasks'): users,
 * subscriptions and the overview, each route staff-only, throttled, audited as the staff user and
 * idempotent under retries (staff-guard.ts).
 */
export const admin: Feature = {
  name: "admin",
  routes: adminModule,
  jobs: [purgeIdempotencyKeysJob],
  commands: adminOpsCommands,
};
