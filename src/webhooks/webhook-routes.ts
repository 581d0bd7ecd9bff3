import { Type } from "typebox";
import type { AppDeps } from "../platform/feature.ts";
import { businessFailure, errorResponses, failures } from "../platform/http/error-schemas.ts";
import { described } from "../platform/http/openapi.ts";
import type { App } from "../platform/http/types.ts";
import { EventStore, receiveEvent } from "./webhook-service.ts";

/**
 * What Stripe sends: an Event. Documented only: the route verifies the signature over the raw
 * bytes, so Fastify neither parses nor validates them.
 */
const StripeEvent = Type.Object(
  {
    id: Type.String({ examples: ["evt_1QfXc6LkdIwHu7ixW0Bq3Yhd"] }),
    object: Type.Literal("event"),
    type: Type.String({ examples: ["invoice.paid"] }),
    created: Type.Integer({ description: "Unix time." }),
    data: Type.Object(
      { object: Type.Object({}, { additionalProperties: true }) },
      { additionalProperties: true },
    ),
  },
  {
    additionalProperties: true,
    description:
      "A Stripe Event as Stripe's webhook delivery sends it, signed in `Stripe-Signature`.",
  },
);

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
          description:
            "Any content type is read as raw bytes; the signature (STRIPE_WEBHOOK_SECRET) is " +
            "checked over them before anything is parsed or stored. Events of types we do not " +
            "handle are stored and acknowledged too, so Stripe does not retry them.",
          headers: Type.Object({
            "stripe-signature": Type.Optional(
              Type.String({
                description: "Stripe's signature of the raw body: `t=<unix time>,v1=<HMAC>`.",
              }),
            ),
          }),
          response: {
            200: described(
              "Genuine: stored once (`duplicate: true` for a redelivery); Stripe stops retrying.",
              Received,
            ),
            ...errorResponses(
              failures.any,
              failures.rawBody,
              [
                businessFailure(
                  400,
                  "No or invalid Stripe-Signature, or a payload that is not an event.",
                ),
                businessFailure(503, "STRIPE_WEBHOOK_SECRET is not configured."),
              ],
              failures.database,
            ),
          },
        },
        config: { documentedBody: StripeEvent },
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
