import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStripeEmulator } from "../stripe-emulator/index.ts";
import { type Endpoint, load, PATHS, requestFor } from "./load.ts";
import { apiEnv, freePort, type Proc, ROOT, startNode, waitReady } from "./processes.ts";
import { adminQuery, databaseUrl, SECRET_KEY, seedDatabase } from "./seed.ts";

/**
 * `npm run bench:profile -- [cpu|alloc|threads] <endpoint…>`: where one API process and one
 * baseline process spend their CPU at saturation (32 connections, PROFILE_SECONDS, default 8, after
 * a 2 s warm-up), the two one after the other on one seeded PostgreSQL database (DATABASE_URL).
 * Per endpoint it prints each side's CPU per request by thread (`/proc/PID/task/*`: the main
 * thread, V8's garbage-collection workers, libuv's pool), user and system apart. With `cpu` it also
 * profiles the load window only (bench/profile-hook.ts) and prints self time per request by
 * package; with `alloc`, bytes allocated per request by package, collected objects included. The
 * profiles stay in the printed directory for Chrome DevTools. docs/performance.md, 'CPU per
 * request, issue 26', is what it found first.
 */
const env = process.env;
const args = process.argv.slice(2);
const mode = ["cpu", "alloc", "threads"].includes(args[0] ?? "") ? (args.shift() as string) : "cpu";
const endpoints = (args.length > 0 ? args : ["status"]) as Endpoint[];
const SECONDS = Number(env.PROFILE_SECONDS ?? 8);
const WEBHOOK_SECRET = "whsec_bench_profile";

if (!env.DATABASE_URL) {
  process.stderr.write(
    "usage: DATABASE_URL=postgres://… npm run bench:profile -- [cpu|alloc|threads] <endpoint…>\n",
  );
  process.exit(2);
}
for (const e of endpoints) {
  if (!(e in PATHS)) throw new Error(`unknown endpoint ${e} (one of ${Object.keys(PATHS)})`);
}

/** CPU ticks (user, system) of each thread of `pid`, by thread name; threads that ended are gone. */
function threadTicks(pid: number): Map<string, [number, number]> {
  const ticks = new Map<string, [number, number]>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, "utf8");
    } catch {
      continue;
    }
    const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks.set(`${name}#${tid}`, [Number(fields[11]), Number(fields[12])]);
  }
  return ticks;
}

/** µs per request by thread name, [user, system], between two readings (100 ticks a second). */
function perRequest(
  before: Map<string, [number, number]>,
  after: Map<string, [number, number]>,
  requests: number,
) {
  const byName = new Map<string, [number, number]>();
  for (const [key, [user, system]] of after) {
    const [user0, system0] = before.get(key) ?? [0, 0];
    const name = key.slice(0, key.lastIndexOf("#"));
    const sum = byName.get(name) ?? [0, 0];
    sum[0] += ((user - user0) * 10_000) / requests;
    sum[1] += ((system - system0) * 10_000) / requests;
    byName.set(name, sum);
  }
  return byName;
}

/** The package or file a profile node belongs to. */
function categoryOf(url: string, functionName: string): string {
  if (!url) return functionName || "(native)";
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg?.[1]) return pkg[1];
  if (url.startsWith("node:")) return url;
  const inRepo = url.indexOf("/src/");
  return inRepo >= 0 ? url.slice(inRepo + 1) : (url.split("/").at(-1) ?? url);
}

interface CallFrame {
  url: string;
  functionName: string;
}

/** Self time (cpu) or bytes (alloc) per request, by category, largest first. */
async function summarize(file: string, requests: number): Promise<[string, number][]> {
  const profile = JSON.parse(await readFile(file, "utf8"));
  const totals = new Map<string, number>();
  const add = (frame: CallFrame, amount: number) => {
    const key = categoryOf(frame.url, frame.functionName);
    totals.set(key, (totals.get(key) ?? 0) + amount / requests);
  };
  if (mode === "cpu") {
    const nodes = new Map<number, CallFrame>(
      profile.nodes.map((n: { id: number; callFrame: CallFrame }) => [n.id, n.callFrame]),
    );
    profile.samples.forEach((id: number, i: number) => {
      const frame = nodes.get(id);
      if (frame) add(frame, profile.timeDeltas[i] ?? 0);
    });
  } else {
    type Node = { callFrame: CallFrame; selfSize: number; children?: Node[] };
    const walk = (node: Node) => {
      add(node.callFrame, node.selfSize);
      for (const child of node.children ?? []) walk(child);
    };
    walk(profile.head);
  }
  return [...totals].sort((a, b) => b[1] - a[1]);
}

async function waitForFile(dir: string, prefix: string): Promise<string> {
  for (let i = 0; i < 200; i++) {
    const found = readdirSync(dir).find((f) => f.startsWith(prefix));
    if (found) {
      const file = join(dir, found);
      // Written in one call: complete once it parses.
      try {
        JSON.parse(readFileSync(file, "utf8"));
        return file;
      } catch {}
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no ${prefix} profile in ${dir}`);
}

const dir = await mkdtemp(join(tmpdir(), "billing-profile-"));
const dbName = `bench_profile_${randomBytes(4).toString("hex")}`;
const url = databaseUrl(env.DATABASE_URL, dbName);
await adminQuery(env.DATABASE_URL, `create database ${dbName}`);
const emulator = await startStripeEmulator({ port: 0 });
const running: Proc[] = [];
try {
  const seeded = await seedDatabase(url, emulator.url, {
    userCount: 300,
    subscribed: 100,
    pending: 30,
    plans: 5,
  });
  const profiling = mode !== "threads";
  const hook = profiling ? ` --import=${join(ROOT, "bench/profile-hook.ts")}` : "";
  // The sampling heap profiler keeps every sample of the window, collected objects included: with
  // the production cap of 96 MB an API process under load ran out of heap before the profile
  // was written.
  const oldSpace = mode === "alloc" ? 512 : 96;
  const nodeOptions = `--max-semi-space-size=4 --max-old-space-size=${oldSpace} --import=${join(ROOT, "src/platform/module-hooks.ts")}${hook}`;
  const summaries = new Map<string, Map<string, [string, number][]>>();

  for (const side of ["app", "baseline"] as const) {
    const port = await freePort();
    const sideDir = join(dir, side);
    await mkdir(sideDir);
    const logFile = join(sideDir, "server.log");
    const profileEnv = { NODE_OPTIONS: nodeOptions, PROFILE_DIR: sideDir, PROFILE_KIND: mode };
    const proc =
      side === "app"
        ? startNode(
            "src/main.ts",
            {
              ...apiEnv({
                port,
                database: { DATABASE_URL: url },
                processes: 1,
                secretKey: SECRET_KEY,
                stripeApiBase: emulator.url,
                webhookSecret: WEBHOOK_SECRET,
              }),
              MIGRATE_ON_START: "false",
              ...profileEnv,
            },
            logFile,
          )
        : startNode(
            "bench/baseline.ts",
            {
              BASELINE_PORT: String(port),
              DATABASE_URL: url,
              SECRET_KEY,
              WEBHOOK_SECRET,
              WEB_CONCURRENCY: "1",
              ...profileEnv,
            },
            logFile,
          );
    running.push(proc);
    const base = `http://127.0.0.1:${port}`;
    await waitReady(
      proc,
      logFile,
      side === "app" ? /Server listening/ : /listening/,
      1,
      `${base}/readyz`,
    );
    for (const endpoint of endpoints) {
      const request = requestFor(endpoint, seeded, WEBHOOK_SECRET);
      await load(base, request, { connections: 32, durationSeconds: 2 });
      const before = threadTicks(proc.pid);
      if (profiling) proc.child.kill("SIGUSR2");
      const run = await load(base, request, { connections: 32, durationSeconds: SECONDS });
      const after = threadTicks(proc.pid);
      const threads = perRequest(before, after, run.requests);
      const total = [...threads.values()].reduce((sum, [u, s]) => sum + u + s, 0);
      process.stdout.write(
        `\n${endpoint}, ${side}: ${run.rps} req/s, ${Math.round(total)} µs of CPU per request\n` +
          [...threads]
            .filter(([, [u, s]]) => u + s >= 1)
            .map(
              ([name, [u, s]]) =>
                `  ${name.padEnd(16)} user ${Math.round(u)} µs, system ${Math.round(s)} µs\n`,
            )
            .join(""),
      );
      if (profiling) {
        proc.child.kill("SIGUSR2");
        const file = await waitForFile(sideDir, mode);
        const renamed = join(
          sideDir,
          `${endpoint}.${mode === "cpu" ? "cpuprofile" : "heapprofile"}`,
        );
        await rename(file, renamed);
        const bySide = summaries.get(endpoint) ?? new Map();
        bySide.set(side, await summarize(renamed, run.requests));
        summaries.set(endpoint, bySide);
      }
    }
    await proc.stop();
    running.pop();
  }

  const unit = mode === "cpu" ? "µs self time" : "bytes allocated";
  for (const [endpoint, bySide] of summaries) {
    const app = new Map(bySide.get("app") ?? []);
    const baseline = new Map(bySide.get("baseline") ?? []);
    const keys = [...new Set([...app.keys(), ...baseline.keys()])]
      .sort(
        (a, b) =>
          Math.max(app.get(b) ?? 0, baseline.get(b) ?? 0) -
          Math.max(app.get(a) ?? 0, baseline.get(a) ?? 0),
      )
      .slice(0, 30);
    process.stdout.write(`\n${endpoint}: ${unit} per request, app | baseline\n`);
    for (const key of keys) {
      const cell = (m: Map<string, number>) => String(Math.round(m.get(key) ?? 0)).padStart(8);
      process.stdout.write(`  ${key.slice(0, 48).padEnd(48)} ${cell(app)} | ${cell(baseline)}\n`);
    }
  }
  process.stdout.write(`\nprofiles and logs: ${dir}\n`);
} finally {
  for (const proc of running) await proc.stop();
  await emulator.close();
  await adminQuery(env.DATABASE_URL, `drop database if exists ${dbName} with (force)`);
}
