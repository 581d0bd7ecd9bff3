import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStripeEmulator } from "../stripe-emulator/index.ts";
import { type Endpoint, load, requestFor } from "./load.ts";
import { apiEnv, freePort, type Proc, ROOT, startNode, waitReady } from "./processes.ts";
import { adminQuery, databaseUrl, SECRET_KEY, type Seeded, seedDatabase } from "./seed.ts";

/**
 * `npm run bench:tier -- [git ref]`: the whole API tier's memory as deployed (`src/main.ts`,
 * WEB_CONCURRENCY=2, WORKER=off, PostgreSQL, the heap flags and compile cache of `npm start`),
 * beside the original's 203 MiB (gunicorn's master 29 + 2 × 87 MiB, measured with two workers on
 * this machine kind): one process of two API threads, or, for a commit from before them, a cluster
 * primary and its two API processes. It samples RSS and PSS of each of the tier's processes every
 * 250 ms: at rest once started, at peak under the bench's load (each read route and
 * webhook intake at saturation, 32 connections, TIER_SECONDS each, then logins with 8 connections)
 * and at rest again after it. With a git ref, that commit is measured the same way first (one
 * after the other: memory moves far less with the machine's load than time does). See
 * bench/README.md.
 */
const env = process.env;
const [ref] = process.argv.slice(2);
const SECONDS = Number(env.TIER_SECONDS ?? 8);
const ORIGINAL_MIB = 203;
const WEBHOOK_SECRET = "whsec_bench_tier";
const LOAD: Endpoint[] = ["status", "status-pending", "access", "plans", "profile", "webhook"];

if (!env.DATABASE_URL) {
  process.stderr.write("usage: DATABASE_URL=postgres://… npm run bench:tier -- [git ref]\n");
  process.exit(2);
}
const serverUrl = env.DATABASE_URL;

/** MiB of one process, or of the tier when summed. */
interface Memory {
  rss: number;
  pss: number;
}

interface TierResult {
  label: string;
  /** Per process, primary first: at rest after start, peak under load, at rest after it. */
  processes: { role: string; rest: Memory; peak: Memory; after: Memory }[];
  /** The tier's sums: at rest, the highest sum of one sample under load, at rest after it. */
  tier: { rest: Memory; peak: Memory; after: Memory };
}

async function memoryOf(pid: number): Promise<Memory | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1]);
    return { rss: kb("Rss") / 1024, pss: kb("Pss") / 1024 };
  } catch {
    return undefined;
  }
}

async function tierPids(primary: number): Promise<number[]> {
  const text = await readFile(`/proc/${primary}/task/${primary}/children`, "utf8").catch(() => "");
  return [primary, ...text.split(/\s+/).filter(Boolean).map(Number)];
}

/** One sample of every process of the tier: pid → memory. */
async function sample(primary: number): Promise<Map<number, Memory>> {
  const out = new Map<number, Memory>();
  for (const pid of await tierPids(primary)) {
    const memory = await memoryOf(pid);
    if (memory) out.set(pid, memory);
  }
  return out;
}

const sum = (memories: Iterable<Memory>): Memory => {
  const total = { rss: 0, pss: 0 };
  for (const m of memories) {
    total.rss += m.rss;
    total.pss += m.pss;
  }
  return total;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function measure(
  label: string,
  root: string,
  url: string,
  seeded: Seeded,
  stripeApiBase: string,
  dir: string,
): Promise<TierResult> {
  const port = await freePort();
  const logFile = join(dir, `${label}.log`);
  const options = {
    port,
    database: { DATABASE_URL: url },
    processes: 2,
    secretKey: SECRET_KEY,
    stripeApiBase,
    webhookSecret: WEBHOOK_SECRET,
  };
  const startApi = async (): Promise<Proc> => {
    // Migrations at start as deployed (MIGRATE_ON_START's default): the database is migrated
    // already, so they apply nothing, but a primary that ran them in its own process kept what
    // it loaded for them.
    const proc = startNode("src/main.ts", apiEnv(options), logFile, root);
    await waitReady(proc, logFile, /Server listening/, 2, `http://127.0.0.1:${port}/readyz`);
    return proc;
  };
  // Started and stopped once first: the measured processes start with Node's compile cache warm,
  // as every start after a deployment's first does (`npm run bench` does the same).
  await (await startApi()).stop();
  const proc = await startApi();
  try {
    await sleep(3000);
    const rest = await sample(proc.pid);
    const peaks = new Map<number, Memory>();
    let tierPeak: Memory = { rss: 0, pss: 0 };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await sample(proc.pid);
        for (const [pid, m] of now) {
          const p = peaks.get(pid) ?? { rss: 0, pss: 0 };
          peaks.set(pid, { rss: Math.max(p.rss, m.rss), pss: Math.max(p.pss, m.pss) });
        }
        const total = sum(now.values());
        tierPeak = {
          rss: Math.max(tierPeak.rss, total.rss),
          pss: Math.max(tierPeak.pss, total.pss),
        };
        await sleep(250);
      }
    })();
    const base = `http://127.0.0.1:${port}`;
    // A tree whose requests fail does less and looks lighter: every run's answers must be 2xx.
    const run = async (endpoint: Endpoint, connections: number) => {
      process.stderr.write(`${label}: ${endpoint}…`);
      const result = await load(base, requestFor(endpoint, seeded, WEBHOOK_SECRET), {
        connections,
        durationSeconds: SECONDS,
      });
      process.stderr.write(` ${result.rps} req/s, ${result.failures} failed\n`);
      if (result.failures > 0)
        throw new Error(`${label}: ${endpoint} had ${result.failures} failed requests`);
    };
    for (const endpoint of LOAD) await run(endpoint, 32);
    await run("login", 8);
    sampling = false;
    await sampler;
    await sleep(5000);
    const after = await sample(proc.pid);
    const pids = [...rest.keys()];
    return {
      label,
      processes: pids.map((pid, i) => ({
        role:
          pids.length === 1 ? "API process, 2 threads" : i === 0 ? "primary" : `API process ${i}`,
        rest: rest.get(pid) ?? { rss: 0, pss: 0 },
        peak: peaks.get(pid) ?? { rss: 0, pss: 0 },
        after: after.get(pid) ?? { rss: 0, pss: 0 },
      })),
      tier: { rest: sum(rest.values()), peak: tierPeak, after: sum(after.values()) },
    };
  } finally {
    await proc.stop();
  }
}

const mib = (m: Memory) => `${Math.round(m.rss)} (${Math.round(m.pss)})`;

function table(result: TierResult): string {
  const rows = result.processes.map(
    (p) => `| ${p.role} | ${mib(p.rest)} | ${mib(p.peak)} | ${mib(p.after)} |`,
  );
  const { rest, peak, after } = result.tier;
  return [
    `${result.label}: MiB RSS (PSS)`,
    "",
    "| process | at rest | peak under load | at rest after |",
    "|---|---|---|---|",
    ...rows,
    `| **tier** | ${mib(rest)} | ${mib(peak)} | ${mib(after)} |`,
    "",
    `Tier peak RSS ${Math.round(peak.rss)} MiB = ${(peak.rss / ORIGINAL_MIB).toFixed(2)} × the original's ${ORIGINAL_MIB} MiB (target ≤ 1.5 ×: ${Math.round(ORIGINAL_MIB * 1.5)} MiB); at rest ${Math.round(rest.rss)} MiB = ${(rest.rss / ORIGINAL_MIB).toFixed(2)} ×.`,
    "",
  ].join("\n");
}

const dir = await mkdtemp(join(tmpdir(), "billing-tier-"));
const dbName = `bench_tier_${randomBytes(4).toString("hex")}`;
const url = databaseUrl(serverUrl, dbName);
await adminQuery(serverUrl, `create database ${dbName}`);
const emulator = await startStripeEmulator({ port: 0 });
const treeA = join(dir, "tree");
try {
  const seeded = await seedDatabase(url, emulator.url, {
    userCount: 500,
    subscribed: 100,
    pending: 50,
    plans: 5,
  });
  const results: TierResult[] = [];
  if (ref) {
    execFileSync("git", ["worktree", "add", "--detach", treeA, ref], {
      cwd: ROOT,
      stdio: "ignore",
    });
    await symlink(join(ROOT, "node_modules"), join(treeA, "node_modules"));
    results.push(await measure(ref, treeA, url, seeded, emulator.url, dir));
  }
  results.push(await measure("this tree", ROOT, url, seeded, emulator.url, dir));
  process.stdout.write(`\n${results.map(table).join("\n")}`);
} finally {
  await emulator.close();
  await adminQuery(serverUrl, `drop database if exists ${dbName} with (force)`);
  if (ref)
    execFileSync("git", ["worktree", "remove", "--force", treeA], { cwd: ROOT, stdio: "ignore" });
  await rm(dir, { recursive: true, force: true });
}
