import rateLimit from "@fastify/rate-limit";
import type { FastifyRequest } from "fastify";
import type { Rate } from "../../config-parsers.ts";
import { detailError } from "./errors.ts";
import type { App } from "./types.ts";

/** Counts one attempt of `key` and throws the DESIGN §3 429 when it is over its rate. */
export type Limiter = (request: FastifyRequest, key: string) => Promise<void>;

export interface Throttle {
  /** A limiter for one rule; `scope` keeps different rules' counters apart. */
  limiter(scope: string, rate: Rate): Limiter;
}

export interface ThrottleOptions {
  /** Shared counters, so a limit holds across every API instance. Unset: per-process memory. */
  redisUrl?: string | undefined;
  /** Prefix of the counter keys in Redis. */
  namespace?: string;
}

/**
 * Rate limiting on @fastify/rate-limit's stores (memory, or Redis with an atomic Lua counter). We
 * call its limiters ourselves rather than as route hooks: one route checks several rules (per IP and
 * per account, the account known only after parsing or authentication), and the 429 must be our
 * error shape.
 */
export async function registerThrottle(app: App, options: ThrottleOptions): Promise<Throttle> {
  // ioredis (about 2 MB of heap) loads only where a Redis store is configured.
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
  const keys = new WeakMap<FastifyRequest, string>();
  return {
    limiter(scope, rate) {
      const check = app.createRateLimit({
        max: rate.max,
        timeWindow: rate.windowSeconds * 1000,
        keyGenerator: (request) => `${scope}:${keys.get(request) ?? request.ip}`,
      });
      return async (request, key) => {
        keys.set(request, key);
        let result: Awaited<ReturnType<typeof check>>;
        try {
          result = await check(request);
        } catch (err) {
          // A counter store that is down must not take sign-in down with it: allow, and say so.
          request.log.error({ err, scope }, "throttle store unavailable; request allowed");
          return;
        }
        if (!result.isAllowed && result.isExceeded) {
          const wait = Math.max(1, result.ttlInSeconds);
          throw detailError(
            "throttled",
            `Request was throttled. Expected available in ${wait} seconds.`,
            wait,
          );
        }
      };
    },
  };
}
