import type { TSchema } from "typebox";
import { AppError } from "../platform/errors.ts";
import type { AppDeps } from "../platform/feature.ts";

// Where the ledger's events come from. The ledger stores, dedupes, retries and replays events; it
// does not know who sends them or how a genuine one is told apart: the feature that owns the
// events injects an `EventSource` (src/features.ts), as it injects their handler.

/**
 * A verified event as the ledger reads it: the source's own envelope, stored whole as the event's
 * payload. `id` is the dedupe key (a redelivery carries the same), `created` the source's Unix
 * time, `api_version` the version of the source's schema the payload was rendered with, for a
 * source that versions its payloads.
 */
export interface IncomingEvent {
  id: string;
  type: string;
  created: number;
  api_version?: string | null;
}

/**
 * A request the source refuses: a missing or wrong signature, a body that is not one of its
 * events. Answered `400 {"error": message}`, and nothing is stored.
 */
export class EventRejected extends AppError {
  constructor(message: string) {
    super("invalid", message);
    this.name = "EventRejected";
  }
}

/**
 * Checks signatures, opened once per app from its dependencies (a secret, an SDK). `unavailable`:
 * no event can be verified now (no secret configured), answered 503 with that message.
 */
export type Verifier =
  | {
      /**
       * The event `signature` vouches for, parsed from the exact bytes it signs; throws
       * `EventRejected` when the signature does not hold or the body is not an event.
       */
      verify(rawBody: Buffer, signature: string): IncomingEvent;
    }
  | { unavailable: string };

/** What the route's OpenAPI operation says about this source. */
export interface EventSourceDocs {
  summary: string;
  description: string;
  /** The signature header's description. */
  signature: string;
  /** The events the source sends. Documented only: the route reads raw bytes. */
  body: TSchema;
  /** What each answer means to the sender: 200, 400 and 503. */
  accepted: string;
  rejected: string;
  unavailable: string;
}

/** A sender of signed events: the route `POST /api/webhooks/<name>/` and how it verifies. */
export interface EventSource {
  /** Names the route (`/api/webhooks/<name>/`) and its operation (`webhooks_<name>`). */
  name: string;
  /** The header carrying the signature, spelled as the sender documents it. */
  signatureHeader: string;
  docs: EventSourceDocs;
  verifier(deps: AppDeps): Verifier;
}
