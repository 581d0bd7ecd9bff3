import { readFile } from "node:fs/promises";
import autocannon, { type Request } from "autocannon";
import { signPayload } from "../stripe-emulator/index.ts";
import type { Seeded } from "./seed.ts";

/** One measured run: requests/s and latency percentiles in milliseconds. */
export interface Run {
  rps: number;
  p50: number;
  p99: number;
  /** Answers other than 2xx, plus connection errors and timeouts: should be 0. */
  failures: number;
  requests: number;
}

export interface LoadOptions {
  connections: number;
  durationSeconds: number;
  /** Offered load for the whole run (autocannon's overallRate); unset = as fast as possible. */
  rate?: number;
  /** Stop after this many requests instead of after the duration. */
  amount?: number;
}

export type Endpoint = "status" | "plans" | "profile" | "login" | "webhook";

export const PATHS: Record<Endpoint, string> = {
  status: "/api/subscriptions/status/",
  plans: "/api/subscriptions/plans/",
  profile: "/api/auth/profile/",
  login: "/api/auth/login/",
  webhook: "/api/webhooks/stripe/",
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
  // Status reads the full path (user, subscription, plan) only for subscribed users.
  const tokens =
    endpoint === "status" ? seeded.tokens.slice(0, seeded.subscriptionIds.length) : seeded.tokens;
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
    ...(options.rate ? { overallRate: options.rate } : {}),
    timeout: 10,
  };
}

export async function load(url: string, request: Request, options: LoadOptions): Promise<Run> {
  const result = await autocannon(autocannonOptions(url, request, options));
  return {
    rps: Math.round(result.requests.average),
    p50: result.latency.p50,
    p99: result.latency.p99,
    failures: result.non2xx + result.errors + result.timeouts,
    requests: result.requests.total,
  };
}

/** A run of `loadPrecise`: also every 2xx response's time in milliseconds, sorted. */
export interface PreciseRun extends Run {
  times: number[];
}

/** The q-quantile (0..1) of sorted values, to 0.01. */
export function quantile(sorted: number[], q: number): number {
  const v = sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? 0;
  return Math.round(v * 100) / 100;
}

/**
 * As `load`, but p50/p99 come from every 2xx response's own time in fractional milliseconds:
 * autocannon's histogram counts whole milliseconds, too coarse to tell whether a 2 ms latency
 * stayed within 25 %. For the moderate fixed rates of `bench:growth`; rps and failures as `load`.
 */
export async function loadPrecise(
  url: string,
  request: Request,
  options: LoadOptions,
): Promise<PreciseRun> {
  const times: number[] = [];
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(autocannonOptions(url, request, options), (err, res) =>
      err ? reject(err) : resolve(res),
    );
    instance.on("response", (_client, status, _bytes, ms) => {
      if (status >= 200 && status < 300) times.push(ms);
    });
  });
  times.sort((a, b) => a - b);
  return {
    rps: Math.round(result.requests.average),
    p50: quantile(times, 0.5),
    p99: quantile(times, 0.99),
    failures: result.non2xx + result.errors + result.timeouts,
    requests: result.requests.total,
    times,
  };
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

async function childrenOf(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, "utf8");
    return text.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * Samples the RSS and PSS of the API processes (the cluster primary's children) every 250 ms and
 * keeps each one's peaks. Linux only (/proc); elsewhere it reports nothing.
 */
export function sampleRss(primaryPid: number): { stop(): Promise<Record<number, Memory>> } {
  const peaks: Record<number, Memory> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const pid of await childrenOf(primaryPid)) {
        const now = await memoryOf(pid);
        if (!now) continue;
        const peak = peaks[pid] ?? { rss: 0, pss: 0 };
        peaks[pid] = { rss: Math.max(peak.rss, now.rss), pss: Math.max(peak.pss, now.pss) };
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peaks;
    },
  };
}
