import { eq } from "drizzle-orm";
import { users } from "../../src/accounts/accounts-tables.ts";
import type { App } from "../../src/app.ts";
import type { Executor } from "../../src/platform/db/client.ts";
import type { AppModule } from "../../src/platform/feature.ts";

/** Makes the user staff (as `users:grant-staff` does). */
export async function makeStaff(db: Executor, userId: string): Promise<void> {
  await db.update(users).set({ isStaff: true }).where(eq(users.id, userId));
}

export interface RecordedRoute {
  method: string;
  url: string;
}

/**
 * A module mounted first that records every route the app registers afterwards (its onRoute hook
 * is inherited by every scope, the admin scope included): the route table, as the router has it.
 */
export function routeRecorder(): { module: AppModule; routes: RecordedRoute[] } {
  const routes: RecordedRoute[] = [];
  return {
    routes,
    module(app) {
      app.addHook("onRoute", (route) => {
        // The 405 answers for the other methods of a path are not routes of their own.
        if (route.config && "methodNotAllowed" in route.config) return;
        for (const method of [route.method].flat()) routes.push({ method, url: route.url });
      });
    },
  };
}

export interface AdminCall {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, asserted field by field
  body: any;
  headers: Record<string, unknown>;
}

/** A staff user of `app` and a caller of the admin API as them (optionally with an Idempotency-Key). */
export async function staffCaller(
  app: App,
  db: Executor,
  signUp: () => Promise<{ token: string; userId: string }>,
) {
  const staff = await signUp();
  await makeStaff(db, staff.userId);
  const call = async (
    method: string,
    url: string,
    options: { body?: unknown; key?: string; token?: string } = {},
  ): Promise<AdminCall> => {
    const res = await app.inject({
      method: method as "GET",
      url,
      headers: {
        authorization: `Bearer ${options.token ?? staff.token}`,
        ...(options.key ? { "idempotency-key": options.key } : {}),
      },
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
    return { status: res.statusCode, body: res.body ? res.json() : null, headers: res.headers };
  };
  return { staff, call };
}
