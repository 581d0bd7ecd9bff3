import { performance } from "node:perf_hooks";

/**
 * An idle process that only watches a 1 ms timer of its own (bench/load.ts `startStallProbe`).
 * Nothing here waits for the servers under test, so when this timer is late by tens of
 * milliseconds, the machine kept every process waiting, and a stall the servers showed at the same
 * moment was not theirs. Asked by its parent, it answers its worst lateness since the last question.
 */
let worst = 0;
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  worst = Math.max(worst, now - last - 1);
  last = now;
}, 1);
process.on("message", () => {
  process.send?.(Math.round(worst * 10) / 10);
  worst = 0;
});
process.on("disconnect", () => process.exit(0));
