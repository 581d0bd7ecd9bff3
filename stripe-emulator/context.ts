import type Stripe from "stripe";
import { type State, wire } from "./store.ts";

export interface EngineConfig {
  /** Days after the first failure at which Stripe retries a renewal payment (Smart Retries-like). */
  retryDays: number[];
  /** What happens to a subscription when the last retry fails (Dashboard setting). */
  afterFinalFailure: "cancel" | "unpaid" | "past_due";
  /** Days before a renewal that `invoice.upcoming` is sent. */
  upcomingDays: number;
}

export const DEFAULT_ENGINE_CONFIG: EngineConfig = {
  retryDays: [3, 5, 7],
  afterFinalFailure: "cancel",
  upcomingDays: 7,
};

export interface EmitOptions {
  previous?: Record<string, unknown>;
  /** The time domain (test clock) the event belongs to. */
  customerId?: string | null;
}

/** Everything billing logic needs: state, time, event emission. Built once per emulator. */
export interface Ctx {
  state: State;
  config: EngineConfig;
  /** Base URL of the emulator, for hosted invoice, checkout and portal pages. */
  baseUrl(): string;
  /** Unix seconds in the customer's time domain: its test clock, else the global clock. */
  now(customerId?: string | null): number;
  emit(type: Stripe.Event.Type, object: object, opts?: EmitOptions): void;
  /** The API request being served, recorded on events; null for automatic actions. */
  request: Stripe.Event.Request | null;
}

export const API_VERSION = "2026-10-28.endive";

export function testClockOf(state: State, customerId: string | null | undefined): string | null {
  if (!customerId) return null;
  const c = state.customers[customerId];
  const clock = c?.test_clock;
  if (typeof clock === "string") return clock;
  return clock?.id ?? null;
}

export function clockNow(
  state: State,
  wallMs: () => number,
  customerId: string | null | undefined,
): number {
  const clockId = testClockOf(state, customerId);
  const clock = clockId ? state.testClocks[clockId] : undefined;
  if (clock) return clock.frozen_time;
  return Math.floor(wallMs() / 1000) + state.clockOffsetSeconds;
}

/**
 * Runs `body` holding back the events it emits, then lets `lead` emit first. Stripe sends
 * `customer.subscription.created` (showing the state the creation ended in) before the invoice
 * and payment events the creation caused, though it does not guarantee that order.
 */
export function emitFirst<T>(ctx: Ctx, body: () => T, lead: (result: T) => void): T {
  const held: [Stripe.Event.Type, object, EmitOptions][] = [];
  const emit = ctx.emit;
  ctx.emit = (type, object, opts = {}) => {
    const previous = opts.previous ? wire(opts.previous) : undefined;
    held.push([type, wire(object), { ...opts, ...(previous ? { previous } : {}) }]);
  };
  const release = () => {
    ctx.emit = emit;
    for (const [type, object, opts] of held.splice(0)) emit(type, object, opts);
  };
  let result: T;
  try {
    result = body();
  } catch (err) {
    release();
    throw err;
  }
  ctx.emit = emit;
  lead(result);
  release();
  return result;
}
