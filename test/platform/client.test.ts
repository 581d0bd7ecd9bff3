import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { openapiDocument, SCHEMA_FILE, schemaSource } from "../../clients/typescript/generate.ts";
import {
  ApiError,
  type BillingClient,
  createBillingClient,
  memorySession,
  unwrap,
} from "../../clients/typescript/src/index.js";
import { startTestApp, type TestApp } from "../helpers/app.ts";

// The typed client (docs/client.md): its committed types match the current schema, the app serves
// it to browsers, and from Node it signs in, sends the token and refreshes it once.

let t: TestApp;
let url: string;
before(async () => {
  t = await startTestApp({
    worker: false,
    env: { PASSWORD_HASH_MEMORY_KIB: "1024", PASSWORD_HASH_ITERATIONS: "1" },
  });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  url = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
after(() => t.close());

describe("the committed client", () => {
  test("schema.d.ts is the rendering of the current schema (npm run client:generate)", async () => {
    const committed = await readFile(SCHEMA_FILE, "utf8");
    const current = await schemaSource(await openapiDocument());
    assert.ok(
      committed === current,
      "clients/typescript/src/schema.d.ts is stale: run `npm run client:generate` and commit it",
    );
  });

  test("the document it is generated from is the one a running app serves", async () => {
    const served = (await t.app.inject({ url: "/api/schema/" })).json();
    assert.deepEqual(await openapiDocument(), served);
  });
});

describe("GET /client/<file>", () => {
  test("serves the client's modules, openapi-fetch's own file in place of the shim", async () => {
    const index = await t.app.inject({ url: "/client/index.js" });
    assert.equal(index.statusCode, 200);
    assert.equal(index.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(index.headers["cache-control"], "no-cache");
    assert.equal(index.headers["x-content-type-options"], "nosniff");
    const source = new URL("../../clients/typescript/src/index.js", import.meta.url);
    assert.equal(index.body, await readFile(source, "utf8"));
    assert.match(index.body, /from "\.\/openapi-fetch\.js"/);

    const fetchFile = await t.app.inject({ url: "/client/openapi-fetch.js" });
    assert.equal(fetchFile.statusCode, 200);
    const packageFile = fileURLToPath(import.meta.resolve("openapi-fetch"));
    assert.equal(fetchFile.body, await readFile(packageFile, "utf8"));
    assert.match(fetchFile.body, /createClient as default/);
  });

  test("answers 304 to a request with the current ETag", async () => {
    const first = await t.app.inject({ url: "/client/index.js" });
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[\w-]+"$/);
    const again = await t.app.inject({
      url: "/client/index.js",
      headers: { "if-none-match": etag },
    });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, "");
    const changed = await t.app.inject({
      url: "/client/index.js",
      headers: { "if-none-match": '"other"' },
    });
    assert.equal(changed.statusCode, 200);
  });

  test("serves nothing else: other files, paths out of the folder, encoded tricks", async () => {
    for (const path of [
      "/client/index.d.ts",
      "/client/schema.d.ts",
      "/client/generate.ts",
      "/client/..%2Fgenerate.ts",
      "/client/..%2F..%2F..%2Fpackage.json",
      "/client/%2e%2e%2fpackage.json",
      "/client/index.js%00",
      "/client/../package.json",
      "/client/",
    ]) {
      const res = await t.app.inject({ url: path });
      assert.equal(res.statusCode, 404, path);
      assert.doesNotMatch(res.body, /saas-billing|createClient/, path);
    }
  });
});

describe("the client from Node", () => {
  const refreshes: string[] = [];
  /** fetch, counting the refreshes the client sends. */
  const counting = async (request: Request) => {
    if (new URL(request.url).pathname === "/api/auth/token/refresh/") {
      refreshes.push(((await request.clone().json()) as { refresh: string }).refresh);
    }
    return fetch(request);
  };

  async function signedIn(): Promise<BillingClient> {
    const id = randomBytes(5).toString("hex");
    const client = createBillingClient({ baseUrl: url, fetch: counting });
    const registered = unwrap(
      await client.POST("/api/auth/register/", {
        body: {
          email: `client-${id}@example.com`,
          username: `client_${id}`,
          password: "correct-Horse-battery-9",
          password_confirm: "correct-Horse-battery-9",
        },
      }),
    );
    client.session.set(registered.tokens);
    return client;
  }

  test("sends the session's token; unwrap answers the data", async () => {
    const client = await signedIn();
    const profile = unwrap(await client.GET("/api/auth/profile/"));
    assert.match(profile.email, /^client-\w+@example\.com$/);
    assert.equal(profile.subscription_status, "inactive");
  });

  test("unwrap throws an ApiError with the status and the contract's error body", async () => {
    const anonymous = createBillingClient({ baseUrl: url });
    const refused = await anonymous
      .GET("/api/auth/profile/")
      .then(unwrap)
      .catch((e: unknown) => e);
    assert.ok(refused instanceof ApiError);
    assert.equal(refused.status, 401);
    assert.deepEqual(refused.body, { detail: "Authentication credentials were not provided." });
    assert.equal(refused.message, "Authentication credentials were not provided.");

    // The types are the schema's (not `any`): `npm run typecheck` fails if these compile.
    // @ts-expect-error: not a path of the API
    const missing = await anonymous.GET("/api/no-such-path/");
    assert.equal(missing.response.status, 404);
    // @ts-expect-error: signing in takes a password
    const incomplete = await anonymous.POST("/api/auth/login/", { body: { email: "a@b.co" } });
    assert.equal(incomplete.response.status, 400);
    assert.deepEqual(incomplete.error, { password: ["This field is required."] });

    const invalid = await anonymous
      .POST("/api/auth/register/", {
        body: { email: "no", username: "x", password: "p", password_confirm: "q" },
      })
      .then(unwrap)
      .catch((e: unknown) => e);
    assert.ok(invalid instanceof ApiError);
    assert.equal(invalid.status, 400);
    assert.ok(invalid.body && "email" in invalid.body, JSON.stringify(invalid.body));
  });

  test("a token that is not valid is refreshed once, and the request (body and all) sent again", async () => {
    const client = await signedIn();
    const pair = client.session.get();
    assert.ok(pair);
    client.session.set({ ...pair, access: "not-a-token" });
    refreshes.length = 0;
    const patched = unwrap(
      await client.PATCH("/api/auth/profile/", { body: { first_name: "Grace" } }),
    );
    assert.equal(patched.first_name, "Grace");
    assert.deepEqual(refreshes, [pair.refresh]);
    const renewed = client.session.get();
    assert.ok(renewed && renewed.refresh !== pair.refresh && renewed.access !== "not-a-token");
  });

  test("concurrent 401s share one refresh: the single-use refresh token is sent once", async () => {
    const client = await signedIn();
    const pair = client.session.get();
    assert.ok(pair);
    client.session.set({ ...pair, access: "not-a-token" });
    refreshes.length = 0;
    const answers = await Promise.all([
      client.GET("/api/auth/profile/"),
      client.GET("/api/subscriptions/status/"),
      client.GET("/api/subscriptions/invoices/"),
      client.GET("/api/subscriptions/payments/"),
    ]);
    assert.deepEqual(
      answers.map((a) => a.response.status),
      [200, 200, 200, 200],
    );
    assert.deepEqual(refreshes, [pair.refresh]);
    // Reusing a refresh token revokes every session: the new pair still works.
    unwrap(await client.GET("/api/auth/profile/"));
  });

  test("a refresh that is refused signs out and leaves the 401", async () => {
    const session = memorySession({ access: "not-a-token", refresh: "not-a-refresh-token" });
    const client = createBillingClient({ baseUrl: url, session });
    const answer = await client.GET("/api/auth/profile/");
    assert.equal(answer.response.status, 401);
    assert.equal(session.get(), null);
    assert.throws(() => unwrap(answer), ApiError);
  });

  test("a refresh that fails for another reason (503) keeps the session for later", async () => {
    const client = await signedIn();
    const pair = client.session.get();
    assert.ok(pair);
    const stale = { ...pair, access: "not-a-token" };
    const session = memorySession(stale);
    const unavailable = createBillingClient({
      baseUrl: url,
      session,
      fetch: async (request) =>
        new URL(request.url).pathname === "/api/auth/token/refresh/"
          ? Response.json(
              { detail: "Service temporarily unavailable, try again later." },
              {
                status: 503,
              },
            )
          : fetch(request),
    });
    const answer = await unavailable.GET("/api/auth/profile/");
    assert.equal(answer.response.status, 401);
    assert.deepEqual(session.get(), stale);
  });
});
