import type Stripe from "stripe";
import { API_VERSION, type EmitOptions } from "./context.ts";
import { newId } from "./ids.ts";
import { type State, wire } from "./store.ts";

/**
 * `data.previous_attributes`: the old value of every top-level field that changed.
 * Stripe sends whole arrays (and list objects) when anything inside them changed.
 */
export function previousAttributes(
  before: object,
  after: object,
): Record<string, unknown> | undefined {
  const prev: Record<string, unknown> = {};
  const b: Record<string, unknown> = { ...before };
  const a: Record<string, unknown> = { ...after };
  for (const key of new Set([...Object.keys(b), ...Object.keys(a)])) {
    if (JSON.stringify(b[key]) !== JSON.stringify(a[key])) prev[key] = b[key] ?? null;
  }
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
