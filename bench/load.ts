import { fork } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import autocannon, { type Request } from "autocannon";
import { signPayload } from "../stripe-emulator/index.ts";
import { Connection, requestBytes } from "./connection.ts";
import type { Seeded } from "./seed.ts";

/** One measured run: requests/s and latency percentiles in milliseconds. */
export interface Run {
  rps: number;
  p50: number;
  p99: number;
  /** Answers other than 2xx, plus connection errors and timeouts: should be 0. */
  failures: number;
  requests: number;
  /**
   * CPU time (user + system) the server's processes spent per request over the run, in
   * microseconds. It moves far less with the machine's other work than latency does, though it
   * does depend on the load: at a low rate every request pays its own wakeups and system calls.
   */
  cpuUsPerRequest?: number;
  /**
   * Each slice of a combined run (bench/index.ts cuts every run into slices): its p99, the share
   * of the machine's CPU time the hypervisor took from it (steal) and the idle probe's worst timer
   * lateness (`startStallProbe`), which tell a stall of the machine from one of the server.
   */
  slices?: { p99: number; stealPercent?: number; probeLagMs?: number }[];
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  /** Stop after this many requests instead of after the duration. */
  amount?: number;
}

export type Endpoint =
  | "status"
  | "status-pending"
  | "access"
  | "plans"
  | "profile"
  | "invoices"
  | "history"
  | "login"
  | "webhook"
  | "preview"
  | "admin-users"
  | "admin-subscriptions"
  | "admin-payments"
  | "admin-events"
  | "admin-overview"
  | "admin-jobs"
  | "admin-emails"
  | "admin-plans";

/** The admin lists: the first page, unfiltered, as the one staff user. */
export const ADMIN_ENDPOINTS = [
  "admin-users",
  "admin-subscriptions",
  "admin-payments",
  "admin-events",
  "admin-overview",
  "admin-jobs",
  "admin-emails",
  "admin-plans",
] as const;

export const PATHS: Record<Endpoint, string> = {
  status: "/api/subscriptions/status/",
  /** Status of users with a downgrade scheduled (`pending_change`): the same route. */
  "status-pending": "/api/subscriptions/status/",
  access: "/api/subscriptions/access/",
  plans: "/api/subscriptions/plans/",
  profile: "/api/auth/profile/",
  /** The first page of the user's invoices (seeded for each subscribed user). */
  invoices: "/api/subscriptions/invoices/",
  /** The first page of the user's audit trail (what the production sync code recorded). */
  history: "/api/subscriptions/history/",
  login: "/api/auth/login/",
  webhook: "/api/webhooks/stripe/",
  preview: "/api/subscriptions/change/preview/",
  "admin-users": "/api/admin/users/",
  "admin-subscriptions": "/api/admin/subscriptions/",
  "admin-payments": "/api/admin/payments/",
  "admin-events": "/api/admin/webhooks/events/",
  /** Computed on each request: the business metrics and the failure counts. */
  "admin-overview": "/api/admin/overview/",
  /** Dead-lettered jobs (the seed dead-letters a few "send email" jobs) and the email outbox. */
  "admin-jobs": "/api/admin/jobs/",
  "admin-emails": "/api/admin/jobs/emails/",
  /** Every plan, the inactive ones too. */
  "admin-plans": "/api/admin/plans/",
};

let eventCounter = 0;
const runTag = Date.now().toString(36);

/**
 * A Stripe event as Stripe would send it, correctly signed with the endpoint's secret, with a new
 * id each time (a repeated id would measure the duplicate path only). It names a seeded
 * subscription, so processing it does the production work: read the subscription from Stripe and
 * write the projection.
 */
export function signedEvent(
  subscriptionId: string,
  secret: string,
): { body: string; signature: string } {
  const id = `evt_bench_${runTag}_${++eventCounter}`;
  const body = JSON.stringify({
    id,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    type: "customer.subscription.updated",
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: { object: { id: subscriptionId, object: "subscription" } },
  });
  return { body, signature: signPayload(body, secret, Math.floor(Date.now() / 1000)) };
}

/** The request an endpoint's load is made of; users and events rotate from request to request. */
export function requestFor(endpoint: Endpoint, seeded: Seeded, webhookSecret: string): Request {
  let n = 0;
  const pick = <T>(items: T[]): T => items[n++ % items.length] as T;
  const path = PATHS[endpoint];
  if (endpoint === "login") {
    return {
      method: "POST",
      path,
      setupRequest: (req) => ({
        ...req,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email: pick(seeded.emails), password: seeded.password }),
      }),
    };
  }
  if (endpoint === "webhook") {
    return {
      method: "POST",
      path,
      setupRequest: (req) => {
        const { body, signature } = signedEvent(pick(seeded.subscriptionIds), webhookSecret);
        return {
          ...req,
          headers: { "content-type": "application/json", "stripe-signature": signature },
          body,
        };
      },
    };
  }
  if (endpoint === "preview") {
    // An upgrade to the next plan up: Stripe previews the proration invoice and the renewal.
    return {
      method: "GET",
      path,
      setupRequest: (req) => {
        const { token, planId } = pick(seeded.previews);
        return {
          ...req,
          path: `${path}?plan_id=${planId}`,
          headers: { authorization: `Bearer ${token}` },
        };
      },
    };
  }
  if ((ADMIN_ENDPOINTS as readonly Endpoint[]).includes(endpoint)) {
    const headers = { authorization: `Bearer ${seeded.staffToken}` };
    return { method: "GET", path, setupRequest: (req) => ({ ...req, headers }) };
  }
  // Status and access read the full path (user, subscription, plan) only for subscribed users,
  // and only they have invoices and an audit trail; those of status-pending read their scheduled
  // change as well.
  const tokens =
    endpoint === "status" ||
    endpoint === "access" ||
    endpoint === "invoices" ||
    endpoint === "history"
      ? seeded.tokens.slice(0, seeded.subscriptionIds.length)
      : endpoint === "status-pending"
        ? seeded.pendingTokens
        : seeded.tokens;
  return {
    method: "GET",
    path,
    setupRequest: (req) => ({ ...req, headers: { authorization: `Bearer ${pick(tokens)}` } }),
  };
}

function autocannonOptions(url: string, request: Request, options: LoadOptions) {
  return {
    url,
    connections: options.connections,
    ...(options.amount ? { amount: options.amount } : { duration: options.durationSeconds }),
    requests: [request],
    timeout: 10,
  };
}

/** A run that also kept every response's latency in fractional milliseconds, sorted. */
export interface PreciseRun extends Run {
  times: number[];
  /** How long it ran (autocannon runs for at least a second, whatever it is asked). */
  seconds: number;
  /** See `Run.slices`; set by `withMachine`. */
  stealPercent?: number;
  /** See `Run.slices` and `startStallProbe`: the idle probe's worst timer lateness during the run. */
  probeLagMs?: number;
}

/**
 * autocannon at `options.connections` connections, as fast as they go. Besides autocannon's own
 * figures it keeps each response's latency (`times`), so that runs can be combined (`combine`).
 */
export function load(url: string, request: Request, options: LoadOptions): Promise<PreciseRun> {
  const times: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon(autocannonOptions(url, request, options), (err, result) => {
      if (err) return reject(err);
      times.sort((a, b) => a - b);
      resolve({
        rps: Math.round(result.requests.average),
        p50: result.latency.p50,
        p99: result.latency.p99,
        failures: result.non2xx + result.errors + result.timeouts,
        requests: result.requests.total,
        times,
        seconds: result.duration,
      });
    });
    instance.on("response", (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

/**
 * Runs of one server taken in slices (interleaved with another server's, see bench/index.ts) as
 * one run: requests/s over their time together, percentiles over every response.
 */
export function combine(runs: PreciseRun[]): Run {
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const times = runs.flatMap((r) => r.times).sort((a, b) => a - b);
  const requests = runs.reduce((sum, r) => sum + r.requests, 0);
  return {
    // Each run's own requests/s, weighted by how long it ran.
    rps:
      seconds > 0 ? Math.round(runs.reduce((sum, r) => sum + r.rps * r.seconds, 0) / seconds) : 0,
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    failures: runs.reduce((sum, r) => sum + r.failures, 0),
    requests,
    slices: runs.map((r) => ({
      p99: r.p99,
      ...(r.stealPercent === undefined ? {} : { stealPercent: r.stealPercent }),
      ...(r.probeLagMs === undefined ? {} : { probeLagMs: r.probeLagMs }),
    })),
  };
}

/**
 * The machine's CPU time so far and how much of it the hypervisor took (steal), in clock ticks,
 * from the first line of /proc/stat; undefined where there is none (not Linux).
 */
async function cpuTicks(): Promise<{ steal: number; total: number } | undefined> {
  try {
    const line = (await readFile("/proc/stat", "utf8")).split("\n", 1)[0] ?? "";
    // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is already
    // counted in user and nice.
    const fields = line.split(/\s+/).slice(1, 9).map(Number);
    if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
    return { steal: fields[7] ?? 0, total: fields.reduce((sum, n) => sum + n, 0) };
  } catch {
    return undefined;
  }
}

/** The servers in slice `i`'s order: as given in even slices, reversed in odd ones. */
export const sliceOrder = <T>(items: T[], i: number): T[] =>
  i % 2 === 0 ? items : [...items].reverse();

export interface StallProbe {
  /** The probe's worst timer lateness, in ms, since the last call. */
  worstLag(): Promise<number>;
  stop(): void;
}

/**
 * Starts `stall-probe.ts`, an idle process that watches its own 1 ms timer: its lateness during a
 * slice tells a stall of the whole machine (the probe was late too) from one of the server.
 */
export async function startStallProbe(): Promise<StallProbe> {
  const child = fork(new URL("./stall-probe.ts", import.meta.url), {
    stdio: ["ignore", "ignore", "inherit", "ipc"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("spawn", resolve);
    child.once("error", reject);
  });
  return {
    worstLag: () =>
      new Promise<number>((resolve) => {
        child.once("message", (lag) => resolve(Number(lag)));
        child.send("worst");
      }),
    stop: () => child.disconnect(),
  };
}

/**
 * Runs `run` and records what the machine did meanwhile (see Run.slices): the share of its CPU
 * time the hypervisor took (steal) and, given a probe, the probe's worst timer lateness.
 */
export async function withMachine(
  run: () => Promise<PreciseRun>,
  probe?: StallProbe,
): Promise<PreciseRun> {
  await probe?.worstLag();
  const before = await cpuTicks();
  const result = await run();
  const after = await cpuTicks();
  const probeLagMs = await probe?.worstLag();
  const withLag = probeLagMs === undefined ? result : { ...result, probeLagMs };
  if (!before || !after || after.total <= before.total) return withLag;
  const percent = (100 * (after.steal - before.steal)) / (after.total - before.total);
  return { ...withLag, stealPercent: Math.round(percent * 10) / 10 };
}

/** The q-quantile (0..1) of sorted values, to 0.01. */
export function quantile(sorted: number[], q: number): number {
  const v = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return Math.round(v * 100) / 100;
}

/** A fixed-rate run that started at `start` (performance.now() time) and has just ended. */
function ratedRun(times: number[], failures: number, total: number, start: number): PreciseRun {
  const elapsed = (performance.now() - start) / 1000;
  times.sort((a, b) => a - b);
  return {
    rps: Math.round(times.length / elapsed),
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    failures,
    requests: total,
    times,
    seconds: elapsed,
  };
}

/**
 * Calls `fire(due)` `total` times, the i-th due at start + i / rate: everything due by a timer's
 * tick fires then, so a late timer fires its backlog at once, each counted from when it was due.
 * Resolves with the start (performance.now() time) once the last has fired.
 */
function atRate(total: number, rate: number, fire: (due: number) => void): Promise<number> {
  const interval = 1000 / rate;
  const start = performance.now() + 5;
  let fired = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (fired < total && start + fired * interval <= now) {
        fire(start + fired * interval);
        fired++;
      }
      if (fired < total) {
        setTimeout(tick, Math.max(0, start + fired * interval - performance.now()));
      } else resolve(start);
    };
    setTimeout(tick, 5);
  });
}

/**
 * A truly fixed offered load (wrk2's method): request i is due at start + i / rate, goes out on a
 * free keep-alive connection (or waits for one), and its latency runs from when it was due, not
 * from when it was sent, so a server that falls behind shows as latency instead of as fewer
 * requests (no coordinated omission).
 *
 * autocannon's overallRate cannot measure this. Each connection may send rate / connections
 * requests per second, sends them back to back as the second starts, then waits for the next
 * second: 1,000 req/s arrives as one burst of 1,000 every second, and the p99 measures how long
 * the server takes to drain a burst. A hello-world node:http server on this 2-core machine serves
 * 44,000 req/s and still showed a p99 of 26–52 ms at autocannon's "1,000 req/s".
 */
export async function paced(
  url: string,
  request: Request,
  options: { rate: number; durationSeconds: number; connections: number },
): Promise<PreciseRun> {
  const target = new URL(url);
  const total = Math.round(options.rate * options.durationSeconds);
  const times: number[] = [];
  let failures = 0;
  /** Requests due but not yet sent because every connection was busy, oldest first. */
  const waiting: { due: number | undefined; done: () => void }[] = [];
  const idle: Connection[] = [];
  const sendOn = (connection: Connection, due: number | undefined, done: () => void) => {
    connection.send(requestBytes(target, request), (ok) => {
      if (due !== undefined) {
        if (ok) times.push(performance.now() - due);
        else failures++;
      }
      done();
      const next = waiting.shift();
      if (next) sendOn(connection, next.due, next.done);
      else idle.push(connection);
    });
  };
  /** Sends one request; `due` is when it should have gone out, or undefined for an unmeasured one. */
  const send = (due?: number) =>
    new Promise<void>((resolve) => {
      const connection = idle.pop();
      if (connection) sendOn(connection, due, resolve);
      else waiting.push({ due, done: resolve });
    });
  const connections = await Promise.all(
    Array.from({ length: options.connections }, () => Connection.open(target)),
  );
  idle.push(...connections);
  // Every connection has answered once before the clock starts, as a client's already have:
  // connecting is not what the run measures.
  await Promise.all(connections.map(() => send()));
  const responses: Promise<void>[] = [];
  const start = await atRate(total, options.rate, (due) => responses.push(send(due)));
  await Promise.all(responses);
  const run = ratedRun(times, failures, total, start);
  for (const connection of connections) connection.close();
  return run;
}

/**
 * `call` started at a fixed rate (call i due at start + i / rate), however many are in flight,
 * each one's latency counted from when it was due, as `paced` counts a request's: for work that
 * is not an HTTP request of ours, such as the Stripe SDK's calls the preview route makes.
 */
export async function pacedCalls(
  call: () => Promise<unknown>,
  options: { rate: number; durationSeconds: number },
): Promise<PreciseRun> {
  const total = Math.round(options.rate * options.durationSeconds);
  const times: number[] = [];
  let failures = 0;
  const calls: Promise<void>[] = [];
  const one = (due: number) =>
    call().then(
      () => {
        times.push(performance.now() - due);
      },
      () => {
        failures++;
      },
    );
  const start = await atRate(total, options.rate, (due) => calls.push(one(due)));
  await Promise.all(calls);
  return ratedRun(times, failures, total, start);
}

export interface Memory {
  /** Resident set size, MB: every page the process maps, shared ones included. */
  rss: number;
  /**
   * Proportional set size, MB: shared pages divided among the processes sharing them. The API
   * processes of one host share Node's binary (about 60 MB resident), so PSS is what each one
   * adds to the host's memory.
   */
  pss: number;
}

/** Kernel-reported RSS and PSS of a process (/proc/PID/smaps_rollup). */
async function memoryOf(pid: number): Promise<Memory | undefined> {
  try {
    const rollup = await readFile(`/proc/${pid}/smaps_rollup`, "utf8");
    const kb = (field: string) =>
      Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(rollup)?.[1]);
    const rss = kb("Rss");
    const pss = kb("Pss");
    return Number.isFinite(rss) && Number.isFinite(pss)
      ? { rss: rss / 1024, pss: pss / 1024 }
      : undefined;
  } catch {
    return undefined;
  }
}

/** The server's processes: a cluster primary's children, or the process itself when it has none. */
async function serverPids(pid: number): Promise<number[]> {
  const children = await childrenOf(pid);
  return children.length > 0 ? children : [pid];
}

/**
 * CPU time, in milliseconds, the server's processes (see serverPids) have used so
 * far: utime + stime of /proc/PID/stat, in clock ticks of 10 ms (Linux's USER_HZ on every common
 * architecture). Linux only; elsewhere 0.
 */
export async function cpuMs(serverPid: number): Promise<number> {
  let total = 0;
  for (const pid of await serverPids(serverPid)) total += (await processCpu(pid))?.ms ?? 0;
  return total;
}

/**
 * CPU time, in milliseconds, every PostgreSQL process on this machine has used so far (as
 * `cpuMs`), or undefined when none runs here (a server elsewhere).
 */
export async function postgresCpuMs(): Promise<number | undefined> {
  let total: number | undefined;
  const pids = (await readdir("/proc").catch(() => [])).filter((name) => /^\d+$/.test(name));
  for (const pid of pids) {
    const cpu = await processCpu(Number(pid));
    if (cpu?.command === "postgres") total = (total ?? 0) + cpu.ms;
  }
  return total;
}

/** A process's command name and CPU time (utime + stime) so far, or undefined once it is gone. */
async function processCpu(pid: number): Promise<{ command: string; ms: number } | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses (and may hold spaces); after it, utime is the 14th field
    // of the line and stime the 15th.
    const close = stat.lastIndexOf(")");
    const fields = stat.slice(close + 2).split(" ");
    const command = stat.slice(stat.indexOf("(") + 1, close);
    return { command, ms: (Number(fields[11]) + Number(fields[12])) * 10 };
  } catch {
    return undefined;
  }
}

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Samples the RSS and PSS of the server's processes (see serverPids) every 250 ms and
 * keeps each one's peaks: `peaks()` so far, `stop()` over the whole run. Linux only (/proc);
 * elsewhere it reports nothing.
 */
export function sampleRss(primaryPid: number): {
  peaks(): Record<number, Memory>;
  stop(): Promise<Record<number, Memory>>;
} {
  const peaks: Record<number, Memory> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of await serverPids(primaryPid)) {
        const now = await memoryOf(pid);
        if (!now) continue;
        const peak = peaks[pid] ?? { rss: 0, pss: 0 };
        peaks[pid] = { rss: Math.max(peak.rss, now.rss), pss: Math.max(peak.pss, now.pss) };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    peaks: () => structuredClone(peaks),
    async stop() {
      running = false;
      await loop;
      return peaks;
    },
  };
}
