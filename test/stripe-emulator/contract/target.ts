import { setTimeout as delay } from "node:timers/promises";
import Stripe from "stripe";
import type { StripeEmulatorOptions } from "../../../stripe-emulator/index.ts";
import { type Harness, harness } from "../helpers.ts";

/**
 * Where a contract test runs: the emulator (the default, in `npm test`) or Stripe's own test mode
 * (`npm run test:stripe-contract` with `STRIPE_CONTRACT_KEY`, see stripe-emulator/README.md,
 * 'Running the contract suite against Stripe'). A test written against a target uses only the
 * SDK, plain HTTP and what the target offers here, so one body checks both.
 */
export type TargetName = "emulator" | "stripe";

/** The API version every request is sent with; the assertions are written for this one. */
export const CONTRACT_API_VERSION = "2026-10-28.endive";

/** Read once: which target this test process runs against (run.ts sets it for Stripe). */
export const TARGET: TargetName =
  process.env.STRIPE_CONTRACT_TARGET === "stripe" ? "stripe" : "emulator";

export interface ContractTarget {
  readonly name: TargetName;
  readonly stripe: Stripe;
  /** Base URL of the API (`https://api.stripe.com` or the emulator's), for plain HTTP calls. */
  readonly baseUrl: string;
  readonly apiKey: string;
  /** An SDK client for the same target with another key (for authentication refusals). */
  client(key: string): Stripe;
  /** The emulator's harness; throws on Stripe, where a test using it is marked `emulatorOnly`. */
  emulator(): Harness;
  /** Between tests: the emulator drops its state; Stripe keeps it (tests make their own objects). */
  reset(): Promise<void>;
  close(): Promise<void>;
  /**
   * The events matching `match` since this target was opened, oldest first. Stripe writes events
   * asynchronously, so this polls `events.list` until `until` holds (default: at least one event)
   * or the deadline passes, and answers what it found either way: the assertions then say what
   * was missing.
   */
  events(match: (e: Stripe.Event) => boolean, options?: EventWait): Promise<Stripe.Event[]>;
  /** The events whose `data.object` is `id` (or belongs to customer `id`), oldest first. */
  eventsAbout(id: string, options?: EventWait): Promise<Stripe.Event[]>;
}

export interface EventWait {
  type?: string;
  until?: (events: Stripe.Event[]) => boolean;
}

/** `test(name, emulatorOnly("why"), fn)`: skipped on Stripe, with the reason in the report. */
export function emulatorOnly(reason: string): { skip: string | false } {
  return { skip: TARGET === "stripe" ? `emulator only: ${reason}` : false };
}

export async function contractTarget(options: StripeEmulatorOptions = {}): Promise<ContractTarget> {
  return TARGET === "stripe" ? stripeTarget() : emulatorTarget(options);
}

async function emulatorTarget(options: StripeEmulatorOptions): Promise<ContractTarget> {
  const h = await harness(options);
  const since = await emulatorNow(h.emulator.url);
  const client = (key: string) =>
    new Stripe(key, {
      host: h.emulator.host,
      port: h.emulator.port,
      protocol: "http",
      apiVersion: CONTRACT_API_VERSION,
      maxNetworkRetries: 0,
    });
  const events = eventReader(h.stripe, since, 0);
  return {
    name: "emulator",
    stripe: h.stripe,
    baseUrl: h.emulator.url,
    apiKey: "sk_test_emulator",
    client,
    emulator: () => h,
    reset: () => h.reset(),
    close: () => h.close(),
    ...events,
  };
}

/** The emulator's clock at start: events are filtered from it, as on Stripe from the wall clock. */
async function emulatorNow(url: string): Promise<number> {
  const res = await fetch(`${url}/_emulator/now`);
  return ((await res.json()) as { now: number }).now;
}

/**
 * Stripe's test mode. `STRIPE_CONTRACT_API_BASE` points it elsewhere (a standalone emulator on
 * loopback), which runs this target's own code path (no reset, no controls, polled events)
 * without a Stripe account.
 */
function stripeTarget(): ContractTarget {
  const apiKey = process.env.STRIPE_CONTRACT_KEY ?? "";
  // A live key would bill real cards: refuse anything but a test-mode secret or restricted key.
  if (!/^(sk|rk)_test_\w+/.test(apiKey)) {
    throw new Error("STRIPE_CONTRACT_KEY must be a test-mode key (sk_test_… or rk_test_…)");
  }
  const base = new URL(process.env.STRIPE_CONTRACT_API_BASE || "https://api.stripe.com");
  const client = (key: string) =>
    new Stripe(key, {
      host: base.hostname,
      port: base.port || (base.protocol === "http:" ? 80 : 443),
      protocol: base.protocol === "http:" ? "http" : "https",
      apiVersion: CONTRACT_API_VERSION,
      maxNetworkRetries: 2,
    });
  const stripe = client(apiKey);
  // Events of test-clock objects carry the clock's time, which the tests set in the future; a
  // minute of slack covers a local clock slightly ahead of Stripe's.
  const since = Math.floor(Date.now() / 1000) - 60;
  return {
    name: "stripe",
    stripe,
    baseUrl: base.origin,
    apiKey,
    client,
    emulator: () => {
      throw new Error("this test needs the emulator: mark it emulatorOnly");
    },
    reset: async () => {},
    close: async () => {},
    ...eventReader(stripe, since, 30_000),
  };
}

/** How long to wait between two reads of `events.list` on a target that writes them late. */
const EVENT_POLL_MS = 1000;

function eventReader(stripe: Stripe, since: number, waitMs: number) {
  async function read(match: (e: Stripe.Event) => boolean, type?: string) {
    const found: Stripe.Event[] = [];
    const params: Stripe.EventListParams = { limit: 100, created: { gte: since } };
    if (type) params.type = type;
    for await (const e of stripe.events.list(params)) if (match(e)) found.push(e);
    return found.reverse(); // lists are newest first
  }
  async function events(match: (e: Stripe.Event) => boolean, options: EventWait = {}) {
    const until = options.until ?? ((es: Stripe.Event[]) => es.length > 0);
    const deadline = Date.now() + waitMs;
    let found = await read(match, options.type);
    while (!until(found) && Date.now() < deadline) {
      await delay(EVENT_POLL_MS);
      found = await read(match, options.type);
    }
    return found;
  }
  return {
    events,
    eventsAbout: (id: string, options?: EventWait) => events((e) => concerns(e, id), options),
  };
}

function concerns(e: Stripe.Event, id: string): boolean {
  const object = e.data.object as { id?: string; customer?: unknown };
  return object.id === id || object.customer === id;
}
