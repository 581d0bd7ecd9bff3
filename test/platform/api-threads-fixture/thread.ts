import { closeSync, openSync, writeSync } from "node:fs";
import { threadId } from "node:worker_threads";
import { onStopRequest } from "../../../src/platform/api-threads.ts";
import { createLogger } from "../../../src/platform/logging.ts";

// An API thread's stand-in: says it is up, stays up, and drains when asked, saying so through the
// API's buffered logger just before it exits. The first thread to claim the file CRASH_ONCE names
// then throws an exception nothing catches.
writeSync(1, `${JSON.stringify({ thread: threadId, msg: "up" })}\n`);
const logger = createLogger({ LOG_LEVEL: "info", NODE_ENV: "production" });
const keepAlive = setInterval(() => {}, 1000);
onStopRequest((signal) => {
  logger.info(`stopping on ${signal}`);
  clearInterval(keepAlive);
  process.exit(0);
});
const marker = process.env.CRASH_ONCE;
if (marker) {
  let claimed = false;
  try {
    closeSync(openSync(marker, "wx"));
    claimed = true;
  } catch {}
  if (claimed) {
    setImmediate(() => {
      throw new Error("thread fixture crashed");
    });
  }
}
