import { DEFAULT_ENGINE_CONFIG, type EngineConfig } from "./context.ts";
import { type Controls, controlsStage, makeControls } from "./controls.ts";
import { Emulator } from "./emulator.ts";
import type { Stage } from "./server.ts";
import {
  fileSnapshotStore,
  parseSnapshot,
  type SnapshotStore,
  SnapshotWriter,
} from "./snapshots.ts";

export type { EngineConfig } from "./context.ts";
export type { SnapshotStore } from "./snapshots.ts";
export { signPayload } from "./webhooks.ts";

export interface StripeEmulatorOptions {
  /** 0 = ephemeral (default 0). */
  port?: number;
  /** When `port` is taken, listen on a free port instead of failing (default false). */
  orFreePort?: boolean;
  /** Default "127.0.0.1". */
  host?: string;
  /** Endpoints registered at start; a missing secret defaults to a generated `whsec_…`. */
  webhooks?: { url: string; secret?: string; description?: string }[];
  /** State is loaded from it at start if present and written after every mutating request. */
  snapshotFile?: string;
  /** Like `snapshotFile`, kept elsewhere (takes precedence over it). */
  snapshot?: SnapshotStore;
  /** Wall clock in ms (default Date.now); the global clock offset is added on top. */
  now?: () => number;
  /** Backoff for failed webhook deliveries (default 1 s, 5 s, 30 s, 2 min, 10 min). */
  deliveryRetryDelaysMs?: number[];
  logger?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Dunning and reminder settings (Stripe's Dashboard settings). */
  billing?: Partial<EngineConfig>;
  /** Extra request pipeline stages, run after authentication (e.g. fault injection). */
  stages?: Stage[];
  /**
   * Embedded in another server: the emulator's socket and timers do not keep the process alive
   * on their own (the host's server does). Default false.
   */
  unref?: boolean;
}

export interface StripeEmulator extends Controls {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: "http";
  readonly webhookSecrets: string[];
  /**
   * Adds an endpoint after start that behaves like a start-time one (survives `reset()`); one
   * from an earlier run with the same `description` is reused. Returns its signing secret.
   */
  addWebhookEndpoint(hook: { url: string; secret?: string; description?: string }): string;
  close(): Promise<void>;
}

export async function startStripeEmulator(
  options: StripeEmulatorOptions = {},
): Promise<StripeEmulator> {
  const host = options.host ?? "127.0.0.1";
  const store =
    options.snapshot ??
    (options.snapshotFile ? fileSnapshotStore(options.snapshotFile) : undefined);
  const saved = await store?.load();
  const logger = options.logger;
  let controls: Controls | null = null;
  const emulator: Emulator = new Emulator(
    {
      host,
      port: options.port ?? 0,
      webhooks: options.webhooks ?? [],
      ...(saved === undefined ? {} : { initialState: parseSnapshot(saved) }),
      ...(store
        ? {
            snapshots: new SnapshotWriter(store, (err) =>
              logger?.warn({ err }, "Stripe emulator: saving its state failed"),
            ),
          }
        : {}),
      now: options.now ?? Date.now,
      deliveryRetryDelaysMs: options.deliveryRetryDelaysMs ?? [
        1_000, 5_000, 30_000, 120_000, 600_000,
      ],
      logger,
      engine: { ...DEFAULT_ENGINE_CONFIG, ...options.billing },
      unref: options.unref ?? false,
    },
    (ex, next) => {
      if (!controls) return next();
      return controlsStage(emulator, controls)(ex, next);
    },
  );
  emulator.extraStages.push(...(options.stages ?? []));
  controls = makeControls(emulator);
  try {
    await emulator.listen();
  } catch (err) {
    if (!options.orFreePort || (err as NodeJS.ErrnoException).code !== "EADDRINUSE") throw err;
    await emulator.listen(0);
  }
  emulator.persist();
  const c = controls;
  return {
    ...c,
    get url() {
      return emulator.url;
    },
    host,
    get port() {
      return emulator.port;
    },
    protocol: "http",
    get webhookSecrets() {
      return [...emulator.webhookSecrets];
    },
    addWebhookEndpoint: (hook) => emulator.addStartEndpoint(hook),
    close: () => emulator.close(),
  };
}
