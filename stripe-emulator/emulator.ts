import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type Stripe from "stripe";
import { advanceDomain } from "./billing/scheduler.ts";
import { type Ctx, clockNow, DEFAULT_ENGINE_CONFIG, type EngineConfig } from "./context.ts";
import { buildEvent } from "./events.ts";
import { idempotencyLockStage, idempotencyStage } from "./idempotency.ts";
import { randomToken } from "./ids.ts";
import { allRoutes } from "./resources/index.ts";
import { testClockRoutes } from "./resources/test-clocks.ts";
import { createEndpoint } from "./resources/webhook-endpoints.ts";
import { Router } from "./router.ts";
import {
  authStage,
  compose,
  type Exchange,
  errorStage,
  httpHandler,
  notFound,
  type Reply,
  type Stage,
} from "./server.ts";
import type { SnapshotWriter } from "./snapshots.ts";
import { emptyState, type State } from "./store.ts";
import { type Logger, WebhookDispatcher } from "./webhooks.ts";

/** An endpoint that survives resets; `description` identifies it across restarts. */
export interface StartEndpoint {
  url: string;
  secret?: string;
  description?: string;
}

export interface EmulatorConfig {
  host: string;
  port: number;
  webhooks: StartEndpoint[];
  /** The state to start from (a saved snapshot); empty without. */
  initialState?: State;
  /** Saves the state after every change. */
  snapshots?: SnapshotWriter;
  now: () => number;
  deliveryRetryDelaysMs: number[];
  logger?: Logger;
  engine: EngineConfig;
  unref?: boolean;
}

/** State, billing context, HTTP server and webhook dispatcher of one emulator instance. */
export class Emulator {
  readonly config: EmulatorConfig;
  state: State;
  readonly ctx: Ctx;
  readonly dispatcher: WebhookDispatcher;
  readonly router = new Router();
  readonly extraStages: Stage[] = [];
  webhookSecrets: string[] = [];
  #server: Server | null = null;
  #url = "";

  constructor(config: EmulatorConfig, controls: Stage) {
    this.config = config;
    this.state = config.initialState ?? emptyState();
    this.dispatcher = new WebhookDispatcher({
      state: () => this.state,
      retryDelaysMs: config.deliveryRetryDelaysMs,
      logger: config.logger,
      unref: config.unref ?? false,
    });
    this.ctx = this.#makeCtx();
    this.router.add(allRoutes);
    this.router.add(testClockRoutes((clock, target) => this.advanceTestClock(clock, target)));
    this.#registerStartEndpoints();
    this.#controls = controls;
  }

  #controls: Stage;
  readonly #idempotencyLock = idempotencyLockStage();

  get url(): string {
    return this.#url;
  }

  #makeCtx(): Ctx {
    const self = this;
    return {
      get state() {
        return self.state;
      },
      config: this.config.engine ?? DEFAULT_ENGINE_CONFIG,
      baseUrl: () => self.#url,
      now: (customerId) => clockNow(self.state, self.config.now, customerId),
      emit: (type, object, opts = {}) => {
        const created = clockNow(self.state, self.config.now, opts.customerId ?? null);
        const event = buildEvent(self.state, type, object, created, self.ctx.request, opts);
        self.state.events[event.id] = event;
        self.dispatcher.enqueue(event);
      },
      request: null,
    };
  }

  /** Start-time endpoints keep their secrets across resets and restarts (snapshot or not). */
  #registerStartEndpoints(): void {
    this.webhookSecrets = [];
    for (const hook of this.config.webhooks) {
      const existing = Object.values(this.state.webhookEndpoints).find((e) => e.url === hook.url);
      const secret =
        hook.secret ?? (existing ? this.state.endpointSecrets[existing.id] : undefined);
      if (existing && secret) {
        this.state.endpointSecrets[existing.id] = secret;
        this.webhookSecrets.push(secret);
        continue;
      }
      const endpoint = createEndpoint(this.ctx, hook.url, ["*"], secret, describe(hook));
      this.webhookSecrets.push(this.state.endpointSecrets[endpoint.id] ?? "");
    }
  }

  /**
   * Registers an endpoint after start, with the standing of a start-time one (kept across resets).
   * A receiver that only knows its URL once it listens (port 0) calls this. An endpoint from an
   * earlier run with the same `description` (or URL) is reused and pointed at `url`, so restarts
   * on a new port do not pile up dead endpoints. Returns the signing secret.
   */
  addStartEndpoint(hook: StartEndpoint): string {
    const existing = Object.values(this.state.webhookEndpoints).find((e) =>
      hook.description ? e.description === hook.description : e.url === hook.url,
    );
    let secret: string;
    if (existing) {
      existing.url = hook.url;
      secret = hook.secret ?? this.state.endpointSecrets[existing.id] ?? `whsec_${randomToken(32)}`;
      this.state.endpointSecrets[existing.id] = secret;
    } else {
      const endpoint = createEndpoint(this.ctx, hook.url, ["*"], hook.secret, describe(hook));
      secret = this.state.endpointSecrets[endpoint.id] ?? "";
    }
    this.config.webhooks.push({ ...hook, secret });
    this.webhookSecrets.push(secret);
    this.persist();
    return secret;
  }

  reset(): void {
    this.dispatcher.reset();
    const keep = this.webhookSecrets;
    this.state = emptyState();
    this.config.webhooks.forEach((hook, i) => {
      createEndpoint(this.ctx, hook.url, ["*"], keep[i] ?? hook.secret, describe(hook));
    });
    this.persist();
  }

  /** Runs whatever fell due on every clock, e.g. after real time passed. */
  tick(): void {
    const globalNow = this.ctx.now(null);
    this.advanceGlobalTo(globalNow);
    for (const clock of Object.values(this.state.testClocks)) {
      advanceDomain(this.ctx, clock.id, clock.frozen_time, clock.frozen_time, (t) => {
        clock.frozen_time = t;
      });
    }
  }

  advanceGlobalTo(target: number): void {
    const from = this.ctx.now(null);
    advanceDomain(this.ctx, null, from, target, (t) => {
      this.state.clockOffsetSeconds += t - this.ctx.now(null);
    });
  }

  advanceTestClock(clock: Stripe.TestHelpers.TestClock, target: number): void {
    advanceDomain(this.ctx, clock.id, clock.frozen_time, target, (t) => {
      clock.frozen_time = t;
    });
  }

  persist(): void {
    this.config.snapshots?.save(JSON.stringify(this.state));
  }

  #api = async (ex: Exchange): Promise<Reply> => {
    const match = this.router.match(ex.method, ex.path);
    if (!match) return notFound(ex);
    this.tick();
    const key = ex.headers["idempotency-key"];
    this.ctx.request = { id: ex.requestId, idempotency_key: typeof key === "string" ? key : null };
    try {
      const body = await match.handler({
        method: ex.method,
        path: ex.path,
        params: ex.params,
        args: match.args,
        ctx: this.ctx,
      });
      return { status: 200, body };
    } finally {
      this.ctx.request = null;
      if (ex.method !== "GET") this.persist();
    }
  };

  pipeline(): (ex: Exchange) => Promise<Reply> {
    const stages: Stage[] = [
      errorStage,
      (ex, next) => this.#controls(ex, next),
      authStage,
      this.#idempotencyLock,
      ...this.extraStages,
      idempotencyStage(
        () => this.state,
        () => this.persist(),
      ),
    ];
    return compose(stages, this.#api);
  }

  async listen(port = this.config.port): Promise<void> {
    const server = createServer(httpHandler(this.pipeline()));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, this.config.host, () => resolve());
    });
    if (this.config.unref) server.unref();
    const addr = server.address() as AddressInfo;
    this.#server = server;
    this.#url = `http://${this.config.host}:${addr.port}`;
  }

  get port(): number {
    return Number(new URL(this.#url).port);
  }

  async close(): Promise<void> {
    this.dispatcher.close();
    const server = this.#server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.config.snapshots?.flushed();
  }
}

function describe(hook: StartEndpoint): { description?: string } {
  return hook.description ? { description: hook.description } : {};
}
