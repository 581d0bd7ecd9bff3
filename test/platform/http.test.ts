import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Type } from "typebox";
import type { AppModule } from "../../src/platform/feature.ts";
import {
  businessFailure,
  errorResponses,
  failures,
} from "../../src/platform/http/error-schemas.ts";
import { businessError } from "../../src/platform/http/errors.ts";
import {
  PageQuery,
  Paginated,
  pageRequest,
  paginated,
} from "../../src/platform/http/pagination.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const DRIVER_ERRORS: Record<string, { message: string; code?: string }> = {
  refused: { message: "connect ECONNREFUSED 127.0.0.1:5432", code: "ECONNREFUSED" },
  shutdown: { message: "terminating connection due to administrator command", code: "57P01" },
  link: { message: "connection failure", code: "08006" },
  "pool-timeout": { message: "timeout exceeded when trying to connect" },
  cut: { message: "Connection terminated unexpectedly" },
  duplicate: { message: "duplicate key value violates unique constraint", code: "23505" },
};

// A module exercising the platform: validation, errors, pagination.
const probe: AppModule = (app) => {
  app.post(
    "/test/echo/",
    {
      schema: {
        operationId: "echo",
        tags: ["operations"],
        body: Type.Object({
          email: Type.String({ format: "email" }),
          name: Type.String({ minLength: 1, maxLength: 10 }),
          count: Type.Optional(Type.Integer()),
          id: Type.Optional(Type.String({ format: "uuid" })),
        }),
        response: {
          200: Type.Unknown({ description: "The body, as validated." }),
          ...errorResponses(failures.any, failures.jsonBody, failures.fields),
        },
      },
    },
    async (request) => request.body,
  );
  app.get("/test/boom/", { schema: { hide: true } }, async () => {
    throw new Error("secret internals at /srv/app.ts:12");
  });
  // What a database outage looks like from a route: the driver's error, as Drizzle wraps it.
  // Documented, so the response check holds the outage's 503 to the document too.
  const outage = {
    operationId: "database_failure",
    tags: ["operations"],
    response: errorResponses(failures.any, failures.database),
  };
  app.get("/test/database/:failure/", { schema: outage }, async (request) => {
    const { failure } = request.params as { failure: string };
    const driver = Object.assign(new Error(DRIVER_ERRORS[failure]?.message), {
      code: DRIVER_ERRORS[failure]?.code,
    });
    throw new Error("Failed query: select 1", { cause: driver });
  });
  const business = {
    operationId: "business",
    tags: ["operations"],
    response: errorResponses(failures.any, [businessFailure(404, "No such plan.")]),
  };
  app.get("/test/business/", { schema: business }, async () => {
    throw businessError("not_found", "Plan not found.");
  });
  const items = Array.from({ length: 45 }, (_, i) => i + 1);
  app.get(
    "/test/items/",
    {
      schema: {
        operationId: "items",
        querystring: PageQuery,
        response: {
          200: Paginated(Type.Integer()),
          ...errorResponses(failures.any, failures.fields, failures.page),
        },
      },
    },
    async (request) => {
      const at = pageRequest(request.query);
      return paginated(request, at, items.length, items.slice(at.offset, at.offset + at.limit));
    },
  );
};

let t: TestApp;
before(async () => {
  t = await startTestApp({ modules: [probe], worker: false, env: { BODY_LIMIT: "2048" } });
});
after(() => t.close());

describe("HTTP errors keep the original's shapes", () => {
  test("an unknown route is a JSON 404", async () => {
    const res = await t.app.inject({ method: "GET", url: "/nope/" });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { detail: "Not found." });
  });

  test("a known path with the wrong method is a JSON 405", async () => {
    const res = await t.app.inject({ method: "GET", url: "/test/echo/" });
    assert.equal(res.statusCode, 405);
    assert.deepEqual(res.json(), { detail: 'Method "GET" not allowed.' });
    const del = await t.app.inject({ method: "DELETE", url: "/test/echo" });
    assert.equal(del.statusCode, 405);
  });

  test("a malformed JSON body is a JSON 400", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/test/echo/",
      headers: { "content-type": "application/json" },
      payload: '{"email": ',
    });
    assert.equal(res.statusCode, 400);
    assert.match(res.json().detail, /^JSON parse error/);
  });

  test("schema failures are listed per field with DRF's messages", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/test/echo/",
      payload: { email: "not-an-email", name: "", count: "3", id: "nope", extra: true },
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      email: ["Enter a valid email address."],
      name: ["This field may not be blank."],
      count: ["A valid integer is required."],
      id: ["Must be a valid UUID."],
    });
    const missing = await t.app.inject({ method: "POST", url: "/test/echo/", payload: {} });
    assert.deepEqual(missing.json(), {
      email: ["This field is required."],
      name: ["This field is required."],
    });
  });

  test("a body that is not an object is a non_field_errors entry", async () => {
    const res = await t.app.inject({ method: "POST", url: "/test/echo/", payload: [1, 2] });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), {
      non_field_errors: ["Invalid data. Expected a dictionary, but got list."],
    });
  });

  test("unknown fields are ignored and valid input passes", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/test/echo",
      payload: { email: "a@example.com", name: "Ada", other: 1 },
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.json().email, "a@example.com");
  });

  test("a body over the limit is a JSON 413", async () => {
    const res = await t.app.inject({
      method: "POST",
      url: "/test/echo/",
      payload: { email: "a@example.com", name: "x".repeat(5000) },
    });
    assert.equal(res.statusCode, 413);
    assert.deepEqual(res.json(), { detail: "Request body is too large." });
  });

  test("the database being unreachable is a 503 with Retry-After; a failing statement stays a 500", async () => {
    for (const failure of ["refused", "shutdown", "link", "pool-timeout", "cut"]) {
      const res = await t.app.inject({ method: "GET", url: `/test/database/${failure}/` });
      assert.equal(res.statusCode, 503, failure);
      assert.deepEqual(res.json(), { detail: "Service temporarily unavailable, try again later." });
      assert.equal(res.headers["retry-after"], "5");
    }
    const res = await t.app.inject({ method: "GET", url: "/test/database/duplicate/" });
    assert.equal(res.statusCode, 500);
  });

  test("an unexpected error is a 500 with the request id and no internals", async () => {
    const res = await t.app.inject({ method: "GET", url: "/test/boom/" });
    assert.equal(res.statusCode, 500);
    const requestId = res.headers["x-request-id"];
    assert.ok(typeof requestId === "string" && requestId.length > 0);
    assert.deepEqual(res.json(), { detail: "Internal server error.", request_id: requestId });
    assert.doesNotMatch(res.body, /secret internals|\.ts:|stack/);
  });

  test("a service's business error becomes {error}", async () => {
    const res = await t.app.inject({ method: "GET", url: "/test/business/" });
    assert.equal(res.statusCode, 404);
    assert.deepEqual(res.json(), { error: "Plan not found." });
  });
});

describe("requests", () => {
  test("every response carries a request id, and a sane incoming one is kept", async () => {
    const own = await t.app.inject({ method: "GET", url: "/healthz" });
    assert.match(String(own.headers["x-request-id"]), /^[0-9a-f-]{36}$/);
    const given = await t.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { "x-request-id": "lb-1234" },
    });
    assert.equal(given.headers["x-request-id"], "lb-1234");
    const hostile = await t.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { "x-request-id": "a b\u0000c" },
    });
    assert.notEqual(hostile.headers["x-request-id"], "a b\u0000c");
  });

  test("paths match with and without the trailing slash", async () => {
    for (const url of ["/test/items/", "/test/items", "/healthz", "/healthz/"]) {
      const res = await t.app.inject({ method: "GET", url });
      assert.equal(res.statusCode, 200, url);
    }
  });
});

describe("pagination", () => {
  test("pages carry count and absolute next/previous links", async () => {
    const first = await t.app.inject({
      method: "GET",
      url: "/test/items/?q=x",
      headers: { host: "api.example.com" },
    });
    const body = first.json();
    assert.equal(body.count, 45);
    assert.equal(body.results.length, 20);
    assert.equal(body.previous, null);
    assert.equal(body.next, "http://api.example.com/test/items/?q=x&page=2");

    const second = (await t.app.inject({ method: "GET", url: body.next })).json();
    assert.deepEqual(second.results.slice(0, 2), [21, 22]);
    assert.equal(second.previous, "http://api.example.com/test/items/?q=x");

    const last = (await t.app.inject({ method: "GET", url: "/test/items/?page=3" })).json();
    assert.equal(last.results.length, 5);
    assert.equal(last.next, null);
  });

  test("a page past the end is a 404 and a bad page number a 400", async () => {
    const past = await t.app.inject({ method: "GET", url: "/test/items/?page=4" });
    assert.equal(past.statusCode, 404);
    assert.deepEqual(past.json(), { detail: "Invalid page." });
    const bad = await t.app.inject({ method: "GET", url: "/test/items/?page=zero" });
    assert.equal(bad.statusCode, 400);
    assert.deepEqual(bad.json(), { page: ["A valid integer is required."] });
  });
});

describe("health and docs", () => {
  test("/healthz and /readyz answer 200 on a migrated database", async () => {
    assert.deepEqual((await t.app.inject({ method: "GET", url: "/healthz" })).json(), {
      status: "ok",
    });
    const ready = await t.app.inject({ method: "GET", url: "/readyz" });
    assert.equal(ready.statusCode, 200);
  });

  test("the OpenAPI document describes the API", async () => {
    const res = await t.app.inject({ method: "GET", url: "/api/schema/" });
    assert.equal(res.statusCode, 200);
    const doc = res.json();
    assert.equal(doc.openapi, "3.1.0");
    assert.ok(doc.info.title && doc.info.version);
    assert.deepEqual(doc.components.securitySchemes.bearerAuth, {
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    assert.ok(doc.paths["/test/echo/"].post);
    assert.equal(doc.paths["/test/boom/"], undefined, "hidden routes stay out");
    for (const [path, item] of Object.entries<Record<string, { operationId?: string }>>(
      doc.paths,
    )) {
      for (const [method, op] of Object.entries(item)) {
        assert.ok(op.operationId, `${method} ${path} has an operationId`);
      }
    }
  });

  test("the docs pages and their assets are served locally", async () => {
    const ui = await t.app.inject({ method: "GET", url: "/api/docs/" });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.headers["content-type"] ?? "", /html/);
    const redoc = await t.app.inject({ method: "GET", url: "/api/redoc/" });
    assert.match(redoc.body, /src="\/api\/redoc\/redoc.standalone.js"/);
    const bundle = await t.app.inject({ method: "GET", url: "/api/redoc/redoc.standalone.js" });
    assert.equal(bundle.statusCode, 200);
    assert.ok(bundle.body.length > 100_000);
  });
});

describe("readiness", () => {
  test("/readyz is 503 when the database does not answer", async () => {
    const other = await startTestApp({ modules: [], worker: false });
    await other.services.jobs.stop(1000);
    await other.testDatabase.database.close().catch(() => {});
    try {
      const res = await other.app.inject({ method: "GET", url: "/readyz" });
      assert.equal(res.statusCode, 503);
      assert.equal(res.json().status, "unavailable");
    } finally {
      await other.app.close();
      await other.services.close();
      await other.testDatabase.drop().catch(() => {});
    }
  });
});
