import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { type AppModule, modules } from "../../src/app.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitFor } from "../helpers/wait.ts";

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

/** Starts `script` in a new Node process with `createLogger` in scope as `log`. */
function loggingProcess(script: string) {
  const logging = new URL("../../src/platform/logging.ts", import.meta.url).href;
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { createLogger } from ${JSON.stringify(logging)};
       const log = createLogger({ LOG_LEVEL: "info" });
       ${script}`,
    ],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  const exited = once(child, "exit").then(([code]) => code as number | null);
  const messages = () =>
    stdout
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l).msg);
  return { child, exited, messages };
}

const THREE_LINES = 'for (let i = 0; i < 3; i++) log.info("line " + i);';

test("buffered log lines reach stdout when the process exits, and when it crashes", async () => {
  const exit = loggingProcess(`${THREE_LINES} process.exit(0);`);
  assert.equal(await exit.exited, 0);
  assert.deepEqual(exit.messages(), ["line 0", "line 1", "line 2"]);

  const crash = loggingProcess(`${THREE_LINES} throw new Error("boom");`);
  assert.equal(await crash.exited, 1);
  assert.deepEqual(crash.messages(), ["line 0", "line 1", "line 2"]);
});

test("a buffered log line is written within a moment while the process runs on", async () => {
  // Far less than the 4 KiB that fills the buffer; the process then idles until it is killed
  // with SIGKILL, which writes nothing more: what arrives came from the periodic flush.
  const idle = loggingProcess(`${THREE_LINES} setInterval(() => {}, 1000);`);
  try {
    await waitFor(() => idle.messages().length === 3, {
      timeoutMs: 10_000,
      what: "the buffered lines",
    });
  } finally {
    idle.child.kill("SIGKILL");
  }
  assert.deepEqual(idle.messages(), ["line 0", "line 1", "line 2"]);
});
