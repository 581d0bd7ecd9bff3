import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import { Type } from "typebox";
import { authenticate, requireUser } from "../accounts/index.ts";
import { type AuditContext, withActor } from "../audit/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import {
  type ErrorCase,
  ErrorDetail,
  errorResponses,
  failures,
} from "../platform/http/error-schemas.ts";
import { detailError } from "../platform/http/errors.ts";
import type { Limiter } from "../platform/http/throttle.ts";
import type { App } from "../platform/http/types.ts";
import { claimKey, completeKey, releaseKey, requestFingerprint } from "./admin-idempotency.ts";

// Every route under /api/admin/ is registered in the admin scope (admin-module.ts), whose hooks
// make it staff-only, throttled, audited as the staff user and idempotent under retries, whatever
// module declares it: a route cannot forget any of it.

export const ADMIN_PREFIX = "/api/admin/";
const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const FORBIDDEN = "You do not have permission to perform this action.";

/** The 403 of a signed-in caller who is not staff. */
export const notStaff: ErrorCase = {
  status: 403,
  shape: ErrorDetail,
  when: "The caller is not staff (is_staff or is_superuser).",
};

/** The 409 of an Idempotency-Key sent again with another request, or while its first runs. */
export const idempotencyConflict: ErrorCase = {
  status: 409,
  shape: ErrorDetail,
  when: "The Idempotency-Key was used with a different request, or its first request is still running.",
};

/** The error responses of an admin read: `groups` are the route's own causes. */
export function adminErrors(...groups: ErrorCase[][]) {
  return errorResponses(
    failures.any,
    failures.auth,
    [notStaff],
    failures.throttled,
    failures.database,
    ...groups,
  );
}

/**
 * The error responses of an admin write (POST, PATCH, DELETE): also a body that is not JSON (a
 * body-less write is still parsed when one is sent) and the Idempotency-Key's.
 */
export function adminWriteErrors(...groups: ErrorCase[][]) {
  return adminErrors(failures.jsonBody, failures.fields, [idempotencyConflict], ...groups);
}

/** The header of admin writes; added to every admin write that declares no headers itself. */
export const IdempotencyHeaders = Type.Object({
  "idempotency-key": Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      description:
        "Makes a retry safe: the first answer to this key is stored (ADMIN_IDEMPOTENCY_KEY_TTL) " +
        "and a retry with the same request gets it again (`Idempotent-Replayed: true`) without " +
        "acting twice. The same key on another request is a 409.",
    }),
  ),
});

/** Authenticates, refuses non-staff (403) and counts the request against THROTTLE_ADMIN. */
function staffOnly(deps: AppDeps, limit: Limiter) {
  const auth = authenticate(deps);
  return async (request: FastifyRequest) => {
    await auth(request);
    const user = requireUser(request);
    if (!user.isStaff && !user.isSuperuser) throw detailError("forbidden", FORBIDDEN);
    await limit(request, user.id);
  };
}

type Handler = (this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) => unknown;

/**
 * The handler run as the staff user (every transition it records is audited as `admin`), and,
 * for a write sent with an Idempotency-Key, at most once per key (admin-idempotency.ts). The
 * handler is wrapped rather than a hook entering the context: AsyncLocalStorage reaches what a
 * function calls, and Fastify calls the handler from its own hook chain.
 */
function adminHandler(handler: Handler, deps: AppDeps): Handler {
  const db = deps.database.db;
  return async function (request, reply) {
    const user = requireUser(request);
    const context: AuditContext = {
      actor: { kind: "admin", userId: user.id },
      requestId: request.id,
    };
    const key = request.headers["idempotency-key"];
    if (!WRITES.has(request.method) || typeof key !== "string") {
      return withActor(context, () => handler.call(this, request, reply));
    }
    const claim = {
      staffUserId: user.id,
      key,
      fingerprint: requestFingerprint(request.method, request.url, request.body),
      ttlSeconds: deps.config.ADMIN_IDEMPOTENCY_KEY_TTL,
    };
    const claimed = await claimKey(db, claim);
    if (!claimed.run) {
      reply.code(claimed.statusCode).header("idempotent-replayed", "true");
      return claimed.body;
    }
    let result: unknown;
    try {
      result = await withActor(context, () => handler.call(this, request, reply));
    } catch (err) {
      await releaseKey(db, claim).catch((e: unknown) =>
        request.log.error({ err: e }, "admin: an idempotency key could not be released"),
      );
      throw err;
    }
    if (result === undefined || result === reply) await releaseKey(db, claim);
    else await completeKey(db, claim, reply.statusCode, JSON.parse(JSON.stringify(result)));
    return result;
  };
}

function declared(route: RouteOptions, status: number): boolean {
  const response = (route.schema?.response ?? {}) as Record<string, unknown>;
  return String(status) in response;
}

/**
 * Makes `scope` the admin scope: every route registered in it afterwards is checked (path, tag,
 * declared failures: registration fails loudly otherwise), guarded and wrapped.
 */
export function guardAdminScope(scope: App, deps: AppDeps, limit: Limiter): void {
  scope.addHook("preValidation", staffOnly(deps, limit));
  scope.addHook("onRoute", (route) => {
    const name = `${String(route.method)} ${route.url}`;
    if (!route.url.startsWith(ADMIN_PREFIX)) {
      throw new Error(`admin route ${name} must be under ${ADMIN_PREFIX}`);
    }
    const write = [route.method].flat().some((m) => WRITES.has(m));
    const required = write ? [401, 403, 409, 429] : [401, 403, 429];
    const missing = required.filter((status) => !declared(route, status));
    const docs = (route.schema ?? {}) as { tags?: string[]; description?: string };
    if (missing.length > 0 || !docs.tags?.includes("admin") || !docs.description) {
      throw new Error(
        `admin route ${name} must have the "admin" tag, a description, and declare ` +
          `${missing.join(", ") || "its failures"} (adminErrors / adminWriteErrors in ` +
          "src/admin/staff-guard.ts)",
      );
    }
    if (write && route.schema && !route.schema.headers) route.schema.headers = IdempotencyHeaders;
    route.handler = adminHandler(route.handler as Handler, deps) as RouteOptions["handler"];
  });
}
