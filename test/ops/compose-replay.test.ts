import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import pg from "pg";
import { settings } from "../../src/config.ts";
import { databaseUrlFor, dropPostgresDatabase, TEST_DATABASE_URL } from "../helpers/database.ts";
import { freePort, ROOT } from "../helpers/process.ts";
import { waitFor } from "../helpers/wait.ts";
import {
  type ComposeFile,
  type ComposeService,
  composeFile,
  containerPort,
  defaultServices,
  healthcheckUrl,
  startOrder,
} from "./compose.ts";
import { dockerImage } from "./dockerfile.ts";

// No Docker engine runs here, so `docker compose up` is replayed: the dev image's files are copied
// into a clean directory as its Dockerfile stage copies them, then every default service's command
// starts with the image's environment plus the service's, in depends_on order, each condition
// awaited as Compose would (service_healthy runs the service's own healthcheck command). Container
// hostnames and ports become 127.0.0.1 and free ports; the postgres service becomes a fresh
// database on TEST_DATABASE_URL's server. If the stack's processes did not share one Stripe, the
// payment below would never arrive.

const cleanup: (() => Promise<void>)[] = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

const documented = new Set(Object.keys(settings));
const STACK = ["api", "demo-plans", "postgres", "stripe-emulator", "worker"];

function service(compose: ComposeFile, name: string): ComposeService {
  const found = compose.services[name];
  assert.ok(found, `docker-compose.yml has a ${name} service`);
  return found;
}

describe("docker-compose.yml: the development stack", () => {
  test("a plain `up` runs api, worker, postgres, the Stripe emulator and the demo plans, with no .env", async () => {
    const compose = await composeFile("docker-compose.yml");
    assert.deepEqual(
      defaultServices(compose)
        .map(([name]) => name)
        .sort(),
      STACK,
    );
    for (const [name, s] of defaultServices(compose)) {
      assert.equal(s.env_file, undefined, `${name} reads no .env: the values are inline`);
      if (s.build !== undefined) {
        assert.deepEqual(s.build, { context: ".", target: "dev" }, `${name} builds the dev image`);
      }
    }
    for (const name of ["api", "worker", "demo-plans"]) {
      assert.equal(service(compose, name).environment?.NODE_ENV, "development", name);
    }
    assert.deepEqual(service(compose, "api").command, ["node", "src/main.ts"]);
    assert.deepEqual(service(compose, "worker").command, ["node", "src/worker.ts"]);
    assert.deepEqual(service(compose, "stripe-emulator").command, [
      "node",
      "stripe-emulator/main.ts",
    ]);
  });

  test("api, worker and demo plans share one Stripe, whose webhooks reach the api signed with its secret", async () => {
    const compose = await composeFile("docker-compose.yml");
    const api = service(compose, "api");
    const emulator = service(compose, "stripe-emulator");
    const base = new URL(api.environment?.STRIPE_API_BASE ?? "");
    assert.equal(base.hostname, "stripe-emulator");
    assert.equal(Number(base.port), containerPort(emulator));
    assert.equal(emulator.environment?.STRIPE_EMULATOR_PORT, base.port);
    assert.equal(emulator.environment?.STRIPE_EMULATOR_HOST, "0.0.0.0", "reachable from the api");
    assert.match(api.environment?.STRIPE_SECRET_KEY ?? "", /^sk_test_/);
    for (const name of ["worker", "demo-plans"]) {
      for (const key of ["STRIPE_SECRET_KEY", "STRIPE_API_BASE", "DATABASE_URL"]) {
        assert.equal(service(compose, name).environment?.[key], api.environment?.[key], key);
      }
    }
    const hook = new URL(emulator.environment?.STRIPE_WEBHOOK_URL ?? "");
    assert.equal(hook.hostname, "api");
    assert.equal(hook.port, api.environment?.PORT);
    assert.equal(hook.pathname, "/api/webhooks/stripe/");
    assert.ok(api.environment?.STRIPE_WEBHOOK_SECRET?.startsWith("whsec_"));
    assert.equal(
      emulator.environment?.STRIPE_WEBHOOK_SECRET,
      api.environment?.STRIPE_WEBHOOK_SECRET,
    );
    // The emulator's state outlives a restart, in a volume beside the database's.
    const snapshot = emulator.environment?.STRIPE_EMULATOR_SNAPSHOT ?? "";
    const mount = emulator.volumes
      ?.map((v) => v.split(":"))
      .find(([, path]) => snapshot.startsWith(`${path}/`));
    assert.ok(mount?.[0] && mount[0] in (compose.volumes ?? {}), "a named volume");
  });

  test("the api works no jobs and migrates; the worker waits for it to be ready", async () => {
    const compose = await composeFile("docker-compose.yml");
    const api = service(compose, "api");
    const worker = service(compose, "worker");
    assert.equal(api.environment?.WORKER, "off", "the worker service does the jobs");
    assert.equal(api.environment?.MIGRATE_ON_START, undefined, "the api applies migrations");
    assert.equal(healthcheckUrl(api)?.pathname, "/readyz", "ready: reachable and migrated");
    for (const name of ["worker", "demo-plans"]) {
      const s = service(compose, name);
      assert.equal(s.environment?.MIGRATE_ON_START, "false", name);
      assert.equal(s.depends_on?.api?.condition, "service_healthy", name);
      assert.equal(s.healthcheck?.disable, true, `${name} serves no HTTP`);
    }
    assert.equal(api.depends_on?.postgres?.condition, "service_healthy");
    assert.equal(api.depends_on?.["stripe-emulator"]?.condition, "service_healthy");
    assert.ok(service(compose, "postgres").healthcheck?.test);
    assert.deepEqual(worker.command, ["node", "src/worker.ts"]);
  });

  test("sets only variables the processes read", async () => {
    const compose = await composeFile("docker-compose.yml");
    for (const name of ["api", "worker", "demo-plans"]) {
      for (const key of Object.keys(service(compose, name).environment ?? {})) {
        assert.ok(documented.has(key), `${name}: ${key} is not a documented setting`);
      }
    }
    const emulatorMain = await readFile(`${ROOT}stripe-emulator/main.ts`, "utf8");
    for (const key of Object.keys(service(compose, "stripe-emulator").environment ?? {})) {
      assert.ok(
        emulatorMain.includes(`env.${key}`),
        `stripe-emulator/main.ts does not read ${key}`,
      );
    }
  });
});

interface Started {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | string>;
}

function start(command: string[], env: Record<string, string>, cwd: string): Started {
  const [file, ...args] = command;
  assert.equal(file, "node", "the image runs node");
  const child = spawn(process.execPath, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1));
  });
  return { child, output: () => output, exited };
}

function has(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`]).status === 0;
}

/** README's walkthrough block (test/billing/walkthrough.test.ts runs it on the embedded default). */
async function runWalkthrough(env: Record<string, string>): Promise<{ code: number; out: string }> {
  const readme = await readFile(`${ROOT}README.md`, "utf8");
  const script =
    /<!-- walkthrough:start -->\s*```bash\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(
      readme,
    )?.[1];
  assert.ok(script, "README.md has a walkthrough block");
  const child = spawn("bash", ["-euo", "pipefail", "-c", script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  child.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const code = await new Promise<number>((resolve) => child.on("exit", (c) => resolve(c ?? 1)));
  return { code, out };
}

/** Runs a healthcheck's CMD once; true when it exits 0. */
function probe(test: string[], timeoutMs: number): Promise<boolean> {
  const [kind, file, ...args] = test;
  assert.equal(kind, "CMD");
  assert.equal(file, "node");
  return new Promise((resolve) => {
    execFile(process.execPath, args, { timeout: timeoutMs }, (err) => resolve(!err));
  });
}

test("`docker compose up` replayed: a subscription's payment arrives through the worker", {
  skip: !TEST_DATABASE_URL && "TEST_DATABASE_URL not set (the stack's postgres service)",
  timeout: 180_000,
}, async (t) => {
  const compose = await composeFile("docker-compose.yml");
  const emulator = service(compose, "stripe-emulator");
  const targets = new Set(
    defaultServices(compose).map(([, s]) => (typeof s.build === "object" ? s.build.target : "")),
  );
  assert.deepEqual([...targets].filter(Boolean), ["dev"]);
  const image = await dockerImage("dev");

  // /app: what the dev stage copies; node_modules is the deps stage's (here: this checkout's).
  const dir = await mkdtemp(join(tmpdir(), "billing-compose-"));
  cleanup.push(() => rm(dir, { recursive: true, force: true }));
  for (const path of image.copies) await cp(`${ROOT}${path}`, join(dir, path), { recursive: true });
  await symlink(join(ROOT, "node_modules"), join(dir, "node_modules"));
  await mkdir(join(dir, "data"));

  const database = `billing_compose_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
  await admin.connect();
  await admin.query(`create database ${database}`);
  await admin.end();
  cleanup.push(() => dropPostgresDatabase(database));

  // Where each published container port is reached from here.
  const hostPorts = new Map<string, { container: number; host: number }>();
  for (const [name, s] of defaultServices(compose)) {
    const port = containerPort(s);
    if (port !== undefined) hostPorts.set(name, { container: port, host: await freePort() });
  }
  const local = (name: string, value: string): string => {
    // Container paths (a value, or a flag's in NODE_OPTIONS) move into the replay's directory.
    let out = value.replace(/(^|[\s=])\/(app|tmp)\//g, (_, before: string, root: string) =>
      root === "app" ? `${before}${dir}/` : `${before}${dir}/tmp/`,
    );
    if (out === "0.0.0.0") out = "127.0.0.1";
    const own = hostPorts.get(name);
    if (own && out === String(own.container)) out = String(own.host);
    if (own) out = out.replaceAll(`127.0.0.1:${own.container}`, `127.0.0.1:${own.host}`);
    for (const [other, ports] of hostPorts) {
      out = out.replaceAll(`//${other}:${ports.container}`, `//127.0.0.1:${ports.host}`);
    }
    if (/^postgres(ql)?:\/\/[^/]*@postgres:5432\//.test(out)) out = databaseUrlFor(database);
    return out;
  };

  const running = new Map<string, Started>();
  cleanup.push(async () => {
    for (const [, p] of [...running].reverse()) {
      if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
      p.child.kill("SIGTERM");
      const stopped = await Promise.race([
        p.exited.then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 15_000).unref()),
      ]);
      if (!stopped) p.child.kill("SIGKILL");
    }
  });
  const logs = () =>
    [...running].map(([name, p]) => `--- ${name}\n${p.output().slice(-4000)}`).join("\n");

  const healthy = new Map<string, Promise<void>>();
  const becomesHealthy = (name: string): Promise<void> => {
    const known = healthy.get(name);
    if (known) return known;
    const s = service(compose, name);
    const check = s.healthcheck?.test;
    let result: Promise<void>;
    if (name === "postgres") {
      result = Promise.resolve(); // the database above exists and answers
    } else {
      assert.ok(check && !s.healthcheck?.disable, `${name} has a healthcheck to wait on`);
      const probeCmd = check.map((arg) => local(name, arg));
      result = waitFor(
        async () => {
          const p = running.get(name);
          if (p && p.child.exitCode !== null) throw new Error(`${name} exited\n${logs()}`);
          return probe(probeCmd, 3000);
        },
        { what: `${name} healthy`, timeoutMs: 60_000, intervalMs: 250 },
      ).then(() => {});
    }
    healthy.set(name, result);
    return result;
  };

  for (const name of startOrder(compose)) {
    const s = service(compose, name);
    for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
      if (condition === "service_healthy") await becomesHealthy(dep);
      else if (condition === "service_completed_successfully") {
        assert.equal(await running.get(dep)?.exited, 0, `${dep} completes\n${logs()}`);
      } else assert.equal(condition, "service_started");
    }
    if (name === "postgres") continue;
    assert.ok(s.command && s.build, `${name} runs a command of the dev image`);
    const env: Record<string, string> = { PATH: process.env.PATH ?? "", HOME: dir };
    for (const [key, value] of Object.entries({ ...image.env, ...s.environment })) {
      env[key] = local(name, String(value));
    }
    running.set(name, start(s.command, env, dir));
  }

  // The api, as its compose healthcheck sees it (the worker has already waited on this).
  await becomesHealthy("api");
  const apiUrl = healthcheckUrl(service(compose, "api"));
  assert.ok(apiUrl);
  const api = local("api", apiUrl.origin);
  assert.equal((await fetch(`${api}${apiUrl.pathname}`)).status, 200);
  const emulatorLog = running.get("stripe-emulator")?.output() ?? "";
  assert.match(emulatorLog, new RegExp(`Delivering webhooks to ${api}/api/webhooks/stripe/`));
  assert.equal(await running.get("demo-plans")?.exited, 0, logs());

  const call = async (method: string, path: string, token?: string, body?: unknown) => {
    const res = await fetch(`${api}${path}`, {
      method,
      headers: {
        ...(body ? { "content-type": "application/json" } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    // biome-ignore lint/suspicious/noExplicitAny: JSON bodies, asserted field by field
    return { status: res.status, body: (await res.json()) as any };
  };
  const id = randomBytes(4).toString("hex");
  const registered = await call("POST", "/api/auth/register/", undefined, {
    email: `compose-${id}@example.com`,
    username: `compose${id}`,
    password: "correct-Horse-battery-9",
    password_confirm: "correct-Horse-battery-9",
  });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const token: string = registered.body.tokens.access;
  const plans = await call("GET", "/api/subscriptions/plans/", token);
  const starter = plans.body.results?.find((p: { name: string }) => p.name === "Starter");
  assert.ok(starter, `the demo plans are on sale: ${JSON.stringify(plans.body)}`);
  const created = await call("POST", "/api/subscriptions/create/", token, {
    plan_id: starter.id,
    payment_method_id: "pm_card_visa",
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.subscription.status, "active");

  // The invoice.paid webhook reaches the api (WORKER=off stores it) and only the worker records it.
  const payments = await waitFor(
    async () => {
      const res = await call("GET", "/api/subscriptions/payments/", token);
      return res.body.count === 1 ? res.body.results : undefined;
    },
    { what: `the payment to arrive\n${logs()}`, timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.equal(payments[0].amount, "9.99");
  assert.equal(payments[0].status, "succeeded");
  await waitFor(
    () => /Subject: Payment received: Starter/.test(running.get("worker")?.output() ?? ""),
    {
      what: "the worker to send the receipt (emails print to its console)",
    },
  );
  for (const name of ["api", "worker", "demo-plans"]) {
    assert.doesNotMatch(running.get(name)?.output() ?? "", /in-process/, `${name}: one Stripe`);
  }

  // docs/deploy.md says README's walkthrough runs against this stack, clock move included.
  if (!has("curl") || !has("jq")) {
    t.diagnostic("README walkthrough not run: needs curl and jq");
    return;
  }
  const walkthrough = await runWalkthrough({
    API: api,
    EMULATOR: local("stripe-emulator", `http://stripe-emulator:${containerPort(emulator)}`),
  });
  assert.equal(walkthrough.code, 0, `${walkthrough.out}\n${logs()}`);
  assert.equal(walkthrough.out.match(/"amount":"9.99","status":"succeeded"/g)?.length, 2);
});
