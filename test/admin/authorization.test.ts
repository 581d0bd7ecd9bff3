import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { modules } from "../../src/app.ts";
import { bearer, registerUser, startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";
import { routeRecorder } from "./helpers.ts";

// Generated from the route table: every route under /api/admin/, whichever module registers it
// (this feature's or one added later), refuses an anonymous caller (401) and a signed-in user who
// is not staff (403), before it reads its parameters or body.

const recorder = routeRecorder();
let t: TestApp;
before(async () => {
  t = await startAccountsApp({ modules: [recorder.module, ...modules] });
});
after(() => t?.close());

/** The route's URL with every parameter filled in. */
const concrete = (url: string) => url.replace(/:\w+/g, () => randomUUID());

function adminRoutes() {
  return recorder.routes.filter(
    (r) => r.url.startsWith("/api/admin/") && r.method !== "HEAD" && r.method !== "OPTIONS",
  );
}

test("the route table has admin routes of users, subscriptions and the overview", () => {
  const urls = new Set(adminRoutes().map((r) => r.url));
  for (const url of [
    "/api/admin/users/",
    "/api/admin/users/:id/",
    "/api/admin/subscriptions/",
    "/api/admin/subscriptions/:id/cancel/",
    "/api/admin/overview/",
  ]) {
    assert.ok(urls.has(url), `${url} is registered`);
  }
});

test("every admin route refuses an anonymous caller with 401", async () => {
  for (const route of adminRoutes()) {
    const res = await t.app.inject({
      method: route.method as "GET",
      url: concrete(route.url),
      ...(route.method === "GET" ? {} : { payload: {} }),
    });
    assert.equal(res.statusCode, 401, `${route.method} ${route.url}`);
    assert.deepEqual(res.json(), { detail: "Authentication credentials were not provided." });
  }
});

test("every admin route refuses a signed-in user who is not staff with 403", async () => {
  const user = await registerUser(t.app);
  for (const route of adminRoutes()) {
    const res = await t.app.inject({
      method: route.method as "GET",
      url: concrete(route.url),
      headers: bearer(user.access),
      ...(route.method === "GET" ? {} : { payload: {} }),
    });
    assert.equal(res.statusCode, 403, `${route.method} ${route.url}`);
    assert.deepEqual(res.json(), { detail: "You do not have permission to perform this action." });
  }
});

test("every admin route is documented under the admin tag", async () => {
  const doc = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json();
  for (const route of adminRoutes()) {
    const path = route.url.replace(/:(\w+)/g, "{$1}");
    const operation = doc.paths?.[path]?.[route.method.toLowerCase()];
    assert.ok(operation, `${route.method} ${path} is in /api/schema/`);
    assert.deepEqual(operation.tags, ["admin"], `${route.method} ${path}`);
    if (route.method !== "GET") {
      const names = (operation.parameters ?? []).map((p: { name: string }) => p.name);
      assert.ok(names.includes("idempotency-key"), `${route.method} ${path} documents the key`);
    }
  }
  assert.ok(doc.tags.some((tag: { name: string }) => tag.name === "admin"));
});
