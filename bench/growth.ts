import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Request } from "autocannon";
import pg from "pg";
import { signToken } from "../src/accounts/tokens.ts";
import { loadConfig } from "../src/config.ts";
import { openDatabase } from "../src/platform/db/client.ts";
import { runMigrations } from "../src/platform/db/migrate.ts";
import { startStripeEmulator } from "../stripe-emulator/index.ts";
import { explainQueries } from "./growth-explain.ts";
import {
  type GrowthResults,
  label,
  type SizeResult,
  TARGETS,
  type Target,
  writeGrowth,
} from "./growth-report.ts";
import {
  grow,
  HEAVY_PAYMENTS,
  seedPlans,
  subscriptionId,
  tableSizes,
  userId,
} from "./growth-seed.ts";
import { type PreciseRun, paced, quantile, type Run, requestFor } from "./load.ts";
import { apiEnv, freePort, type Proc, startNode, waitReady } from "./processes.ts";
import { loadAverage, machine, runCommand } from "./report.ts";
import { adminQuery, databaseUrl, SECRET_KEY, type Seeded } from "./seed.ts";

/**
 * `npm run bench:growth`: users, payments and Stripe events at 1k, 100k and 1M rows, and the
 * latency of status, the payments page (first and deep) and webhook intake at a fixed moderate
 * rate on each, to show it does not grow with the tables. Loopback only, about 5 minutes on 2
 * cores. Writes bench/growth.json and bench/GROWTH.md. See bench/README.md.
 */

const env = process.env;
const SIZES = (env.GROWTH_SIZES ?? "1000,100000,1000000").split(",").map(Number);
/**
 * Measured seconds per size and endpoint, in ROUNDS slices: 3,000 requests at the default rate.
 * A p99 over the 900 of 9 s moved by half with one hiccup of the machine.
 */
const DURATION = Number(env.GROWTH_DURATION ?? 30);
const ROUNDS = 3;
const WARMUP = 2;
const RATE = Number(env.GROWTH_RATE ?? 100);
const CONNECTIONS = 4;
const PROCESSES = Number(env.GROWTH_PROCESSES ?? 1);
/** Users whose tokens the status load rotates through, spread evenly over the table. */
const SAMPLED_USERS = 500;
/** Page 100 of the heavy user's 101: offset 1,980, a full page. */
const DEEP_PAGE = Math.floor(HEAVY_PAYMENTS / 20);
const WEBHOOK_SECRET = `whsec_growth_${randomBytes(16).toString("hex")}`;

const serverUrl = env.DATABASE_URL;
if (!serverUrl) {
  process.stderr.write(
    "bench:growth needs PostgreSQL: set DATABASE_URL (a server; the bench creates and drops its own databases).\n",
  );
  process.exit(1);
}
const tag = randomBytes(4).toString("hex");
const logDir = await mkdtemp(join(tmpdir(), "billing-growth-"));
const log = (msg: string) => process.stdout.write(`${msg}\n`);
const loadAtStart = loadAverage();

const emulator = await startStripeEmulator({ port: 0 });
const running: Proc[] = [];
const databases: string[] = [];

type Users = Seeded & { heavyToken: string };

/** One size: its own database, grown to `size` rows, and its own API process. */
interface Stage {
  size: number;
  api: { url: string; proc: Proc };
  users: Users;
  result: Omit<SizeResult, "endpoints" | "loadAverage">;
}

async function startApi(size: number, url: string): Promise<{ url: string; proc: Proc }> {
  const port = await freePort();
  const logFile = join(logDir, `api-${label(size)}.log`);
  const proc = startNode(
    "src/main.ts",
    apiEnv({
      port,
      database: { DATABASE_URL: url },
      processes: PROCESSES,
      secretKey: SECRET_KEY,
      stripeApiBase: emulator.url,
      webhookSecret: WEBHOOK_SECRET,
    }),
    logFile,
  );
  running.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, logFile, /Server listening/, PROCESSES, `${base}/readyz`);
  return { url: base, proc };
}

/** Tokens of users spread over the whole table, and their subscriptions for webhook events. */
async function sampleUsers(size: number): Promise<Users> {
  const config = loadConfig({ SECRET_KEY, ACCESS_TOKEN_LIFETIME: "2h" });
  const count = Math.min(SAMPLED_USERS, size);
  const numbers = Array.from({ length: count }, (_, i) => 1 + Math.floor((i * size) / count));
  const sign = async (n: number) => (await signToken(config, "access", userId(n))).token;
  return {
    tokens: await Promise.all(numbers.map(sign)),
    emails: [],
    password: "",
    pendingTokens: [],
    // No staff user in the growth seed: the admin lists are not measured here.
    staffToken: "",
    previews: [],
    subscriptionIds: numbers.map(subscriptionId),
    heavyToken: await sign(1),
  };
}

function requestOf(target: Target, users: Users): Request {
  if (target === "status" || target === "webhook") {
    return requestFor(target, users, WEBHOOK_SECRET);
  }
  const query = target === "paymentsDeep" ? `?page=${DEEP_PAGE}` : "";
  return {
    method: "GET",
    path: `/api/subscriptions/payments/${query}`,
    headers: { authorization: `Bearer ${users.heavyToken}` },
  };
}

/** One request of each read, checked, so a run never measures error answers. */
async function checkAnswers(base: string, users: Users): Promise<void> {
  const get = async (path: string, token: string) => {
    const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  const status = await get("/api/subscriptions/status/", users.tokens.at(-1) ?? "");
  if (status.status !== 200 || status.body.status !== "active") {
    throw new Error(`status answered ${status.status} ${JSON.stringify(status.body)}`);
  }
  const deep = await get(`/api/subscriptions/payments/?page=${DEEP_PAGE}`, users.heavyToken);
  const results = Array.isArray(deep.body.results) ? deep.body.results : [];
  if (deep.status !== 200 || deep.body.count !== HEAVY_PAYMENTS + 1 || results.length !== 20) {
    throw new Error(`deep page answered ${deep.status} count=${String(deep.body.count)}`);
  }
}

/**
 * A database of `size` rows: created, migrated, grown from empty on two connections, explained,
 * and served by its own API process.
 */
async function prepare(size: number): Promise<Stage> {
  const name = `bench_growth_${tag}_${label(size).toLowerCase()}`;
  const url = databaseUrl(serverUrl ?? "", name);
  await adminQuery(serverUrl ?? "", `create database ${name}`);
  databases.push(name);
  const database = await openDatabase({ url, poolMax: 1 });
  try {
    await runMigrations(database);
  } finally {
    await database.close();
  }
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const clients = [await pool.connect(), await pool.connect()] as const;
  try {
    for (const client of clients) await compressWal(client);
    await seedPlans(clients[0]);
    log(`growing ${name} to ${size} rows…`);
    const started = Date.now();
    await grow([clients[0], clients[1]], 0, size);
    const seedSeconds = Math.round((Date.now() - started) / 100) / 10;
    log(`  ${seedSeconds} s`);
    const explained = await explainQueries(clients[0], {
      userId: userId(1 + Math.floor(size / 2)),
      heavyUserId: userId(1),
      deepPage: DEEP_PAGE,
    });
    const tables = await tableSizes(clients[0]);
    const users = await sampleUsers(size);
    const api = await startApi(size, url);
    await checkAnswers(api.url, users);
    return { size, api, users, result: { size, tables, seedSeconds, explained } };
  } finally {
    for (const client of clients) client.release();
    await pool.end();
  }
}

/**
 * Bulk inserts are followed by a full-page image of every page they touch after each checkpoint;
 * compressing those makes seeding about 15 % faster here. A superuser setting: skipped otherwise.
 */
async function compressWal(client: pg.PoolClient): Promise<void> {
  await client.query("set wal_compression = on").catch((err: Error) => {
    log(`wal_compression stays off (${err.message}): seeding is slower`);
  });
}

async function run(stage: Stage, target: Target, seconds: number): Promise<PreciseRun> {
  const result = await paced(stage.api.url, requestOf(target, stage.users), {
    connections: CONNECTIONS,
    rate: RATE,
    durationSeconds: seconds,
  });
  // Error answers are fast: a run made of them would look flat, so it stops the bench instead.
  if (result.failures > 0) {
    throw new Error(`${target} at ${label(stage.size)}: ${result.failures} requests failed`);
  }
  const { exitCode, signalCode } = stage.api.proc.child;
  if (exitCode !== null || signalCode !== null) {
    throw new Error(
      `the ${label(stage.size)} API exited during ${target} (${signalCode ?? exitCode})`,
    );
  }
  return result;
}

/** The slices of one size and endpoint as one run: all their latencies pooled. */
function pooled(runs: PreciseRun[]): Run {
  const times = runs.flatMap((r) => r.times).sort((a, b) => a - b);
  const requests = runs.reduce((n, r) => n + r.requests, 0);
  return {
    rps: Math.round(requests / DURATION),
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    failures: runs.reduce((n, r) => n + r.failures, 0),
    requests,
  };
}

/**
 * Every size is measured side by side, in rounds: each endpoint on 1k, 100k and 1M in turn, then
 * the next endpoint, ROUNDS times over. On a shared machine the load drifts over minutes; measured
 * one size after the other, that drift would read as growth (or as its absence).
 */
async function measure(stages: Stage[]): Promise<SizeResult[]> {
  const slices = new Map<string, PreciseRun[]>();
  const loads = new Map<number, string[]>();
  for (const stage of stages) {
    for (const target of TARGETS) await run(stage, target, WARMUP);
  }
  for (let round = 1; round <= ROUNDS; round++) {
    log(`round ${round} of ${ROUNDS} (load average ${loadAverage()})…`);
    for (const target of TARGETS) {
      for (const stage of stages) {
        loads.set(stage.size, [...(loads.get(stage.size) ?? []), loadAverage()]);
        const key = `${stage.size}:${target}`;
        slices.set(key, [...(slices.get(key) ?? []), await run(stage, target, DURATION / ROUNDS)]);
      }
    }
  }
  return stages.map((stage) => {
    const endpoints = Object.fromEntries(
      TARGETS.map((t) => [t, pooled(slices.get(`${stage.size}:${t}`) ?? [])]),
    ) as Record<Target, Run>;
    const seen = loads.get(stage.size) ?? [];
    return {
      ...stage.result,
      endpoints,
      loadAverage: `${seen[0] ?? "?"} → ${seen.at(-1) ?? "?"}`,
    };
  });
}

async function main(): Promise<void> {
  const stages: Stage[] = [];
  for (const size of SIZES) stages.push(await prepare(size));
  log("measuring…");
  const sizes = await measure(stages);
  for (const s of sizes) log(`${label(s.size)}: ${JSON.stringify(s.endpoints)}`);
  await writeGrowth(results(sizes, await postgresVersion()));
  log("wrote bench/growth.json and bench/GROWTH.md");
}

async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>(
      "select current_setting('server_version') as v",
    );
    return `PostgreSQL ${rows[0]?.v ?? "?"}`;
  } finally {
    await client.end();
  }
}

function results(sizes: SizeResult[], databaseVersion: string): GrowthResults {
  return {
    date: new Date().toISOString(),
    command: runCommand("GROWTH_", "bench:growth"),
    machine: machine(databaseVersion, loadAtStart),
    settings: {
      apiProcesses: PROCESSES,
      connections: CONNECTIONS,
      fixedRate: RATE,
      warmupSeconds: WARMUP,
      durationSeconds: DURATION,
      rounds: ROUNDS,
      sampledUsers: SAMPLED_USERS,
      heavyUserPayments: HEAVY_PAYMENTS,
      deepPage: DEEP_PAGE,
    },
    sizes,
  };
}

try {
  await main();
} finally {
  for (const proc of running.reverse()) await proc.stop();
  await emulator.close();
  for (const name of databases) {
    await adminQuery(serverUrl, `drop database if exists ${name} with (force)`);
  }
}
