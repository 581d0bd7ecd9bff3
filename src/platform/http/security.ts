import type { IncomingMessage, ServerResponse } from "node:http";
import cors from "@fastify/cors";
import helmet, { type HelmetOptions } from "helmet";
import type { Config } from "../../config.ts";
import { detailError } from "./errors.ts";
import { PROBES } from "./health.ts";
import { originForm } from "./request-target.ts";
import type { App } from "./types.ts";

/** Django's `host_validation_re`: a name or a bracketed IPv6 address, and an optional port. */
const HOST_SYNTAX = /^([a-z0-9.-]+|\[[a-f0-9]*:[a-f0-9.:]+\])(:\d+)?$/i;

/**
 * Host header check, as Django's ALLOWED_HOSTS: an exact name, a leading-dot suffix
 * (".example.com" matches the domain and its subdomains) or "*". A value that is not a host name
 * is refused first, as Django does: "evil.com/x.example.com" ends with ".example.com", and links
 * built from it would point at evil.com.
 */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  if (!HOST_SYNTAX.test(host)) return false;
  const name = host.replace(/:\d+$/, "").replace(/\.$/, "").toLowerCase();
  return allowed.some((pattern) => {
    const p = pattern.toLowerCase();
    if (p === "*") return true;
    if (p.startsWith(".")) return name === p.slice(1) || name.endsWith(p);
    return name === p;
  });
}

/**
 * The CSP of the pages this app serves itself (the storefront, the admin console): everything from
 * this server, no inline script or style, no frames.
 */
export const SELF_ONLY_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The headers helmet sets for `options`, computed once. Without a CSP nonce none of them depends
 * on the request, and @fastify/helmet rebuilt helmet's middleware chain for every request (with
 * two promises and about a dozen `setHeader` calls on the raw response).
 */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err) => {
    if (err) throw err;
  });
  return headers;
}

/**
 * Security headers (helmet; HSTS only in production, where TLS is certain), CORS from
 * CORS_ALLOWED_ORIGINS (any origin only in development), ALLOWED_HOSTS in production and the
 * optional HTTPS redirect.
 */
export async function registerSecurity(app: App, config: Config): Promise<void> {
  const headers = helmetHeaders({
    // CSP protects HTML; this API serves JSON, and the docs pages set their own policies.
    contentSecurityPolicy: false,
    hsts: config.isProduction ? { maxAge: 31_536_000, includeSubDomains: true } : false,
  });
  // Set when the request arrives, so error answers carry them too.
  app.addHook("onRequest", (_request, reply, done) => {
    reply.headers(headers);
    done();
  });

  const origins = config.CORS_ALLOWED_ORIGINS;
  await app.register(cors, {
    origin: origins.length > 0 ? origins : !config.isProduction,
    credentials: true,
    methods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    exposedHeaders: ["X-Request-Id", "Retry-After"],
    maxAge: 600,
  });

  if (config.isProduction) {
    const allowed = config.ALLOWED_HOSTS;
    app.addHook("onRequest", async (request) => {
      if (PROBES.has(request.url)) return;
      if (!hostAllowed(request.host, allowed)) {
        throw detailError("invalid", "Invalid HTTP_HOST header.");
      }
    });
  }

  if (config.SECURE_SSL_REDIRECT) {
    app.addHook("onRequest", async (request, reply) => {
      if (request.protocol === "https" || PROBES.has(request.url)) return;
      return reply.redirect(`https://${request.host}${originForm(request.url)}`, 301);
    });
  }
}
