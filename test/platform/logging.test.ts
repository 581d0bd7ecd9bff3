import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type AppModule, modules } from "../../src/app.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";

const SECRETS = ["hunter22-secret", "eyJ.bearer-secret", "refresh-secret"];

// A route whose failure carries a secret, as a careless error from a library might.
const failing: AppModule = (app) => {
  app.get("/test/fail/", { schema: { tags: ["operations"], operationId: "fail" } }, async () => {
    throw Object.assign(new Error("failed"), { password: SECRETS[0], refresh: SECRETS[2] });
  });
};

const written: string[] = [];
let t: TestApp;

before(async () => {
  t = await startTestApp({
    env: { LOG_LEVEL: "info" },
    modules: [...modules, failing],
    worker: false,
    logDestination: { write: (line: string) => written.push(line) },
  });
});
after(() => t.close());

const lines = () => written.flatMap((chunk) => chunk.trim().split("\n")).map((l) => JSON.parse(l));

test("a completed request writes one access line with its id, method, URL and status", async () => {
  const res = await t.app.inject({
    method: "GET",
    url: "/api/auth/profile/",
    headers: { authorization: `Bearer ${SECRETS[1]}`, "x-request-id": "log-test-1" },
  });
  assert.equal(res.statusCode, 401);
  const access = lines().filter((l) => l.request_id === "log-test-1");
  assert.equal(access.length, 1);
  const [line] = access;
  assert.equal(line.msg, "request completed");
  assert.equal(line.level, 30);
  assert.deepEqual(
    { method: line.req.method, url: line.req.url, status: line.res.statusCode },
    { method: "GET", url: "/api/auth/profile/", status: 401 },
  );
  assert.equal(typeof line.req.remoteAddress, "string");
  assert.equal(typeof line.responseTime, "number");
});

test("no secret of a request or of an error reaches the log", async () => {
  await t.app.inject({
    method: "POST",
    url: "/api/auth/login/",
    headers: { authorization: `Bearer ${SECRETS[1]}` },
    payload: { email: "nobody@example.com", password: SECRETS[0] },
  });
  const res = await t.app.inject({
    method: "GET",
    url: "/test/fail/",
    headers: { "x-request-id": "log-test-2" },
  });
  assert.equal(res.statusCode, 500);
  t.services.logger.warn({ body: { password: SECRETS[0], refresh: SECRETS[2] } }, "careless");

  const text = written.join("");
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} was logged`);
  const careless = lines().find((l) => l.msg === "careless");
  assert.deepEqual(careless?.body, { password: "[redacted]", refresh: "[redacted]" });
  // The failure itself is logged, with its request id.
  assert.ok(lines().some((l) => l.request_id === "log-test-2" && l.level >= 50));
});
