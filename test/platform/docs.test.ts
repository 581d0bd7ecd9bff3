import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { rawGet } from "../helpers/raw-http.ts";

// The docs pages' files and the OpenAPI document, through the real app with every route.

const logged: { level: number; msg: string }[] = [];
let t: TestApp;
let base: string;
before(async () => {
  t = await startTestApp({
    worker: false,
    env: { LOG_LEVEL: "trace" },
    logDestination: { write: (line: string) => logged.push(JSON.parse(line)) },
  });
  base = await t.app.listen({ port: 0, host: "127.0.0.1" });
});
after(() => t.close());

describe("Swagger UI's files", () => {
  test("a path that climbs out of the docs is a plain 404, logged below warn", async () => {
    const targets = [
      "/api/docs/static/../../etc/passwd",
      "/api/docs/static/%2e%2e/%2e%2e/etc/passwd",
      "/api/docs/static/..%2f..%2fpackage.json",
      "/api/docs/static/%2e%2e%2f%2e%2e%2fpackage.json",
      "/api/docs/static/swagger-ui.css%00",
      "/api/docs/static/%00",
      "/api/docs/static/./swagger-ui.css",
      // Paths the router cannot decode, and a name past its parameter length limit.
      "/api/docs/static/%zz",
      "/api/docs/static/%E0%A4%A",
      `/api/docs/static/${"a".repeat(300)}.js`,
    ];
    const before = logged.length;
    for (const target of targets) {
      const res = await rawGet(base, target, { host: "localhost" });
      assert.equal(res.status, 404, target);
      assert.deepEqual(JSON.parse(res.body), { detail: "Not found." }, target);
    }
    const lines = logged.slice(before);
    assert.deepEqual(
      lines.filter((line) => line.level >= 40),
      [],
    );
    const unmatched = lines.filter((line) => line.msg === "request path matches no route");
    assert.deepEqual(
      unmatched.map((line) => line.level),
      [20, 20, 20],
    );
  });

  test("the page, its assets and its initializer are served with their types", async () => {
    for (const [file, type] of [
      ["swagger-ui.css", /text\/css/],
      ["swagger-ui-bundle.js", /javascript/],
      ["swagger-initializer.js", /javascript/],
      ["favicon-32x32.png", /image\/png/],
    ] as const) {
      const res = await fetch(`${base}/api/docs/static/${file}`);
      assert.equal(res.status, 200, file);
      assert.match(res.headers.get("content-type") ?? "", type, file);
      await res.arrayBuffer();
    }
  });
});

interface Operation {
  operationId: string;
  requestBody?: { required: boolean; content: Record<string, { example?: unknown }> };
  responses: Record<string, { description: string }>;
}

async function operations(): Promise<Map<string, Operation>> {
  const doc = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json();
  const all = new Map<string, Operation>();
  for (const item of Object.values<Record<string, Operation>>(doc.paths)) {
    for (const operation of Object.values(item)) all.set(operation.operationId, operation);
  }
  return all;
}

describe("the OpenAPI document", () => {
  test("every response has a description of its own", async () => {
    const generic: string[] = [];
    for (const [id, operation] of await operations()) {
      for (const [status, response] of Object.entries(operation.responses)) {
        if (!response.description || response.description === "Default Response") {
          generic.push(`${id} ${status}`);
        }
      }
    }
    assert.deepEqual(generic, []);
  });

  test("cancel's body is optional, as the route accepts a bare POST; others stay required", async () => {
    const all = await operations();
    assert.equal(all.get("subscriptions_cancel")?.requestBody?.required, false);
    assert.equal(all.get("subscriptions_create")?.requestBody?.required, true);
    assert.equal(all.get("auth_register")?.requestBody?.required, true);
    const doc = (await t.app.inject({ method: "GET", url: "/api/schema/" })).body;
    assert.doesNotMatch(doc, /x-optional-body/);
  });

  test("the examples are ones the API accepts: a test card, a plan id, amounts as it writes them", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json();
    const create =
      doc.paths["/api/subscriptions/create/"].post.requestBody.content["application/json"].schema
        .properties;
    assert.deepEqual(create.payment_method_id.examples, ["pm_card_visa"]);
    assert.match(create.plan_id.examples[0], /^[0-9a-f-]{36}$/);
    const plan =
      doc.paths["/api/subscriptions/plans/"].get.responses["200"].content["application/json"].schema
        .properties.results.items.properties;
    assert.match(plan.amount.examples[0], /^\d+\.\d{2}$/);
    // The documented register and login bodies work as they are.
    const all = await operations();
    for (const [id, url, status] of [
      ["auth_register", "/api/auth/register/", 201],
      ["auth_login", "/api/auth/login/", 200],
    ] as const) {
      const example = all.get(id)?.requestBody?.content["application/json"]?.example;
      assert.ok(example, id);
      const res = await t.app.inject({ method: "POST", url, payload: example as object });
      assert.equal(res.statusCode, status, res.body);
    }
  });
});
