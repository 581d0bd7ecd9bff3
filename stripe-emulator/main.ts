import { parseArgs } from "node:util";
import { startStripeEmulator } from "./index.ts";

/**
 * Standalone emulator: `npm run stripe-emulator [-- --port 12111 --webhook-url … --webhook-secret …]`.
 * Flags win over STRIPE_EMULATOR_PORT, STRIPE_WEBHOOK_URL, STRIPE_WEBHOOK_SECRET,
 * STRIPE_EMULATOR_SNAPSHOT.
 */
const { values } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string" },
    "webhook-url": { type: "string" },
    "webhook-secret": { type: "string" },
    snapshot: { type: "string" },
  },
});

// The app's `.env` (its STRIPE_WEBHOOK_SECRET, say), when there is one; a variable already set wins.
try {
  process.loadEnvFile(".env");
} catch (err) {
  if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
}
const env = process.env;
const port = Number(values.port ?? env.STRIPE_EMULATOR_PORT ?? 12111);
const webhookUrl = values["webhook-url"] ?? env.STRIPE_WEBHOOK_URL;
const webhookSecret = values["webhook-secret"] ?? env.STRIPE_WEBHOOK_SECRET;
const log = (level: string) => (obj: object, msg?: string) =>
  console.log(JSON.stringify({ level, msg, ...obj }));

const emulator = await startStripeEmulator({
  port,
  host: values.host ?? env.STRIPE_EMULATOR_HOST ?? "127.0.0.1",
  webhooks: webhookUrl ? [{ url: webhookUrl, secret: webhookSecret || undefined }] : [],
  snapshotFile: values.snapshot ?? env.STRIPE_EMULATOR_SNAPSHOT,
  logger: { info: log("info"), warn: log("warn") },
});

console.log(`Stripe emulator listening on ${emulator.url}`);
if (webhookUrl) {
  console.log(`Delivering webhooks to ${webhookUrl} signed with ${emulator.webhookSecrets[0]}`);
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    emulator.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
