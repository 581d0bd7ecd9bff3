import { createHmac } from "node:crypto";
import type Stripe from "stripe";
import { listens } from "./events.ts";
import type { State } from "./store.ts";

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/** The `Stripe-Signature` header: HMAC-SHA256 of `${t}.${body}` keyed by the whole `whsec_…`. */
export function signPayload(payload: string, secret: string, timestamp: number): string {
  const v1 = createHmac("sha256", secret).update(`${timestamp}.${payload}`).digest("hex");
  return `t=${timestamp},v1=${v1}`;
}

export interface DispatcherOptions {
  state: () => State;
  retryDelaysMs: number[];
  logger?: Logger;
  timeoutMs?: number;
  /** Retry timers do not keep the process alive (an emulator embedded in another server). */
  unref?: boolean;
}

/**
 * Delivers events to webhook endpoints by real HTTP POSTs. Deliveries to one endpoint go one at
 * a time in creation order (Stripe promises no order; a stable one keeps tests deterministic);
 * a failed delivery is retried later with backoff and does not block the queue.
 */
export class WebhookDispatcher {
  #opts: DispatcherOptions;
  #chains = new Map<string, Promise<void>>();
  #busy = 0;
  #waiters: (() => void)[] = [];
  #timers = new Set<NodeJS.Timeout>();
  #hold = false;
  #held: string[] = [];
  #closed = false;

  constructor(opts: DispatcherOptions) {
    this.#opts = opts;
  }

  enqueue(event: Stripe.EventBase): void {
    if (this.#hold) {
      this.#held.push(event.id);
      return;
    }
    this.#send(event);
  }

  hold(on: boolean): void {
    this.#hold = on;
    if (!on) {
      const released = this.#held;
      this.#held = [];
      for (const id of released) this.#sendId(id);
    }
  }

  heldEvents(): string[] {
    return [...this.#held];
  }

  /**
   * Drops the held events without delivering them: an endpoint that was down (or misconfigured)
   * for as long as Stripe retried, so only the Events API and the objects still tell what happened.
   * Answers the ids dropped, in creation order.
   */
  discardHeld(): string[] {
    const dropped = this.#held;
    this.#held = [];
    return dropped;
  }

  /** Delivers the given events in this order, each after the previous one was answered. */
  async deliver(ids: string[]): Promise<void> {
    for (const id of ids) {
      this.#held = this.#held.filter((h) => h !== id);
      this.#sendId(id);
      await this.idle();
    }
  }

  redeliver(id: string): Promise<void> {
    this.#sendId(id);
    return this.idle();
  }

  idle(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Forget queued work (between tests); in-flight requests finish on their own. */
  reset(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#busy -= this.#timers.size;
    this.#timers.clear();
    this.#held = [];
    this.#settle();
  }

  close(): void {
    this.#closed = true;
    this.reset();
  }

  #sendId(id: string): void {
    const event = this.#opts.state().events[id];
    if (!event) throw new Error(`No such event: ${id}`);
    this.#send(event);
  }

  #send(event: Stripe.EventBase): void {
    const state = this.#opts.state();
    for (const endpoint of Object.values(state.webhookEndpoints)) {
      if (!listens(endpoint, event.type)) continue;
      const secret = state.endpointSecrets[endpoint.id];
      if (!secret) continue;
      this.#queue(endpoint.id, endpoint.url, secret, event, 0);
    }
  }

  #queue(
    endpointId: string,
    url: string,
    secret: string,
    event: Stripe.EventBase,
    attempt: number,
  ) {
    this.#busy++;
    const prev = this.#chains.get(endpointId) ?? Promise.resolve();
    const next = prev.then(() => this.#attempt(endpointId, url, secret, event, attempt));
    this.#chains.set(endpointId, next);
  }

  async #attempt(
    endpointId: string,
    url: string,
    secret: string,
    event: Stripe.EventBase,
    attempt: number,
  ): Promise<void> {
    try {
      if (this.#closed) return;
      const status = await this.#post(url, secret, event);
      if (status >= 200 && status < 300) {
        const stored = this.#opts.state().events[event.id];
        if (stored) stored.pending_webhooks = Math.max(0, stored.pending_webhooks - 1);
        return;
      }
      this.#retryLater(endpointId, url, secret, event, attempt, `status ${status}`);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      this.#retryLater(endpointId, url, secret, event, attempt, reason);
    } finally {
      this.#busy--;
      this.#settle();
    }
  }

  async #post(url: string, secret: string, event: Stripe.EventBase): Promise<number> {
    const payload = JSON.stringify(event, null, 2);
    // Signed with the real wall clock, not emulated time: receivers check the age of `t`.
    const signature = signPayload(payload, secret, Math.floor(Date.now() / 1000));
    const res = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": signature,
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: payload,
      signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 10_000),
    });
    await res.arrayBuffer();
    return res.status;
  }

  #retryLater(
    endpointId: string,
    url: string,
    secret: string,
    event: Stripe.EventBase,
    attempt: number,
    reason: string,
  ): void {
    const delay = this.#opts.retryDelaysMs[attempt];
    const log = { event: event.id, type: event.type, url, attempt: attempt + 1, reason };
    if (delay === undefined || this.#closed) {
      this.#opts.logger?.warn(log, "webhook delivery failed; no retries left");
      return;
    }
    this.#opts.logger?.info({ ...log, retryInMs: delay }, "webhook delivery failed; will retry");
    this.#busy++;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      this.#busy--;
      this.#queue(endpointId, url, secret, event, attempt + 1);
    }, delay);
    if (this.#opts.unref) timer.unref();
    this.#timers.add(timer);
  }

  #settle(): void {
    if (this.#busy !== 0) return;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}
