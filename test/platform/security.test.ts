import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hostAllowed } from "../../src/platform/http/security.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { PRODUCTION } from "../helpers/production.ts";

let dev: TestApp;
let prod: TestApp;
before(async () => {
  dev = await startTestApp({ modules: [], worker: false });
  prod = await startTestApp({ modules: [], worker: false, env: PRODUCTION });
});
after(async () => {
  await dev.close();
  await prod.close();
});

const https = { "x-forwarded-proto": "https" };

describe("security headers", () => {
  test("responses carry helmet's headers; HSTS only in production", async () => {
    const res = await dev.app.inject({ method: "GET", url: "/healthz" });
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.equal(res.headers["x-frame-options"], "SAMEORIGIN");
    assert.equal(res.headers["strict-transport-security"], undefined);
    assert.equal(res.headers["x-powered-by"], undefined);
    assert.equal(res.headers["referrer-policy"], "no-referrer");
    assert.equal(res.headers["cross-origin-opener-policy"], "same-origin");
    assert.equal(res.headers["content-security-policy"], undefined);
    // Error answers too: the headers are set as the request arrives.
    const missing = await dev.app.inject({ method: "GET", url: "/api/nowhere/" });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.headers["x-content-type-options"], "nosniff");
    assert.equal(missing.headers["x-frame-options"], "SAMEORIGIN");
    const live = await prod.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { host: "api.example.com", ...https },
    });
    assert.match(String(live.headers["strict-transport-security"]), /max-age=31536000/);
  });
});

describe("allowed hosts", () => {
  test("production answers 400 to a Host it does not serve, in the error model's shape", async () => {
    const res = await prod.app.inject({
      method: "GET",
      url: "/api/schema/",
      headers: { host: "evil.example.net", ...https },
    });
    assert.equal(res.statusCode, 400);
    assert.deepEqual(res.json(), { detail: "Invalid HTTP_HOST header." });
  });

  test("an allowed host, a suffix match and the health probes pass", async () => {
    for (const host of ["api.example.com", "example.org", "eu.example.org:443"]) {
      const res = await prod.app.inject({
        method: "GET",
        url: "/api/schema/",
        headers: { host, ...https },
      });
      assert.equal(res.statusCode, 200, host);
    }
    const probe = await prod.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { host: "10.0.0.5:8000" },
    });
    assert.equal(probe.statusCode, 200);
  });

  test("host patterns follow Django's rules", () => {
    assert.equal(hostAllowed("API.Example.com:8000", ["api.example.com"]), true);
    assert.equal(hostAllowed("notexample.org", [".example.org"]), false);
    assert.equal(hostAllowed("anything", ["*"]), true);
    assert.equal(hostAllowed("example.com", []), false);
    // Not a host name, though it ends with an allowed suffix (or "*" allows anything).
    assert.equal(hostAllowed("evil.com/x.example.org", [".example.org"]), false);
    assert.equal(hostAllowed("evil.com/x", ["*"]), false);
    assert.equal(hostAllowed("[::1]:8000", ["[::1]"]), true);
  });
});

describe("HTTPS redirect behind a proxy", () => {
  test("plain HTTP is redirected to HTTPS; forwarded HTTPS is served", async () => {
    const plain = await prod.app.inject({
      method: "GET",
      url: "/api/schema/?x=1",
      headers: { host: "api.example.com" },
    });
    assert.equal(plain.statusCode, 301);
    assert.equal(plain.headers.location, "https://api.example.com/api/schema/?x=1");
  });
});

describe("CORS", () => {
  test("production allows only the configured origins", async () => {
    const allowed = await prod.app.inject({
      method: "OPTIONS",
      url: "/api/schema/",
      headers: {
        host: "api.example.com",
        origin: "https://app.example.com",
        "access-control-request-method": "GET",
        ...https,
      },
    });
    assert.equal(allowed.headers["access-control-allow-origin"], "https://app.example.com");
    const other = await prod.app.inject({
      method: "GET",
      url: "/api/schema/",
      headers: { host: "api.example.com", origin: "https://evil.example.net", ...https },
    });
    assert.equal(other.headers["access-control-allow-origin"], undefined);
  });

  test("development with no origins configured allows any origin", async () => {
    const res = await dev.app.inject({
      method: "GET",
      url: "/healthz",
      headers: { origin: "http://localhost:5173" },
    });
    assert.equal(res.headers["access-control-allow-origin"], "http://localhost:5173");
  });
});

describe("/metrics", () => {
  test("counts requests by route template and status", async () => {
    await dev.app.inject({ method: "GET", url: "/readyz" });
    await dev.app.inject({ method: "GET", url: "/nope" });
    const res = await dev.app.inject({ method: "GET", url: "/metrics" });
    assert.equal(res.statusCode, 200);
    assert.match(res.headers["content-type"] ?? "", /text\/plain/);
    assert.match(
      res.body,
      /http_request_duration_seconds_count\{method="GET",route="\/readyz",status="200"\} 1/,
    );
    assert.match(res.body, /route="unmatched",status="404"/);
    assert.match(res.body, /process_resident_memory_bytes/);
  });

  test("production requires the metrics token", async () => {
    const headers = { host: "api.example.com", ...https };
    const anonymous = await prod.app.inject({ method: "GET", url: "/metrics", headers });
    assert.equal(anonymous.statusCode, 403);
    const wrong = await prod.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { ...headers, authorization: "Bearer nope" },
    });
    assert.equal(wrong.statusCode, 403);
    const right = await prod.app.inject({
      method: "GET",
      url: "/metrics",
      headers: { ...headers, authorization: `Bearer ${PRODUCTION.METRICS_TOKEN}` },
    });
    assert.equal(right.statusCode, 200);
  });
});
