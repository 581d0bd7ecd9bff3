import { Type } from "typebox";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import { EventStore, receiveEvent } from "./webhook-service.ts";
import type { EventSource } from "./webhook-source.ts";

const Received = Type.Object({
  received: Type.Boolean(),
  duplicate: Type.Boolean({ description: "True when this event id was already stored." }),
});

/**
 * POST /api/webhooks/<source>/. The signature covers the exact bytes the sender sent, so this route
 * (and only this one: it lives in its own encapsulated scope) takes the body as a raw Buffer,
 * whatever its content type.
 */
export async function registerWebhookRoutes(
  app: App,
  deps: AppDeps,
  source: EventSource,
): Promise<void> {
  const intake = {
    store: new EventStore({ db: deps.database.db, jobs: deps.jobs }),
    signatureHeader: source.signatureHeader,
    verifier: source.verifier(deps),
  };
  // Node lowercases the names of incoming headers.
  const header = source.signatureHeader.toLowerCase();
  const { docs } = source;
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
      done(null, body);
    });
    scope.post(
      `/api/webhooks/${source.name}/`,
      {
        schema: {
          tags: ["webhooks"],
          operationId: `webhooks_${source.name}`,
          summary: docs.summary,
          description: docs.description,
          headers: Type.Object({
            [header]: Type.Optional(Type.String({ description: docs.signature })),
          }),
          response: {
            200: described(docs.accepted, Received),
            ...errorResponses(
              failures.any,
              failures.rawBody,
              [businessFailure(400, docs.rejected), businessFailure(503, docs.unavailable)],
              failures.database,
            ),
          },
        },
        config: { documentedBody: docs.body },
      },
      async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const { duplicate, type } = await receiveEvent(intake, raw, request.headers[header]);
        deps.metrics.webhookEvents.inc({ type, outcome: duplicate ? "duplicate" : "received" });
        return { received: true, duplicate };
      },
    );
  });
}
