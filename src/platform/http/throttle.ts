import { isIPv6 } from "node:net";
import rateLimit from "@fastify/rate-limit";
import type { FastifyRequest } from "fastify";
import type { Rate } from "../../config-parsers.ts";
import { type AppError, detailError } from "./errors.ts";
import type { App } from "./types.ts";

/** Counts one attempt of `key` and throws the 429 of 'The error model' when it is over its rate. */
export type Limiter = (request: FastifyRequest, key: string) => Promise<void>;

/** Where a key stands in its rate's current window. */
export interface Tally {
  /** Events counted in the current window; 0 when none. */
  count: number;
  /** Seconds until the window ends (0 when there is none). */
  resetsIn: number;
}

/**
 * A counter without a verdict, for rules that count some outcomes only (failed logins) and decide
 * from several counters. A store that is down reads and counts as 0, and is logged: a broken
 * counter store must not take sign-in down with it.
 */
export interface Counter {
  /** The key's tally, without counting. */
  peek(request: FastifyRequest, key: string): Promise<Tally>;
  /** Counts one event of `key`; returns the tally including it. */
  hit(request: FastifyRequest, key: string): Promise<Tally>;
}

export interface Throttle {
  /** A limiter for one rule; `scope` keeps different rules' counters apart. */
  limiter(scope: string, rate: Rate): Limiter;
  /** A counter whose windows last `windowSeconds`; limits on it are the caller's to apply. */
  counter(scope: string, windowSeconds: number): Counter;
}

export interface ThrottleOptions {
  /** Shared counters, so a limit holds across every API instance. Unset: per-process memory. */
  redisUrl?: string | undefined;
  /** Prefix of the counter keys in Redis. */
  namespace?: string;
}

/** The 429 with `Retry-After` (docs/architecture.md, 'The error model'). */
export function throttled(seconds: number): AppError {
  const wait = Math.max(1, Math.ceil(seconds));
  return detailError(
    "throttled",
    `Request was throttled. Expected available in ${wait} seconds.`,
    wait,
  );
}

/** The 16-bit groups of an IPv6 address, "::" expanded (an embedded IPv4 tail counts as two). */
function ipv6Groups(ip: string): string[] {
  const [head = "", tail] = ip.split("::");
  const split = (part: string) =>
    part === "" ? [] : part.split(":").flatMap((g) => (g.includes(".") ? ["0", "0"] : [g]));
  const groups = split(head);
  if (tail === undefined) return groups;
  const rest = split(tail);
  return [
    ...groups,
    ...Array<string>(Math.max(0, 8 - groups.length - rest.length)).fill("0"),
    ...rest,
  ];
}

/**
 * The client a limit counts. An IPv4 address is itself; an IPv6 client is its /64, the block one
 * subscriber is handed (RFC 6177), so rotating through its own addresses does not make it a new
 * client. IPv4-mapped IPv6 is the IPv4 address.
 */
export function clientKey(ip: string): string {
  if (!isIPv6(ip)) return ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped?.[1]) return mapped[1];
  const prefix = ipv6Groups(ip)
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16));
  return `${prefix.join(":")}::/64`;
}

/** @fastify/rate-limit's store (and its Redis connection), once per app. */
async function registerStore(app: App, options: ThrottleOptions): Promise<void> {
  // ioredis, and its heap, load only where a Redis store is configured.
  const redis = options.redisUrl
    ? new (await import("ioredis")).Redis(options.redisUrl, {
        maxRetriesPerRequest: 1,
        connectTimeout: 2000,
      })
    : undefined;
  if (redis) {
    redis.on("error", (err) => app.log.warn({ err }, "throttle redis error"));
    app.addHook("onClose", async () => {
      await redis.quit().catch(() => redis.disconnect());
    });
  }
  await app.register(rateLimit, {
    global: false,
    // Enough memory-store entries that rotating through many keys cannot evict a counter early.
    cache: 100_000,
    ...(redis ? { redis, nameSpace: options.namespace ?? "throttle:" } : {}),
  });
}

/**
 * Rate limiting on @fastify/rate-limit's stores (memory, or Redis with an atomic Lua counter). We
 * call its limiters ourselves rather than as route hooks: one route checks several rules (per IP and
 * per account, the account known only after parsing or authentication), and the 429 must be our
 * error shape.
 */
export async function registerThrottle(app: App, options: ThrottleOptions): Promise<Throttle> {
  // Several features throttle: the first to ask registers the store, the others share it (one
  // Redis connection per process; scopes keep their counters apart).
  if (!app.hasDecorator("createRateLimit")) await registerStore(app, options);
  // The store asks the key generator for the key synchronously on each call: callers set it just
  // before and call one counter at a time.
  const keys = new WeakMap<FastifyRequest, string>();
  const store = (scope: string, max: number, windowSeconds: number) => {
    const check = app.createRateLimit({
      max,
      timeWindow: windowSeconds * 1000,
      keyGenerator: (request) => `${scope}:${keys.get(request) ?? clientKey(request.ip)}`,
    });
    return async (request: FastifyRequest, key: string, increment: boolean) => {
      keys.set(request, key);
      try {
        return await check(request, { increment });
      } catch (err) {
        request.log.error({ err, scope }, "throttle store unavailable; request allowed");
        return undefined;
      }
    };
  };
  return {
    limiter(scope, rate) {
      const count = store(scope, rate.max, rate.windowSeconds);
      return async (request, key) => {
        const result = await count(request, key, true);
        if (result && !result.isAllowed && result.isExceeded) throw throttled(result.ttlInSeconds);
      };
    },
    counter(scope, windowSeconds) {
      // No limit in the store: with the largest max, `max - remaining` is the exact count.
      const count = store(scope, Number.MAX_SAFE_INTEGER, windowSeconds);
      const tally = async (request: FastifyRequest, key: string, increment: boolean) => {
        const result = await count(request, key, increment);
        if (!result || result.isAllowed) return { count: 0, resetsIn: 0 };
        return { count: result.max - result.remaining, resetsIn: result.ttlInSeconds };
      };
      return {
        peek: (request, key) => tally(request, key, false),
        hit: (request, key) => tally(request, key, true),
      };
    },
  };
}
