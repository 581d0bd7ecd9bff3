import { readFileSync } from "node:fs";

let known: ReadonlySet<string> | undefined;

/**
 * Every name a webhook endpoint's `enabled_events` may hold: `*` and each event type of the pinned
 * SDK's `WebhookEndpointCreateParams.EnabledEvent`, which is Stripe's own list for this API
 * version. It exists only as a type, so it is read from the SDK's declaration file, once, on first
 * use; a file without it is an error rather than an emulator that accepts any name.
 */
export function enabledEventNames(): ReadonlySet<string> {
  if (known) return known;
  const file = new URL("./resources/WebhookEndpoints.d.ts", import.meta.resolve("stripe"));
  const union = /namespace WebhookEndpointCreateParams \{\s*type EnabledEvent = ([^;]+);/.exec(
    readFileSync(file, "utf8"),
  );
  if (!union?.[1]) throw new Error(`WebhookEndpointCreateParams.EnabledEvent not found in ${file}`);
  known = new Set([...union[1].matchAll(/'([^']+)'/g)].flatMap((m) => (m[1] ? [m[1]] : [])));
  return known;
}
