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
    ];
    const before = logged.length;
    for (const target of targets) {
      const res = await rawGet(base, target, { host: "localhost" });
      assert.equal(res.status, 404, target);
      assert.deepEqual(JSON.parse(res.body), { detail: "Not found." }, target);
    }
    const loud = logged.slice(before).filter((line) => line.level >= 40);
    assert.deepEqual(loud, []);
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
