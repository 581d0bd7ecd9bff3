import { randomBytes } from "node:crypto";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Request } from "autocannon";
import { sql } from "drizzle-orm";
import { createStripeClient } from "../src/billing/stripe-client.ts";
import { type Database, openDatabase, queryRows } from "../src/platform/db/client.ts";
import { runMigrations } from "../src/platform/db/migrate.ts";
import { startStripeEmulator } from "../stripe-emulator/index.ts";
import {
  ADMIN_ENDPOINTS,
  combine,
  cpuMs,
  type Endpoint,
  load,
  type Memory,
  PATHS,
  type PreciseRun,
  paced,
  pacedCalls,
  type Run,
  requestFor,
  type StallProbe,
  sampleRss,
  sliceOrder,
  startStallProbe,
  withMachine,
} from "./load.ts";
import { apiEnv, freePort, type Proc, startNode, waitReady } from "./processes.ts";
import {
  type EndpointResult,
  loadAverage,
  machine,
  type PreviewResult,
  type Results,
  runCommand,
  writeResults,
} from "./report.ts";
import { adminQuery, databaseUrl, SECRET_KEY, type Seeded, seed } from "./seed.ts";

/**
 * `npm run bench`: the API (WEB_CONCURRENCY=2, PostgreSQL) against a bare node:http + pg baseline
 * on the same database, loopback only, every run bounded by BENCH_DURATION seconds. Writes
 * bench/results.json and bench/RESULTS.md. See bench/README.md.
 */

const env = process.env;
const DURATION = Number(env.BENCH_DURATION ?? 10);
const WARMUP = 2;
/** Each measured run is cut into this many slices, alternating between the app and the baseline. */
const SLICES = 5;
const CONNECTIONS = 32;
const RATE = 1000;
const PROCESSES = 2;
const WEBHOOK_SECRET = `whsec_bench_${randomBytes(16).toString("hex")}`;
const E2E_EVENTS = Number(env.BENCH_E2E_EVENTS ?? 5000);
/**
 * Only these endpoints (comma-separated names of `load.ts`'s `Endpoint`), for a smoke run; the
 * webhook end-to-end only when "e2e" is named. Unset: everything. The status-during-logins and
 * preview runs always run (BENCH_DURATION bounds them).
 */
const ONLY = env.BENCH_ENDPOINTS
  ? new Set(env.BENCH_ENDPOINTS.split(",").map((e) => e.trim()))
  : undefined;
const selected = (name: string) => !ONLY || ONLY.has(name);
/** The preview route's fixed rate: each request is three Stripe calls (see `previewRun`). */
const PREVIEW_RATE = Number(env.BENCH_PREVIEW_RATE ?? 20);

const serverUrl = env.DATABASE_URL;
const logDir = await mkdtemp(join(tmpdir(), "billing-bench-"));
const notes: string[] = [];
const loadAtStart = loadAverage();
const log = (msg: string) => process.stdout.write(`${msg}\n`);

if (!serverUrl) {
  const warning =
    "DATABASE_URL is unset: falling back to PGlite, one API process, no baseline (the baseline needs PostgreSQL). These numbers are not comparable with the targets.";
  process.stderr.write(`WARNING: ${warning}\n`);
  notes.push(warning);
}

const dbName = `bench_${randomBytes(4).toString("hex")}`;
const url = serverUrl ? databaseUrl(serverUrl, dbName) : undefined;
const dataDir = join(logDir, "data");
const processes = serverUrl ? PROCESSES : 1;

const emulator = await startStripeEmulator({ port: 0 });
const stripe = createStripeClient("sk_test_bench", emulator.url);
const running: Proc[] = [];
/** Watches the machine during the fixed-rate slices (see `startStallProbe`). */
let probe: StallProbe | undefined;

async function openBenchDatabase(): Promise<Database> {
  return url
    ? openDatabase({ url, poolMax: 4 })
    : openDatabase({ pgliteDir: join(dataDir, "pglite") });
}

async function prepareDatabase(): Promise<Seeded> {
  if (serverUrl) await adminQuery(serverUrl, `create database ${dbName}`);
  const database = await openBenchDatabase();
  try {
    await runMigrations(database);
    await database.db.execute(
      sql`create table if not exists bench_baseline_jobs (id uuid primary key, name text not null, data jsonb, singleton_key text, created_on timestamptz not null default now())`,
    );
    log("seeding…");
    return await seed(database, stripe, {
      userCount: Number(env.BENCH_USERS ?? 2000),
      subscribed: Number(env.BENCH_SUBSCRIBED ?? 300),
      pending: Number(env.BENCH_PENDING ?? 100),
      plans: 5,
    });
  } finally {
    await database.close();
  }
}

function appEnv(port: number): Record<string, string> {
  return apiEnv({
    port,
    database: url ? { DATABASE_URL: url } : { DATA_DIR: dataDir },
    processes,
    secretKey: SECRET_KEY,
    stripeApiBase: emulator.url,
    webhookSecret: WEBHOOK_SECRET,
    logLevel: env.BENCH_LOG_LEVEL ?? "info",
  });
}

/** A running server under test: where it answers and its (primary) process. */
interface Server {
  url: string;
  proc: Proc;
}

/**
 * Starts the API. A deployed process starts with the compile cache its predecessors saved (each
 * saves it once ready), so the bench starts and stops the API once first: the measured processes
 * then start as every start after a deployment's first does.
 */
async function startApp(): Promise<Server> {
  await (await launchApp()).proc.stop();
  return launchApp();
}

async function launchApp(): Promise<Server> {
  const port = await freePort();
  const logFile = join(logDir, "api.log");
  const proc = startNode("src/main.ts", appEnv(port), logFile);
  running.push(proc);
  const base = `http://127.0.0.1:${port}`;
  // At LOG_LEVEL=info each process logs "Server listening"; otherwise readiness is all we see.
  const logsListening = (env.BENCH_LOG_LEVEL ?? "info") === "info";
  await waitReady(
    proc,
    logFile,
    /Server listening/,
    logsListening ? processes : 0,
    `${base}/readyz`,
  );
  return { url: base, proc };
}

async function startBaseline(): Promise<Server | undefined> {
  if (!url) return undefined;
  const port = await freePort();
  const logFile = join(logDir, "baseline.log");
  const proc = startNode(
    "bench/baseline.ts",
    {
      BASELINE_PORT: String(port),
      DATABASE_URL: url,
      SECRET_KEY,
      WEBHOOK_SECRET,
      WEB_CONCURRENCY: String(processes),
    },
    logFile,
  );
  running.push(proc);
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, logFile, /baseline listening/, processes, `${base}/readyz`);
  return { url: base, proc };
}

/** RATE req/s for DURATION seconds (`paced`), without the per-request times. */
async function fixedRate(target: string, request: Request): Promise<Run> {
  const { times: _times, ...run } = await paced(target, request, {
    connections: CONNECTIONS,
    durationSeconds: DURATION,
    rate: RATE,
  });
  return run;
}

/**
 * One endpoint on each server (the app, then the baseline when there is one): a warm-up each, then
 * the saturation run and the fixed-rate run, each cut into SLICES slices that alternate between the
 * servers (the order flips every slice) and are combined per server afterwards. The machine's
 * speed drifts over minutes, and the ratio between the two servers is the target: measured one
 * after the other, that drift went into the ratio.
 */
async function measure(
  app: Server,
  baseline: Server | undefined,
  endpoint: Endpoint,
  seeded: Seeded,
  withRate: boolean,
): Promise<Pick<EndpointResult, "app" | "baseline">> {
  const request = () => requestFor(endpoint, seeded, WEBHOOK_SECRET);
  const sides = (baseline ? [app, baseline] : [app]).map((server) => ({
    server,
    saturation: [] as PreciseRun[],
    rate: [] as PreciseRun[],
    cpuMs: 0,
  }));
  for (const { server } of sides) {
    await load(server.url, request(), { connections: CONNECTIONS, durationSeconds: WARMUP });
  }
  const seconds = DURATION / SLICES;
  for (let i = 0; i < SLICES; i++) {
    for (const side of sliceOrder(sides, i)) {
      const before = await cpuMs(side.server.proc.pid);
      side.saturation.push(
        await load(side.server.url, request(), {
          connections: CONNECTIONS,
          durationSeconds: seconds,
        }),
      );
      side.cpuMs += (await cpuMs(side.server.proc.pid)) - before;
    }
  }
  for (let i = 0; withRate && i < SLICES; i++) {
    for (const side of sliceOrder(sides, i)) {
      side.rate.push(
        await withMachine(
          () =>
            paced(side.server.url, request(), {
              connections: CONNECTIONS,
              durationSeconds: seconds,
              rate: RATE,
            }),
          probe,
        ),
      );
    }
  }
  const [appSide, baselineSide] = sides.map((side) => {
    const saturation = combine(side.saturation);
    if (side.cpuMs > 0 && saturation.requests > 0) {
      saturation.cpuUsPerRequest = Math.round((side.cpuMs * 1000) / saturation.requests);
    }
    return withRate ? { saturation, rate: combine(side.rate) } : { saturation };
  });
  if (!appSide) throw new Error("no app run");
  return baselineSide ? { app: appSide, baseline: baselineSide } : { app: appSide };
}

async function main(): Promise<void> {
  const seeded = await prepareDatabase();
  probe = await startStallProbe();
  log("starting the API and the baseline…");
  const app = await startApp();
  const baseline = await startBaseline();
  const rss = sampleRss(app.proc.pid);
  // The baseline's processes under the same load and heap flags: what Node itself costs.
  const baselineRss = baseline ? sampleRss(baseline.proc.pid) : undefined;
  const endpoints: EndpointResult[] = [];
  const e2e = selected("e2e") ? await webhookEndToEndRun(app.url, seeded) : undefined;
  // Where the peak RSS was reached: the running peak of the largest process after each phase.
  const rssPeakByPhase: NonNullable<Results["rssPeakByPhase"]> = [];
  const peakSoFar = (phase: string) => {
    const largest = (peaks: Record<number, Memory>) =>
      Math.round(Math.max(0, ...Object.values(peaks).map((m) => m.rss)));
    rssPeakByPhase.push({
      phase,
      app: largest(rss.peaks()),
      ...(baselineRss ? { baseline: largest(baselineRss.peaks()) } : {}),
    });
  };
  if (e2e) peakSoFar("webhook end-to-end");

  // Peaks before any login as well as over the whole run: an argon2id hash holds 19 MiB while it
  // runs, and the baseline runs as many at once as the thread pool has threads.
  let beforeLogins: { app: Record<number, Memory>; baseline: Record<number, Memory> } = {
    app: {},
    baseline: {},
  };
  for (const endpoint of [
    "status",
    "status-pending",
    "access",
    "plans",
    "profile",
    "invoices",
    "history",
    ...ADMIN_ENDPOINTS,
    "webhook",
    "login",
  ] as const) {
    if (!selected(endpoint)) continue;
    // Staff lists are not requested at 1,000 req/s: saturation (req/s, CPU per request) only.
    const withRate =
      endpoint !== "login" && !(ADMIN_ENDPOINTS as readonly string[]).includes(endpoint);
    if (endpoint === "login") {
      beforeLogins = { app: rss.peaks(), baseline: baselineRss?.peaks() ?? {} };
    }
    log(baseline ? `${endpoint}: app and baseline, alternating…` : `${endpoint}: app…`);
    const result: EndpointResult = {
      endpoint,
      path: PATHS[endpoint],
      ...(await measure(app, baseline, endpoint, seeded, withRate)),
    };
    endpoints.push(result);
    log(JSON.stringify(result));
    peakSoFar(endpoint);
  }

  // Alone and during, back to back: on a shared machine the speed drifts over minutes, and the
  // target is a ratio, so both sides of it are measured in the same stretch of time.
  log("status at 1,000 req/s, then again while logins saturate…");
  const statusBeforeLogins = await fixedRate(app.url, requestFor("status", seeded, WEBHOOK_SECRET));
  // The logins run first and a second longer, so that status is measured while they are in full
  // swing rather than while both loads open their connections.
  const logins = load(app.url, requestFor("login", seeded, WEBHOOK_SECRET), {
    connections: 8,
    durationSeconds: DURATION + 2,
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const statusDuringLogins = await fixedRate(app.url, requestFor("status", seeded, WEBHOOK_SECRET));
  await logins;
  peakSoFar("status during logins");
  const peaks = await rss.stop();
  const baselinePeaks = baselineRss ? Object.values(await baselineRss.stop()) : [];
  // Last, after the memory sampling: the earlier runs and their peaks stay as they were.
  log(`preview at ${PREVIEW_RATE} req/s, alternating with its Stripe calls made directly…`);
  const preview = await previewRun(app, seeded);
  log(JSON.stringify(preview));

  const pgVersion = url ? await postgresVersion() : "PGlite";
  const results: Results = {
    date: new Date().toISOString(),
    command: runCommand("BENCH_", "bench"),
    machine: machine(pgVersion, loadAtStart),
    settings: {
      apiProcesses: processes,
      connections: CONNECTIONS,
      fixedRate: RATE,
      durationSeconds: DURATION,
      logLevel: env.BENCH_LOG_LEVEL ?? "info",
      users: seeded.tokens.length,
      subscribedUsers: seeded.subscriptionIds.length,
      pendingChangeUsers: seeded.pendingTokens.length,
      previewRate: PREVIEW_RATE,
      argon2: "19456 KiB, 2 iterations (production default)",
    },
    database: url ? "postgresql" : "pglite",
    endpoints,
    statusBeforeLogins,
    statusDuringLogins,
    ...(e2e ? { webhookEndToEnd: e2e } : {}),
    preview,
    rssPeakMb: Object.values(peaks).map((m) => Math.round(m.rss)),
    pssPeakMb: Object.values(peaks).map((m) => Math.round(m.pss)),
    rssBeforeLoginsMb: Object.values(beforeLogins.app).map((m) => Math.round(m.rss)),
    baselineRssPeakMb: baselinePeaks.map((m) => Math.round(m.rss)),
    baselinePssPeakMb: baselinePeaks.map((m) => Math.round(m.pss)),
    baselineRssBeforeLoginsMb: Object.values(beforeLogins.baseline).map((m) => Math.round(m.rss)),
    rssPeakByPhase,
    notes,
  };
  await writeResults(results);
  log("wrote bench/results.json and bench/RESULTS.md");
}

/**
 * The preview route (an upgrade to the next plan up) at PREVIEW_RATE, and the Stripe calls it
 * makes, made directly with the SDK from this process at the same rate and with the same
 * parameters: the subscription, then the proration invoice and the renewal previewed at once
 * (`previewChange`). Slices alternate between the two (the order flips every slice), as the app
 * and the baseline do elsewhere; the difference is what the route adds to Stripe's round trips.
 */
async function previewRun(app: Server, seeded: Seeded): Promise<PreviewResult> {
  const request = requestFor("preview", seeded, WEBHOOK_SECRET);
  let n = 0;
  const direct = async () => {
    const p = seeded.previews[n++ % seeded.previews.length];
    if (!p) throw new Error("no subscribed user can upgrade");
    const sub = await stripe.subscriptions.retrieve(p.subscriptionId);
    const item = sub.items.data[0];
    if (!item) throw new Error(`subscription ${sub.id} has no item`);
    const items = [{ id: item.id, price: p.priceId, quantity: 1 }];
    const previewWith = (proration_behavior: "always_invoice" | "none") =>
      stripe.invoices.createPreview({
        subscription: sub.id,
        subscription_details: { items, proration_behavior },
      });
    await Promise.all([previewWith("always_invoice"), previewWith("none")]);
  };
  const options = { rate: PREVIEW_RATE, durationSeconds: WARMUP };
  await paced(app.url, request, { ...options, connections: CONNECTIONS });
  await pacedCalls(direct, options);
  const seconds = DURATION / SLICES;
  const route: PreciseRun[] = [];
  const stripeRuns: PreciseRun[] = [];
  let routeCpuMs = 0;
  const sides = [
    async () => {
      const before = await cpuMs(app.proc.pid);
      route.push(
        await withMachine(
          () =>
            paced(app.url, request, {
              rate: PREVIEW_RATE,
              durationSeconds: seconds,
              connections: CONNECTIONS,
            }),
          probe,
        ),
      );
      routeCpuMs += (await cpuMs(app.proc.pid)) - before;
    },
    async () => {
      stripeRuns.push(
        await withMachine(
          () => pacedCalls(direct, { rate: PREVIEW_RATE, durationSeconds: seconds }),
          probe,
        ),
      );
    },
  ];
  for (let i = 0; i < SLICES; i++) {
    for (const side of sliceOrder(sides, i)) await side();
  }
  const routeRun = combine(route);
  if (routeCpuMs > 0 && routeRun.requests > 0) {
    routeRun.cpuUsPerRequest = Math.round((routeCpuMs * 1000) / routeRun.requests);
  }
  return {
    rate: PREVIEW_RATE,
    stripeCalls: "subscriptions.retrieve, then invoices.createPreview twice at once",
    route: routeRun,
    stripe: combine(stripeRuns),
  };
}

async function postgresVersion(): Promise<string> {
  const database = await openBenchDatabase();
  try {
    const [row] = await queryRows<{ v: string }>(
      database.db,
      sql`select current_setting('server_version') as v`,
    );
    return `PostgreSQL ${row?.v ?? "?"}`;
  } finally {
    await database.close();
  }
}

/**
 * Stores E2E_EVENTS events through the API with no worker running, then starts one worker process
 * and takes the rate from the processed timestamps (first to last), so its start-up is not counted.
 */
async function webhookEndToEndRun(appUrl: string, seeded: Seeded) {
  if (!url) return undefined;
  log(`webhook end-to-end: storing ${E2E_EVENTS} events…`);
  await load(appUrl, requestFor("webhook", seeded, WEBHOOK_SECRET), {
    connections: 16,
    durationSeconds: 0,
    amount: E2E_EVENTS,
  });
  const worker = startNode(
    "src/worker.ts",
    { ...appEnv(0), LOG_LEVEL: "warn", WEB_CONCURRENCY: "1" },
    join(logDir, "worker.log"),
  );
  running.push(worker);
  const database = await openBenchDatabase();
  try {
    const deadline = Date.now() + 180_000;
    for (;;) {
      const [row] = await queryRows<{ n: number }>(
        database.db,
        sql`select count(*)::int as n from stripe_events where status in ('pending', 'retrying')`,
      );
      if ((row?.n ?? 1) === 0 || Date.now() > deadline) break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const [stats] = await queryRows<{ n: number; seconds: number; failed: number }>(
      database.db,
      sql`select count(*) filter (where status = 'processed')::int as n,
                 extract(epoch from max(processed_at) - min(processed_at))::float8 as seconds,
                 count(*) filter (where status <> 'processed')::int as failed
          from stripe_events`,
    );
    if (!stats) return undefined;
    const seconds = Math.max(stats.seconds, 0.001);
    return {
      events: stats.n,
      seconds: Math.round(seconds * 10) / 10,
      eventsPerSecond: Math.round((stats.n - 1) / seconds),
      failed: stats.failed,
    };
  } finally {
    await database.close();
    await worker.stop();
  }
}

try {
  await main();
} finally {
  probe?.stop();
  for (const proc of running.reverse()) await proc.stop();
  await emulator.close();
  if (serverUrl) await adminQuery(serverUrl, `drop database if exists ${dbName} with (force)`);
}
