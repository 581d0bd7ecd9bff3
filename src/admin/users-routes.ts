import type { AppDeps } from "../platform/feature.ts";
import type { App } from "../platform/http/types.ts";

/** `/api/admin/users/…`: find a customer, read everything about them, act on the account. */
export function usersRoutes(_app: App, _deps: AppDeps): void {}
