import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";

/**
 * Loaded with `--import` into the process `bench/profile.ts` measures: SIGUSR2 starts a profile
 * and the next SIGUSR2 writes it to PROFILE_DIR, so only the load window is in it (start-up and
 * warm-up are not). PROFILE_KIND `cpu`: V8's sampling CPU profiler at 100 µs; `alloc`: the sampling
 * heap profiler counting objects already collected too, i.e. everything allocated (its default
 * reports only what is still alive).
 */
const dir = process.env.PROFILE_DIR ?? ".";
const kind = process.env.PROFILE_KIND === "alloc" ? "alloc" : "cpu";
const session = new Session();
session.connect();
let running = false;

process.on("SIGUSR2", async () => {
  if (!running) {
    running = true;
    if (kind === "cpu") {
      await session.post("Profiler.enable");
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
    } else {
      await session.post("HeapProfiler.startSampling", {
        samplingInterval: 1024,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    return;
  }
  running = false;
  const { profile } =
    kind === "cpu"
      ? await session.post("Profiler.stop")
      : await session.post("HeapProfiler.stopSampling");
  const file = join(dir, `${kind}-${process.pid}.${kind === "cpu" ? "cpuprofile" : "heapprofile"}`);
  writeFileSync(file, JSON.stringify(profile));
});
