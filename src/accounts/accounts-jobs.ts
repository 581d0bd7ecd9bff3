import { Type } from "typebox";
import type { Database } from "../platform/db/client.ts";
import { defineJob } from "../platform/jobs/definitions.ts";
import type { Logger } from "../platform/logging.ts";
import { purgeExpiredAccountTokens } from "./account-tokens.ts";
import { purgeExpiredRefreshTokens } from "./token-service.ts";

/**
 * Hourly: deletes refresh-token rows past their expiry so the blacklist does not grow forever, and
 * emailed-link tokens a week past theirs (account-tokens.ts).
 * Safe to run twice or concurrently: it deletes by a time condition.
 */
export const purgeExpiredTokensJob = defineJob({
  name: "accounts.purge-expired-tokens",
  payload: Type.Object({}),
  schedule: "17 * * * *",
  retry: { limit: 1, delaySeconds: 300, backoff: false },
  async handler(_payload, deps: { database: Database; logger: Logger }) {
    const purged = await purgeExpiredRefreshTokens(deps.database.db);
    if (purged > 0) deps.logger.info({ purged }, "expired refresh tokens purged");
    const links = await purgeExpiredAccountTokens(deps.database.db);
    if (links > 0) deps.logger.info({ purged: links }, "expired emailed-link tokens purged");
  },
});
