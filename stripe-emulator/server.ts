import type { IncomingMessage, ServerResponse } from "node:http";
import qs from "qs";
import { errorBody, StripeApiError, unknownPath } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Params } from "./params.ts";

/** One HTTP exchange as the pipeline sees it. */
export interface Exchange {
  method: string;
  path: string;
  query: string;
  headers: IncomingMessage["headers"];
  rawBody: string;
  requestId: string;
  params: Params;
}

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  /** Already serialized body (idempotent replays, HTML pages). */
  raw?: string;
  contentType?: string;
}

export type Next = () => Promise<Reply>;
/**
 * A pipeline stage: answer itself or call `next`. Stages are composed in order, so behaviour
 * such as fault injection (errors, latency on chosen calls) is one more stage in the list.
 */
export type Stage = (ex: Exchange, next: Next) => Promise<Reply>;

export function compose(stages: Stage[], last: (ex: Exchange) => Promise<Reply>) {
  return (ex: Exchange): Promise<Reply> => {
    const run = (i: number): Promise<Reply> => {
      const stage = stages[i];
      if (!stage) return last(ex);
      return stage(ex, () => run(i + 1));
    };
    return run(0);
  };
}

/** Errors become Stripe's error body; anything unexpected is a 500 `api_error`. */
export const errorStage: Stage = async (ex, next) => {
  try {
    return await next();
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const failure =
      err instanceof StripeApiError
        ? err
        : new StripeApiError(500, {
            type: "api_error",
            message: `Emulator error on ${ex.method} ${ex.path}: ${message}`,
          });
    const api = ex.path.startsWith("/v1/");
    return {
      status: failure.status,
      body: { error: api ? errorBody(failure, ex.requestId) : failure.body },
    };
  }
};

/**
 * Every `/v1` call needs a test-mode key, like Stripe's test mode: `Authorization: Bearer sk_test_…`
 * (the SDK) or HTTP Basic with the key as user name (`curl -u sk_test_…:`, as Stripe's docs show).
 */
export const authStage: Stage = async (ex, next) => {
  if (!ex.path.startsWith("/v1/")) return next();
  const key = apiKeyOf(ex.headers.authorization ?? "");
  if (!key) {
    throw new StripeApiError(401, {
      type: "invalid_request_error",
      message:
        "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
    });
  }
  const testMode = /^(sk|rk)_test_\S+$/.test(key);
  if (!testMode) {
    const liveNote = /^(sk|rk)_live_/.test(key)
      ? " The emulator accepts test-mode keys (sk_test_…) only."
      : "";
    throw new StripeApiError(401, {
      type: "invalid_request_error",
      message: `Invalid API Key provided: ${masked(key)}${liveNote}`,
    });
  }
  return next();
};

/** Stripe shows a refused key's prefix and last four characters only. */
function masked(key: string): string {
  if (key.length <= 12) return key;
  return `${key.slice(0, 8)}${"*".repeat(key.length - 12)}${key.slice(-4)}`;
}

function apiKeyOf(auth: string): string {
  if (auth.startsWith("Bearer ")) return auth.slice(7).trim();
  if (auth.startsWith("Basic ")) {
    const decoded = Buffer.from(auth.slice(6).trim(), "base64").toString("utf8");
    return decoded.split(":")[0]?.trim() ?? "";
  }
  return "";
}

export function notFound(ex: Exchange): Promise<Reply> {
  throw unknownPath(ex.method, ex.path);
}

export function parseParams(method: string, query: string, body: string): Params {
  const source = method === "POST" ? body : query;
  return qs.parse(source, { depth: 10, arrayLimit: 1000, parameterLimit: 10_000 });
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString("utf8");
}

export function httpHandler(pipeline: (ex: Exchange) => Promise<Reply>) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://emulator");
    const method = req.method ?? "GET";
    const rawBody = await readBody(req);
    const requestId = `req_${newId("x").slice(2, 16)}`;
    let reply: Reply;
    try {
      const params = parseParams(method, url.search.slice(1), rawBody);
      const ex: Exchange = {
        method,
        path: url.pathname,
        query: url.search.slice(1),
        headers: req.headers,
        rawBody,
        requestId,
        params,
      };
      reply = await pipeline(ex);
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      reply = { status: 500, body: { error: { type: "api_error", message } } };
    }
    const body = reply.raw ?? JSON.stringify(reply.body, null, 2);
    res.writeHead(reply.status, {
      "content-type": reply.contentType ?? "application/json",
      "request-id": requestId,
      "stripe-version": "2026-10-28.endive",
      ...reply.headers,
    });
    res.end(body);
  };
}
