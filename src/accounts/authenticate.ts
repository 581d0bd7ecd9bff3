import type { FastifyRequest } from "fastify";
import type { Config } from "../config.ts";
import type { Database } from "../platform/db/client.ts";
import { type AppError, detailError } from "../platform/http/errors.ts";
import { getSignedInUser, type User } from "./accounts-service.ts";
import { verifyToken } from "./tokens.ts";

/** The signed-in caller, as routes see it: the user row as loaded for this request. */
export type AuthUser = User;

declare module "fastify" {
  interface FastifyRequest {
    /** Set by `authenticate`; null on routes without it. */
    user: AuthUser | null;
  }
}

const NOT_PROVIDED = "Authentication credentials were not provided.";

function tokenError(message: string): AppError {
  return detailError("token_not_valid", message);
}

/**
 * The hook for authenticated routes: `Authorization: Bearer <access token>`, as simplejwt read it.
 * The user is loaded on every request, so a deactivated or deleted account, or an ended session,
 * is locked out at once rather than when its access token expires. Use it as `preValidation` on routes with a body (DRF
 * authenticates before it validates: an anonymous caller gets 401, not field errors) or as
 * `preHandler`.
 */
export function authenticate(deps: {
  config: Pick<Config, "SECRET_KEY">;
  database: Database;
}): (request: FastifyRequest) => Promise<void> {
  return async (request) => {
    const header = request.headers.authorization;
    const parts = typeof header === "string" ? header.split(" ") : [];
    // Another scheme (Basic, …) or no header: this authenticator has nothing to say.
    if (parts[0] !== "Bearer") throw detailError("unauthenticated", NOT_PROVIDED);
    if (parts.length !== 2 || !parts[1]) {
      throw tokenError("Authorization header must contain two space-delimited values");
    }
    const claims = await verifyToken(deps.config, parts[1], "access");
    if (!claims) throw tokenError("Given token not valid for any token type");
    const user = await getSignedInUser(deps.database.db, claims.user_id, claims.sid ?? null);
    if (!user) throw tokenError("User not found");
    if (!user.isActive) throw tokenError("User is inactive");
    if (user.sessionEnded) throw tokenError("Session has ended");
    const { sessionEnded: _, ...row } = user;
    request.user = row;
  };
}

/** The caller on a route guarded by `authenticate`. */
export function requireUser(request: FastifyRequest): AuthUser {
  if (!request.user) throw detailError("unauthenticated", NOT_PROVIDED);
  return request.user;
}
