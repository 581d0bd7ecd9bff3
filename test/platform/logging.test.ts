import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { after, before, test } from "node:test";
import { sql } from "drizzle-orm";
import { Type } from "typebox";
import { modules } from "../../src/app.ts";
import type { AppModule } from "../../src/platform/feature.ts";
import { errorResponses, failures } from "../../src/platform/http/error-schemas.ts";
import { format } from "../../src/platform/log-pretty.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitFor } from "../helpers/wait.ts";

const SECRETS = [
  "hunter22-secret",
  "eyJ.bearer-secret",
  "refresh-secret",
  "service-token-secret-0123456789abcdef",
];
/** What a failed insert into users would carry among its parameters. */
const HASH = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo";

// A route whose failure carries a secret, as a careless error from a library might.
const failing: AppModule = (app) => {
  app.get(
    "/test/fail/",
    {
      schema: { tags: ["operations"], operationId: "fail", response: errorResponses(failures.any) },
    },
    async () => {
      throw Object.assign(new Error("failed"), { password: SECRETS[0], refresh: SECRETS[2] });
    },
  );
  // A handler logging through request.log (made on first use: LazyRequestLogger), carelessly too.
  app.get(
    "/test/log/",
    {
      schema: {
        tags: ["operations"],
        operationId: "log",
        response: {
          200: Type.Object({ logged: Type.Boolean() }, { description: "Logged." }),
          ...errorResponses(failures.any),
        },
      },
    },
    async (request) => {
      request.log.warn({ body: { password: SECRETS[0] } }, "from a handler");
      request.log.child({ step: "inner" }).info("from a child");
      return { logged: true };
    },
  );
  // A statement that fails with a hash among its parameters: Drizzle's DrizzleQueryError.
  app.get(
    "/test/query/",
    {
      schema: {
        tags: ["operations"],
        operationId: "query",
        response: errorResponses(failures.any),
      },
    },
    async () => {
      await t.services.database.db.execute(sql`select ${HASH}::text as hash, 1 / 0 as boom`);
    },
  );
};

const written: string[] = [];
let t: TestApp;

before(async () => {
  t = await startTestApp({
    env: { LOG_LEVEL: "info", SERVICE_TOKENS: SECRETS[3] ?? "" },
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
  // A service token, right (an unknown user: 404) and wrong (401).
  for (const token of [SECRETS[3], `${SECRETS[3]}x`]) {
    const internal = await t.app.inject({
      method: "GET",
      url: "/api/internal/access/00000000-0000-4000-8000-000000000000/",
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(internal.statusCode, token === SECRETS[3] ? 404 : 401);
  }
  const res = await t.app.inject({
    method: "GET",
    url: "/test/fail/",
    headers: { "x-request-id": "log-test-2" },
  });
  assert.equal(res.statusCode, 500);
  t.services.logger.warn({ body: { password: SECRETS[0], refresh: SECRETS[2] } }, "careless");
  const logged = await t.app.inject({
    method: "GET",
    url: "/test/log/",
    headers: { "x-request-id": "log-test-4" },
  });
  assert.equal(logged.statusCode, 200);

  const text = written.join("");
  for (const secret of SECRETS) assert.ok(!text.includes(secret), `${secret} was logged`);
  const careless = lines().find((l) => l.msg === "careless");
  assert.deepEqual(careless?.body, { password: "[redacted]", refresh: "[redacted]" });
  // The failure itself is logged, with its request id.
  assert.ok(lines().some((l) => l.request_id === "log-test-2" && l.level >= 50));
  // A handler's lines carry its request id and are redacted, its child's too.
  const handler = lines().find((l) => l.msg === "from a handler");
  assert.equal(handler?.request_id, "log-test-4");
  assert.deepEqual(handler?.body, { password: "[redacted]" });
  const child = lines().find((l) => l.msg === "from a child");
  assert.deepEqual([child?.request_id, child?.step], ["log-test-4", "inner"]);
});

test("a failed query's SQL and parameters reach no log line, whoever logs the error", async () => {
  const res = await t.app.inject({
    method: "GET",
    url: "/test/query/",
    headers: { "x-request-id": "log-test-3" },
  });
  assert.equal(res.statusCode, 500);
  const err = await t.services.database.db
    .execute(sql`select ${HASH}::text as hash, 1 / 0 as boom`)
    .then(
      () => assert.fail("the query should fail"),
      (e: unknown) => e,
    );
  // The error itself carries them, as Drizzle makes it.
  assert.match(String((err as Error).message), /params: .*argon2id/);
  t.services.logger.error({ err }, "a job failed");
  t.services.logger.error(err as Error);

  assert.ok(!written.join("").includes("argon2id"), "a parameter was logged");
  const logged = lines().filter((l) => l.err?.type === "DrizzleQueryError");
  assert.ok(
    logged.some((l) => l.request_id === "log-test-3"),
    "the request's failure is logged",
  );
  assert.ok(logged.length >= 3, JSON.stringify(logged));
  for (const line of logged) {
    assert.equal(line.err.type, "DrizzleQueryError");
    assert.equal(line.err.params, undefined);
    assert.equal(line.err.query, undefined);
    assert.doesNotMatch(line.err.message, /params|select/);
    // What went wrong still shows: the driver's own message, from the cause.
    assert.match(line.err.message, /division by zero/);
  }
});

test("a development terminal gets one readable line per entry, an error's stack below it", () => {
  const plain = (_style: unknown, text: string) => text;
  const access = JSON.stringify({
    level: 30,
    time: Date.UTC(2026, 0, 1, 12, 0, 0),
    request_id: "r1",
    req: { method: "GET", url: "/api/subscriptions/plans/" },
    res: { statusCode: 200 },
    responseTime: 3.0625,
    msg: "request completed",
  });
  assert.match(
    format(access, plain),
    /^\d\d:\d\d:\d\d INFO {2}GET \/api\/subscriptions\/plans\/ 200 3\.1 ms request_id=r1$/,
  );
  const failure = JSON.stringify({
    level: 60,
    time: Date.now(),
    err: { type: "Error", message: "boom", stack: "Error: boom\n    at main (src/main.ts:1:1)" },
    msg: "API failed to start",
  });
  assert.deepEqual(
    format(failure, plain)
      .split("\n")
      .slice(0, 3)
      .map((l) => l.replace(/^\S+ /, "")),
    ["FATAL API failed to start", "    Error: boom", "        at main (src/main.ts:1:1)"],
  );
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

test("the cluster primary's lines (lineLog) have pino's shape, honour the level and carry an error's stack", async () => {
  const modules = {
    lineLog: new URL("../../src/platform/line-log.ts", import.meta.url).href,
    logging: new URL("../../src/platform/logging.ts", import.meta.url).href,
  };
  const child = spawn(
    process.execPath,
    [
      "--input-type=module",
      "-e",
      `import { lineLog } from ${JSON.stringify(modules.lineLog)};
       import { createLogger } from ${JSON.stringify(modules.logging)};
       const line = lineLog({ LOG_LEVEL: "info" });
       line.info({ processes: 2 }, "API cluster started");
       line.error({ err: new TypeError("boom") }, "API cluster failed to start");
       line.warn("second signal: exiting now");
       lineLog({ LOG_LEVEL: "warn" }).info("not written");
       createLogger({ LOG_LEVEL: "info" }).info({ processes: 2 }, "API cluster started");`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  assert.equal((await once(child, "exit"))[0], 0);
  const lines = stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 4, stdout);
  const [started, failed, warned, fromPino] = lines as [
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
    Record<string, unknown>,
  ];
  const withoutTime = ({ time, ...rest }: Record<string, unknown>) => {
    assert.equal(typeof time, "number");
    return rest;
  };
  assert.deepEqual(Object.keys(started), Object.keys(fromPino));
  assert.deepEqual(withoutTime(started), withoutTime(fromPino));
  assert.equal(failed.level, 50);
  assert.equal(failed.msg, "API cluster failed to start");
  const err = failed.err as { type: string; message: string; stack: string };
  assert.equal(err.type, "TypeError");
  assert.equal(err.message, "boom");
  assert.match(err.stack, /^TypeError: boom\n\s+at /);
  assert.deepEqual(withoutTime(warned), {
    level: 40,
    pid: started.pid,
    hostname: started.hostname,
    msg: "second signal: exiting now",
  });
});
