import type Stripe from "stripe";
import { API_VERSION, type EmitOptions } from "./context.ts";
import { newId } from "./ids.ts";
import { type State, wire } from "./store.ts";

function isHash(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The old values of the keys that differ; a hash on both sides is compared key by key. */
function changedKeys(
  before: Record<string, unknown>,
  after: Record<string, unknown>,
): Record<string, unknown> {
  const prev: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const b = before[key];
    const a = after[key];
    if (JSON.stringify(b) === JSON.stringify(a)) continue;
    prev[key] = isHash(b) && isHash(a) ? changedKeys(b, a) : (b ?? null);
  }
  return prev;
}

/**
 * `data.previous_attributes`: the old value of every changed field. Inside a nested hash only
 * the changed keys appear (`{invoice_settings: {default_payment_method: null}}`, a list object
 * as `{items: {data: […]}}`); an array that changed at all is given whole, as Stripe documents.
 */
export function previousAttributes(
  before: object,
  after: object,
): Record<string, unknown> | undefined {
  const prev = changedKeys({ ...before }, { ...after });
  return Object.keys(prev).length > 0 ? prev : undefined;
}

export function buildEvent(
  state: State,
  type: Stripe.Event.Type,
  object: object,
  created: number,
  request: Stripe.Event.Request | null,
  opts: EmitOptions,
): Stripe.EventBase {
  const endpoints = Object.values(state.webhookEndpoints).filter((e) => listens(e, type));
  const data: Stripe.Event.Data = { object: wire(object) };
  if (opts.previous) data.previous_attributes = wire(opts.previous);
  const event: Stripe.EventBase = {
    id: newId("evt"),
    object: "event",
    api_version: API_VERSION,
    created,
    data,
    livemode: false,
    pending_webhooks: endpoints.length,
    request: request ?? { id: null, idempotency_key: null },
    type,
  };
  return event;
}

export function listens(endpoint: Stripe.WebhookEndpoint, type: string): boolean {
  if (endpoint.status !== "enabled") return false;
  return endpoint.enabled_events.includes("*") || endpoint.enabled_events.includes(type);
}
