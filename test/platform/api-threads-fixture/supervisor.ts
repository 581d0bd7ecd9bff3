import { superviseApiThreads } from "../../../src/platform/api-threads.ts";
import { lineLog } from "../../../src/platform/line-log.ts";

// Two fixture threads (thread.ts) under the supervisor src/main.ts uses for WEB_CONCURRENCY.
await superviseApiThreads(lineLog({ LOG_LEVEL: "info" }), {
  threads: 2,
  entry: new URL("./thread.ts", import.meta.url),
  shutdownTimeoutSeconds: 5,
  prepare: async () => {},
});
