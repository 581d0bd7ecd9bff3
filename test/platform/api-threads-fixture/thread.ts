import { closeSync, openSync, writeSync } from "node:fs";
import { threadId } from "node:worker_threads";
import { onStopRequest } from "../../../src/platform/api-threads.ts";

// An API thread's stand-in: says it is up, stays up, and drains when asked. The first thread to
// claim the file CRASH_ONCE names then throws an exception nothing catches.
const line = (msg: string) => writeSync(1, `${JSON.stringify({ thread: threadId, msg })}\n`);
line("up");
const keepAlive = setInterval(() => {}, 1000);
onStopRequest((signal) => {
  line(`stopping on ${signal}`);
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
