import { Type } from "typebox";
import { ErrorMessage } from "../accounts/index.ts";
import type { AppDeps } from "../platform/feature.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import { EventStore, receiveEvent } from "./webhook-service.ts";

const Received = Type.Object({
  received: Type.Boolean(),
  duplicate: Type.Boolean({ description: "True when this event id was already stored." }),
});

/**
 * POST /api/webhooks/stripe/. The signature covers the exact bytes Stripe sent, so this route
 * (and only this one: it lives in its own encapsulated scope) takes the body as a raw Buffer,
 * whatever its content type.
 */
export async function registerWebhookRoutes(app: App, deps: AppDeps): Promise<void> {
  const intake = {
    store: new EventStore({ db: deps.database.db, jobs: deps.jobs }),
    stripe: deps.stripe.stripe,
    webhookSecret: deps.stripe.webhookSecret,
  };
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => {
      done(null, body);
    });
    scope.post(
      "/api/webhooks/stripe/",
      {
        schema: {
          tags: ["webhooks"],
          operationId: "webhooks_stripe",
          summary:
            "Stripe event intake: verified over the raw body, stored once, processed in the background. 200 for every genuine event, including types we ignore and redeliveries.",
          headers: Type.Object({ "stripe-signature": Type.Optional(Type.String()) }),
          response: {
            200: described(
              "Genuine: stored once (`duplicate: true` for a redelivery); Stripe stops retrying.",
              Received,
            ),
            400: ErrorMessage,
          },
        },
      },
      async (request) => {
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const { duplicate, type } = await receiveEvent(
          intake,
          raw,
          request.headers["stripe-signature"],
        );
        deps.metrics.webhookEvents.inc({ type, outcome: duplicate ? "duplicate" : "received" });
        return { received: true, duplicate };
      },
    );
  });
}
