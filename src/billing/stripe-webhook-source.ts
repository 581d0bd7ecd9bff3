import Stripe from "stripe";
import { Type } from "typebox";
import {
  EventRejected,
  type EventSource,
  type EventStore,
  type IncomingEvent,
  receiveEvent,
  type Verifier,
} from "../webhooks/index.ts";

// Stripe as a sender of webhooks: how the ledger's route tells a genuine Stripe event
// (docs/architecture.md, 'The webhook ledger') and how it documents it.

const SIGNATURE_HEADER = "Stripe-Signature";

/** Stripe's own limit, and the SDK's default: a replayed capture older than this is refused. */
const TOLERANCE_SECONDS = 300;

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

/** What the ledger does not check itself: an Event object carrying the object it is about. */
function isStripeEvent(value: unknown): value is Stripe.Event {
  if (typeof value !== "object" || value === null) return false;
  const e = value as Record<string, unknown>;
  const data = e.data as Record<string, unknown> | undefined;
  return (
    e.object === "event" &&
    typeof data === "object" &&
    data !== null &&
    typeof data.object === "object" &&
    data.object !== null
  );
}

/** Verifies with the SDK and the endpoint's signing secret (STRIPE_WEBHOOK_SECRET). */
export function stripeVerifier(stripe: Stripe, webhookSecret: string | undefined): Verifier {
  if (!webhookSecret) return { unavailable: "Webhook signing secret is not configured." };
  return {
    verify(rawBody, signature): IncomingEvent {
      let event: unknown;
      try {
        event = stripe.webhooks.constructEvent(
          rawBody,
          signature,
          webhookSecret,
          TOLERANCE_SECONDS,
        );
      } catch (err) {
        if (err instanceof Stripe.errors.StripeSignatureVerificationError) {
          throw new EventRejected("Invalid signature.");
        }
        throw new EventRejected("Invalid payload.");
      }
      if (!isStripeEvent(event)) throw new EventRejected("Invalid payload.");
      return event;
    },
  };
}

/** POST /api/webhooks/stripe/: the source billing hands the ledger (src/features.ts). */
export const stripeWebhookSource: EventSource = {
  name: "stripe",
  signatureHeader: SIGNATURE_HEADER,
  verifier: (deps) => stripeVerifier(deps.stripe.stripe, deps.stripe.webhookSecret),
  docs: {
    summary:
      "Stripe event intake: verified over the raw body, stored once, processed in the background. 200 for every genuine event, including types we ignore and redeliveries.",
    description:
      "Any content type is read as raw bytes; the signature (STRIPE_WEBHOOK_SECRET) is " +
      "checked over them before anything is parsed or stored. Events of types we do not " +
      "handle are stored and acknowledged too, so Stripe does not retry them.",
    signature: "Stripe's signature of the raw body: `t=<unix time>,v1=<HMAC>`.",
    body: StripeEvent,
    accepted: "Genuine: stored once (`duplicate: true` for a redelivery); Stripe stops retrying.",
    rejected: "No or invalid Stripe-Signature, or a payload that is not an event.",
    unavailable: "STRIPE_WEBHOOK_SECRET is not configured.",
  },
};

/**
 * Stripe's intake without the HTTP route: verify, then store through the ledger, exactly as
 * POST /api/webhooks/stripe/ does (a test delivers captured events this way).
 */
export function receiveStripeEvent(
  deps: { store: EventStore; stripe: Stripe; webhookSecret: string | undefined },
  rawBody: Buffer,
  signature: string | string[] | undefined,
): Promise<{ duplicate: boolean; type: string }> {
  const verifier = stripeVerifier(deps.stripe, deps.webhookSecret);
  return receiveEvent(
    { store: deps.store, signatureHeader: SIGNATURE_HEADER, verifier },
    rawBody,
    signature,
  );
}
