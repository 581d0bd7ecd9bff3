import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { get } from "node:http";
import { type AddressInfo, createServer } from "node:net";
import { getPriority, tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { THREAD_POOL_NICE } from "../../src/platform/process.ts";
import { startStripeEmulator } from "../../stripe-emulator/index.ts";
import {
  databaseUrlFor,
  dropPostgresDatabase,
  freshDataDir,
  TEST_DATABASE_URL,
} from "../helpers/database.ts";
import { freePort, ROOT, type Running, stackLines, startProcess } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";

// The entry point as a newcomer runs it: nothing configured, Ctrl-C to stop.

const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function workdir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "billing-start-"));
  dirs.push(dir);
  return dir;
}

function getWithoutKeepAlive(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    }).on("error", reject);
  });
}

/** Each thread name of a process, with the niceness of every thread of that name (Linux /proc). */
async function niceness(pid: number): Promise<Map<string, number[]>> {
  const threads = new Map<string, number[]>();
  for (const task of await readdir(`/proc/${pid}/task`)) {
    const stat = await readFile(`/proc/${pid}/task/${task}/stat`, "utf8");
    // pid (comm) state ppid …: the name may hold spaces; nice is the 19th field.
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const nice = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[16]);
    threads.set(name, [...(threads.get(name) ?? []), nice]);
  }
  return threads;
}

/** The exit code of a process expected to refuse to start; one that serves instead is killed. */
function exitedWithoutServing(running: Running): Promise<number | string> {
  const served = running.url.then(
    () => {
      running.child.kill("SIGKILL");
      return "served instead of refusing";
    },
    () => running.exited,
  );
  return Promise.race([running.exited, served]);
}

async function stop(running: Running): Promise<number | string> {
  running.child.kill("SIGINT");
  return running.exited;
}

async function serves(running: Running): Promise<string> {
  const base = await running.url;
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
  assert.equal((await fetch(`${base}/readyz`)).status, 200);
  const docs = await fetch(`${base}/api/docs/`);
  assert.equal(docs.status, 200);
  return base;
}

describe("starting and stopping the API", () => {
  test("with nothing configured it serves on the embedded database, stops cleanly on Ctrl-C and keeps its data", async () => {
    // Empty on purpose: a newcomer's first start (initdb, migrations), which the other tests that
    // start a process skip by copying a migrated database (freshDataDir).
    const cwd = await workdir();
    const cache = join(cwd, "compile-cache");
    const env = {
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_COMPILE_CACHE: cache,
      STRIPE_EMULATOR_PORT: "0",
    };
    const first = startProcess("src/main.ts", env, cwd);
    const credentials = { email: "keeper@example.com", password: "c0rrect-Horse-battery" };
    const register = await fetch(`${await serves(first)}/api/auth/register/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        ...credentials,
        username: "keeper",
        password_confirm: credentials.password,
      }),
    });
    assert.equal(register.status, 201);
    // The compiled modules are saved once start-up is over, not only at a clean exit.
    const cached = async () =>
      (await readdir(cache, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) =>
        e.isFile(),
      ).length;
    await waitFor(async () => ((await cached()) > 0 ? true : undefined), {
      what: "the compile cache written while the API runs",
    });
    if (process.platform === "linux") {
      // argon2id runs on libuv's pool: below the event loop, so logins cannot starve requests.
      const threads = await niceness(first.child.pid ?? 0);
      // The main thread keeps the niceness it was started with (the test runner's own, 0 unless CI
      // runs under `nice`).
      assert.equal(threads.get("MainThread")?.[0], getPriority());
      const pool = threads.get("libuv-worker") ?? [];
      assert.ok(pool.length > 0, "the pool's threads are running");
      assert.deepEqual(new Set(pool), new Set([THREAD_POOL_NICE]));
    }
    assert.equal(await stop(first), 0);
    assert.deepEqual(stackLines(first.output()), []);
    const files = await readdir(join(cwd, "data", "pglite"));
    assert.ok(files.includes("PG_VERSION"), "the database lives under ./data");

    const second = startProcess("src/main.ts", env, cwd);
    const login = await fetch(`${await serves(second)}/api/auth/login/`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(credentials),
    });
    assert.equal(login.status, 200, "the account from the first run is still there");
    assert.equal(await stop(second), 0);
    assert.match(second.output(), /"database":"pglite"/);
    // Where the walkthrough's clock controls are.
    assert.match(second.output(), /"stripe_emulator":"http:\/\/127\.0\.0\.1:\d+"/);
  });

  test("with DATABASE_URL it serves on PostgreSQL", {
    skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  }, async () => {
    const name = `billing_start_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    try {
      const cwd = await workdir();
      const running = startProcess(
        "src/main.ts",
        { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrlFor(name) },
        cwd,
      );
      await serves(running);
      assert.equal(await stop(running), 0);
      assert.match(running.output(), /"database":"postgres"/);
      assert.deepEqual(stackLines(running.output()), []);
    } finally {
      await dropPostgresDatabase(name);
    }
  });

  test("a separate worker refuses the embedded database, naming DATABASE_URL", async () => {
    const running = startProcess("src/worker.ts", {}, await workdir());
    assert.equal(await running.exited, 1);
    assert.match(running.output(), /set DATABASE_URL/);
  });

  test("the worker alone runs on PostgreSQL and stops on SIGTERM", {
    skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  }, async () => {
    const name = `billing_worker_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    // The Stripe the API uses too: a standalone emulator (an in-process one is refused).
    const stripe = await startStripeEmulator();
    try {
      const running = startProcess(
        "src/worker.ts",
        {
          DATABASE_URL: databaseUrlFor(name),
          STRIPE_SECRET_KEY: "sk_test_worker",
          STRIPE_API_BASE: stripe.url,
        },
        await workdir(),
      );
      await waitFor(() => running.output().includes("worker ready"), { what: "worker ready" });
      running.child.kill("SIGTERM");
      assert.equal(await running.exited, 0);
      assert.deepEqual(stackLines(running.output()), []);
    } finally {
      await stripe.close();
      await dropPostgresDatabase(name);
    }
  });

  test("WEB_CONCURRENCY above 1 refuses the embedded database, naming DATABASE_URL", async () => {
    const running = startProcess("src/main.ts", { WEB_CONCURRENCY: "2" }, await workdir());
    assert.equal(await running.exited, 1);
    assert.match(running.output(), /WEB_CONCURRENCY=2 needs PostgreSQL: set DATABASE_URL/);
  });

  test("WEB_CONCURRENCY=2 serves one port from two bundled API threads and drains on SIGTERM", {
    skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  }, async () => {
    const name = `billing_cluster_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    const port = await freePort();
    // One Stripe for both threads: the emulator standalone, as in a real deployment.
    const stripe = await startStripeEmulator();
    try {
      const running = startProcess(
        "src/main.ts",
        {
          PORT: String(port),
          HOST: "127.0.0.1",
          WEB_CONCURRENCY: "2",
          DATABASE_URL: databaseUrlFor(name),
          STRIPE_SECRET_KEY: "sk_test_cluster",
          STRIPE_API_BASE: stripe.url,
        },
        await workdir(),
      );
      await waitFor(() => (running.output().match(/"API ready"/g)?.length ?? 0) >= 2, {
        timeoutMs: 60_000,
        what: "two API threads",
      });
      // The threads run one bundle of the sources (api-bundle.ts), in which every module still
      // finds its files: the migrations ran (the supervisor's), the pages and what they load.
      assert.match(
        running.output(),
        /"bundle":"node_modules\/\.cache\/api-threads\/api-[0-9a-f]+\.mjs"[^\n]*"msg":"API threads bundled"/,
      );
      for (const path of [
        "/",
        "/storefront/storefront.js",
        "/admin/",
        "/admin/app.js",
        "/client/index.js",
        "/api/docs/",
        "/api/redoc/redoc.standalone.js",
      ]) {
        assert.equal(await getWithoutKeepAlive(`http://127.0.0.1:${port}${path}`), 200, path);
      }
      // The kernel spreads new connections over the threads by their addresses (SO_REUSEPORT):
      // 32 connections all reaching one of two threads would be a chance of one in 2^31.
      for (let i = 0; i < 32; i++) {
        assert.equal(await getWithoutKeepAlive(`http://127.0.0.1:${port}/api/schema/`), 200);
      }
      // Access lines are written a moment later (the log is buffered); each names its thread.
      const served = () => [
        ...running
          .output()
          .matchAll(
            /"pid":(\d+),"hostname":"[^"]*","thread":(\d+)[^\n]*"msg":"request completed"/g,
          ),
      ];
      await waitFor(() => new Set(served().map((m) => m[2])).size >= 2, {
        timeoutMs: 10_000,
        what: "two serving threads",
      });
      assert.equal(new Set(served().map((m) => m[2])).size, 2);
      assert.equal(new Set(served().map((m) => m[1])).size, 1, "one process");
      running.child.kill("SIGTERM");
      assert.equal(await running.exited, 0);
      // Each thread drained and said so before it exited (its buffered lines are not lost).
      assert.equal(
        running.output().match(/"thread":\d+,"msg":"stopped"/g)?.length,
        2,
        running.output(),
      );
      assert.deepEqual(stackLines(running.output()), []);
    } finally {
      await stripe.close();
      await dropPostgresDatabase(name);
    }
  });

  test("production with nothing configured exits non-zero listing every problem", async () => {
    const running = startProcess("src/main.ts", { NODE_ENV: "production" }, await workdir());
    const code = await running.exited;
    assert.equal(code, 1);
    const out = running.output();
    for (const name of [
      "SECRET_KEY",
      "DATABASE_URL",
      "STRIPE_SECRET_KEY",
      "STRIPE_WEBHOOK_SECRET",
      "ALLOWED_HOSTS",
      "EMAIL_HOST",
    ]) {
      assert.match(out, new RegExp(`- ${name}:`), name);
    }
    assert.deepEqual(stackLines(out), []);
  });

  test("processes that would each start their own Stripe emulator are refused, naming the standalone one", async () => {
    const standalone = /`npm run stripe-emulator`.*STRIPE_API_BASE=/;
    const api = startProcess("src/main.ts", { WORKER: "off", PORT: "0" }, await workdir());
    assert.equal(await exitedWithoutServing(api), 1);
    assert.match(api.output(), /^WORKER=off leaves the jobs to `npm run worker`/);
    assert.match(api.output(), standalone);
    // Refused before connecting: this database need not exist.
    const worker = startProcess(
      "src/worker.ts",
      { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
      await workdir(),
    );
    assert.equal(await worker.exited, 1);
    assert.match(worker.output(), standalone);
    for (const running of [api, worker]) {
      assert.equal(running.output().trim().split("\n").length, 1, running.output());
    }
  });

  test("a taken port stops start-up with one line naming PORT", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const cwd = await freshDataDir(await workdir());
      const env = {
        PORT: String(port),
        HOST: "127.0.0.1",
        DATA_DIR: cwd,
        STRIPE_EMULATOR_PORT: "0",
      };
      const running = startProcess("src/main.ts", env, cwd);
      assert.equal(await running.exited, 1);
      const fatal = running
        .output()
        .split("\n")
        .filter((l) => l.includes("failed to start"));
      assert.equal(fatal.length, 1, running.output());
      assert.match(fatal[0] ?? "", new RegExp(`port ${port} is already in use \\(PORT=${port}\\)`));
      assert.ok((fatal[0] ?? "").length < 300, fatal[0]);
      assert.deepEqual(stackLines(running.output()), []);
    } finally {
      taken.close();
    }
  });

  test("a PostgreSQL database that does not exist stops start-up with one line suggesting createdb", {
    skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  }, async () => {
    const name = `billing_missing_${randomBytes(4).toString("hex")}`;
    const running = startProcess(
      "src/main.ts",
      { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: databaseUrlFor(name) },
      await workdir(),
    );
    assert.equal(await running.exited, 1);
    const lines = running.output().trim().split("\n");
    assert.equal(lines.length, 1, running.output());
    const { msg } = JSON.parse(lines[0] ?? "{}") as { msg?: string };
    assert.equal(
      msg,
      `API failed to start: PostgreSQL has no database "${name}" (DATABASE_URL): create it with \`createdb ${name}\``,
    );
    assert.ok((lines[0] ?? "").length < 300, lines[0]);
  });

  test("a cluster whose migrations fail exits with the same one line and forks no API process", {
    skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set",
  }, async () => {
    // The primary runs them in a child process of its own (src/platform/db/migrate-process.ts).
    const name = `billing_missing_${randomBytes(4).toString("hex")}`;
    const running = startProcess(
      "src/main.ts",
      {
        PORT: "0",
        HOST: "127.0.0.1",
        WEB_CONCURRENCY: "2",
        DATABASE_URL: databaseUrlFor(name),
        STRIPE_SECRET_KEY: "sk_test_cluster",
        STRIPE_API_BASE: "http://127.0.0.1:1",
      },
      await workdir(),
    );
    assert.equal(await running.exited, 1);
    const lines = running.output().trim().split("\n");
    assert.equal(lines.length, 1, running.output());
    const { msg } = JSON.parse(lines[0] ?? "{}") as { msg?: string };
    assert.equal(
      msg,
      `API cluster failed to start: PostgreSQL has no database "${name}" (DATABASE_URL): create it with \`createdb ${name}\``,
    );
  });

  test(".env is read when present, and its absence goes unmentioned", async () => {
    const cwd = await workdir();
    await writeFile(join(cwd, ".env"), "WEB_CONCURRENCY=2\n");
    const running = startProcess("src/main.ts", { PORT: "0" }, cwd);
    assert.equal(await exitedWithoutServing(running), 1);
    assert.match(running.output(), /WEB_CONCURRENCY=2 needs PostgreSQL/);
    // As a user runs a command, through npm (the repository has no .env in tests).
    const npm = spawnSync("npm", ["run", "--silent", "cli", "--", "help"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, LOG_LEVEL: "warn" },
    });
    assert.equal(npm.status, 0, npm.stderr);
    assert.match(npm.stdout, /Usage: npm run cli/);
    assert.doesNotMatch(`${npm.stdout}${npm.stderr}`, /not found/);
  });

  test("a database that cannot be reached stops start-up with a non-zero exit", async () => {
    const running = startProcess(
      "src/main.ts",
      { PORT: "0", HOST: "127.0.0.1", DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" },
      await workdir(),
    );
    assert.equal(await running.exited, 1);
    assert.match(running.output(), /API failed to start/);
  });
});
