import type Stripe from "stripe";

// How the app reaches Stripe, as every layer sees it. Opening it (keys, the in-process emulator)
// is billing's (src/billing/stripe-client.ts); the composition types below the features only
// carry it.

/** The emulator's programmatic controls, as far as the app uses them (tests use more). */
export interface EmbeddedEmulator {
  readonly url: string;
  addWebhookEndpoint(hook: { url: string; secret?: string; description?: string }): string;
  advanceTime(seconds: number): Promise<void>;
  idle(): Promise<void>;
  close(): Promise<void>;
}

/** How the app reaches Stripe: the SDK client, and the in-process emulator when there is one. */
export interface StripeDeps {
  stripe: Stripe;
  /** The secret webhooks are verified with. */
  webhookSecret: string | undefined;
  emulator: EmbeddedEmulator | undefined;
}
