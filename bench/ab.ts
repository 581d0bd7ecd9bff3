import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startStripeEmulator } from "../stripe-emulator/index.ts";
import {
  cpuMs,
  type Endpoint,
  load,
  PATHS,
  postgresCpuMs,
  requestFor,
  sliceOrder,
} from "./load.ts";
import { apiEnv, freePort, type Proc, ROOT, startNode, waitReady } from "./processes.ts";
import { adminQuery, databaseUrl, SECRET_KEY, seedDatabase } from "./seed.ts";

/**
 * `npm run bench:ab -- <git ref> [endpoint…]`: this working tree (B) against a commit (A), both
 * serving one PostgreSQL database side by side, in alternating saturation slices (the order
 * flipping each slice), so the machine's drift falls on both alike. Per endpoint it prints the
 * medians over the slices of requests/s, the API's CPU per request and PostgreSQL's (every
 * `postgres` process on this machine, over the slice: only one tree is loaded at a time), which
 * move far less with the machine than requests/s do. The database is migrated with this tree's
 * migrations, so A must share B's schema.
 */
const env = process.env;
const [ref, ...named] = process.argv.slice(2);
const ENDPOINTS = named.length > 0 ? named : ["status", "plans", "profile", "webhook"];
const SLICES = Number(env.AB_SLICES ?? 6);
const SLICE_SECONDS = Number(env.AB_SLICE_SECONDS ?? 5);
const WEBHOOK_SECRET = "whsec_bench_ab";

if (!ref || !env.DATABASE_URL) {
  process.stderr.write(
    "usage: DATABASE_URL=postgres://… npm run bench:ab -- <git ref> [status|plans|profile|webhook|login …]\n",
  );
  process.exit(2);
}
for (const e of ENDPOINTS) {
  if (!(e in PATHS)) throw new Error(`unknown endpoint ${e} (one of ${Object.keys(PATHS)})`);
}
const serverUrl = env.DATABASE_URL;

interface Side {
  label: string;
  root: string;
  url: string;
  proc: Proc;
}

interface Slice {
  rps: number;
  appUs: number;
  postgresUs: number | undefined;
}

const median = (values: number[]) =>
  values.length === 0 ? undefined : values.toSorted((a, b) => a - b)[values.length >> 1];

const dir = await mkdtemp(join(tmpdir(), "billing-ab-"));
const treeA = join(dir, "tree");
execFileSync("git", ["worktree", "add", "--detach", treeA, ref], { cwd: ROOT, stdio: "ignore" });
await symlink(join(ROOT, "node_modules"), join(treeA, "node_modules"));
const dbName = `bench_ab_${randomBytes(4).toString("hex")}`;
const url = databaseUrl(serverUrl, dbName);
await adminQuery(serverUrl, `create database ${dbName}`);
const emulator = await startStripeEmulator({ port: 0 });
const running: Proc[] = [];

try {
  const seeded = await seedDatabase(url, emulator.url, {
    userCount: 500,
    subscribed: 100,
    pending: 50,
    plans: 5,
  });

  const start = async (label: string, root: string): Promise<Side> => {
    const port = await freePort();
    const logFile = join(dir, `${label}.log`);
    const proc = startNode(
      "src/main.ts",
      {
        ...apiEnv({
          port,
          database: { DATABASE_URL: url },
          processes: 2,
          secretKey: SECRET_KEY,
          stripeApiBase: emulator.url,
          webhookSecret: WEBHOOK_SECRET,
        }),
        // Migrated once, by this tree: A must not apply or expect migrations of its own.
        MIGRATE_ON_START: "false",
      },
      logFile,
      root,
    );
    running.push(proc);
    const base = `http://127.0.0.1:${port}`;
    await waitReady(proc, logFile, /Server listening/, 2, `${base}/readyz`);
    return { label, root, url: base, proc };
  };
  const sides = [await start("A", treeA), await start("B", ROOT)];

  const rows: string[] = [];
  for (const endpoint of ENDPOINTS as Endpoint[]) {
    const request = requestFor(endpoint, seeded, WEBHOOK_SECRET);
    for (const side of sides)
      await load(side.url, request, { connections: 32, durationSeconds: 2 });
    const slices = new Map<Side, Slice[]>(sides.map((side) => [side, []]));
    for (let i = 0; i < SLICES; i++) {
      for (const side of sliceOrder(sides, i)) {
        const [app0, pg0] = [await cpuMs(side.proc.pid), await postgresCpuMs()];
        const run = await load(side.url, request, {
          connections: 32,
          durationSeconds: SLICE_SECONDS,
        });
        const [app1, pg1] = [await cpuMs(side.proc.pid), await postgresCpuMs()];
        const perRequest = (ms: number) => Math.round((ms * 1000) / Math.max(run.requests, 1));
        slices.get(side)?.push({
          rps: run.rps,
          appUs: perRequest(app1 - app0),
          postgresUs: pg0 === undefined || pg1 === undefined ? undefined : perRequest(pg1 - pg0),
        });
      }
    }
    const [a, b] = sides.map((side) => slices.get(side) ?? []) as [Slice[], Slice[]];
    const cell = (pick: (s: Slice) => number | undefined, unit = "") => {
      const values = (list: Slice[]) => list.flatMap((s) => pick(s) ?? []);
      const [ma, mb] = [median(values(a)), median(values(b))];
      if (ma === undefined || mb === undefined) return "–";
      return `${ma}${unit} → ${mb}${unit} (${mb >= ma ? "+" : ""}${Math.round(((mb - ma) / ma) * 100)} %)`;
    };
    rows.push(
      `| ${endpoint} | ${cell((s) => s.rps)} | ${cell((s) => s.appUs, " µs")} | ${cell((s) => s.postgresUs, " µs")} |`,
    );
    process.stderr.write(`${rows.at(-1)}\n`);
  }
  process.stdout.write(
    [
      "",
      `A = ${ref}, B = this working tree; medians of ${SLICES} slices of ${SLICE_SECONDS} s at saturation (32 connections), two API processes each.`,
      "",
      "| endpoint | requests/s | API CPU per request | PostgreSQL CPU per request |",
      "|---|---|---|---|",
      ...rows,
      "",
    ].join("\n"),
  );
} finally {
  for (const proc of running) await proc.stop();
  await emulator.close();
  await adminQuery(serverUrl, `drop database if exists ${dbName} with (force)`);
  execFileSync("git", ["worktree", "remove", "--force", treeA], { cwd: ROOT, stdio: "ignore" });
  await rm(dir, { recursive: true, force: true });
}
