import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from "fastify";
import { withDefaultActor } from "../audit/index.ts";

/**
 * `preHandler` of billing's routes that change something: what the handler writes is recorded in
 * the audit trail as the signed-in caller's doing, with the request's id (docs/access.md, 'Audit
 * trail'). Only on those routes, so the hot read routes pay nothing; after `authenticate`, which
 * ran in `preValidation`. Callback style: the handler runs inside `done`, so inside the context.
 */
export function actAsCaller(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: HookHandlerDoneFunction,
): void {
  const user = request.user;
  if (user) {
    withDefaultActor({ actor: { kind: "user", userId: user.id }, requestId: request.id }, done);
  } else {
    done();
  }
}
