import type { AppDeps } from "../platform/feature.ts";
import type { App } from "../platform/http/types.ts";

/** `/api/admin/subscriptions/…`: filter subscriptions and act on one at Stripe. */
export function subscriptionsRoutes(_app: App, _deps: AppDeps): void {}
