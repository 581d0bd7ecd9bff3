import type { FastifyRequest } from "fastify";
import { Type } from "typebox";
import type { Config } from "../config.ts";
import { ErrorDetail, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { detailError } from "../platform/http/errors.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import type { AccountsDeps } from "./accounts-service.ts";
import { requireUser } from "./authenticate.ts";
import { listSessions, revokeOtherSessions, revokeSession } from "./sessions.ts";
import { verifyToken } from "./tokens.ts";

const Session = Type.Object(
  {
    id: Type.String({ format: "uuid" }),
    user_agent: Type.String({
      description: "The User-Agent header of the last sign-in or refresh.",
    }),
    ip: Type.String({ description: "The client IP of the last sign-in or refresh." }),
    created_at: Type.String({ format: "date-time" }),
    last_used_at: Type.String({ format: "date-time" }),
    expires_at: Type.String({
      format: "date-time",
      description: "When its refresh token expires unless it is used again.",
    }),
    current: Type.Boolean({ description: "The session of the access token of this request." }),
  },
  { description: "A signed-in device: one refresh-token family." },
);

const SessionList = Type.Object({ results: Type.Array(Session) });

const SessionParams = Type.Object({ id: Type.String() });

const RevokedOthers = Type.Object({ message: Type.String(), revoked: Type.Integer() });

/** No body at all (`type: "null"` is how @fastify/swagger says so). */
export const NoContent = (description: string) =>
  Type.Unsafe<undefined>({ type: "null", description });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The session of the access token this (authenticated) request carries; none for older tokens. */
async function currentSession(
  config: Pick<Config, "SECRET_KEY">,
  request: FastifyRequest,
): Promise<string | undefined> {
  const token = request.headers.authorization?.split(" ")[1];
  return token ? (await verifyToken(config, token, "access"))?.sid : undefined;
}

/** Takes no body: one sent is ignored (it must still be JSON). */
const ignoredBody = {
  optionalBody: true,
  documentedBody: Type.Unknown({ description: "Ignored." }),
};

const notFound = {
  status: 404,
  shape: ErrorDetail,
  when: "No open session of the caller has this id (another user's is the same 404).",
};

/** `/api/auth/sessions/…`: list the caller's sessions, end one, end all the others. */
export function registerSessionRoutes(
  app: App,
  deps: Pick<AccountsDeps, "db" | "config">,
  auth: (request: FastifyRequest) => Promise<void>,
): void {
  const base = { tags: ["auth"], security: [{ bearerAuth: [] }] };

  app.get(
    "/api/auth/sessions/",
    {
      schema: {
        ...base,
        operationId: "auth_sessions_list",
        summary: "The caller's open sessions (signed-in devices), most recently used first.",
        description:
          "Each sign-in opens a session; refreshing keeps it. `current` marks the session of the " +
          "access token sent.",
        response: {
          200: described("The open sessions.", SessionList),
          ...errorResponses(failures.any, failures.auth, failures.database),
        },
      },
      preHandler: auth,
    },
    async (request) => ({
      results: await listSessions(
        deps.db,
        requireUser(request).id,
        await currentSession(deps.config, request),
      ),
    }),
  );

  app.delete(
    "/api/auth/sessions/:id/",
    {
      schema: {
        ...base,
        operationId: "auth_sessions_revoke",
        summary: "End one of the caller's sessions: its refresh token stops working at once.",
        description:
          "Access tokens already issued to it stay valid until they expire (ACCESS_TOKEN_LIFETIME).",
        params: SessionParams,
        response: {
          204: NoContent("Session ended."),
          ...errorResponses(
            failures.any,
            failures.jsonBody,
            failures.auth,
            [notFound],
            failures.database,
          ),
        },
      },
      config: ignoredBody,
      preHandler: auth,
    },
    async (request, reply) => {
      const { id } = request.params;
      // A malformed id names no session: the same 404 as any other.
      if (!UUID.test(id)) throw detailError("not_found", "Not found.");
      await revokeSession(deps.db, requireUser(request).id, id);
      return reply.code(204).send();
    },
  );

  app.post(
    "/api/auth/sessions/revoke-others/",
    {
      schema: {
        ...base,
        operationId: "auth_sessions_revoke_others",
        summary: "End every session of the caller but the current one.",
        description:
          "Sign out everywhere else. Without a current session (an access token issued before " +
          "sessions existed) every session ends.",
        response: {
          200: described("The other sessions ended; `revoked` counts them.", RevokedOthers),
          ...errorResponses(failures.any, failures.jsonBody, failures.auth, failures.database),
        },
      },
      config: ignoredBody,
      preHandler: auth,
    },
    async (request) => {
      const revoked = await revokeOtherSessions(
        deps.db,
        requireUser(request).id,
        await currentSession(deps.config, request),
      );
      return { message: "Other sessions revoked.", revoked };
    },
  );
}
