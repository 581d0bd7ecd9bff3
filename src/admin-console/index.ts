import type { Feature } from "../platform/feature.ts";
import { adminConsoleRoutes } from "./admin-console-routes.ts";

/**
 * The admin console at `/admin/` (docs/admin-console.md): static ES modules over the admin API
 * (`/api/admin/`), called only through the typed client the app serves at `/client/`. Staff sign
 * in with their account; the API decides what they may do. ADMIN_CONSOLE turns it off.
 */
export const adminConsole: Feature = {
  name: "admin-console",
  routes: adminConsoleRoutes,
};
