import { Type } from "typebox";
import type { Config } from "../config.ts";
import type { Database } from "../platform/db/client.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import type { Logger } from "../platform/logging.ts";
import { purgeIdempotencyKeys } from "./admin-idempotency.ts";

/**
 * Hourly: forgets admin Idempotency-Keys older than ADMIN_IDEMPOTENCY_KEY_TTL, so the table holds
 * about a day of admin writes. Safe to run twice or concurrently: it deletes by a time condition.
 */
export const purgeIdempotencyKeysJob = defineJob({
  name: "admin.purge-idempotency-keys",
  payload: Type.Object({}),
  schedule: "23 * * * *",
  retry: { limit: 1, delaySeconds: 300, backoff: false },
  async handler(_payload, deps: { config: Config; database: Database; logger: Logger }) {
    const purged = await purgeIdempotencyKeys(
      deps.database.db,
      deps.config.ADMIN_IDEMPOTENCY_KEY_TTL,
    );
    if (purged > 0) deps.logger.info({ purged }, "admin idempotency keys purged");
  },
});
