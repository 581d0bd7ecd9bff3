import { setFlagsFromString } from "node:v8";

/**
 * V8 settings of the long-running processes (the API and the worker), imported first by their
 * entry points. Set here because Node refuses them in NODE_OPTIONS, and every deployment (npm
 * scripts, the image, compose, Render) starts `node src/main.ts` or `node src/worker.ts` as it is.
 * Both only make V8 keep less in memory; `bench:tier` and `bench:profile` measured them
 * (docs/performance.md, "The API tier's memory"):
 *
 * - no Sparkplug, V8's baseline compiler: its machine code for every warm function is memory in
 *   each isolate, and the functions a server runs hot reach the optimizing tiers anyway (11 MiB
 *   less at the tier's peak, CPU per request unchanged within the runs' noise);
 * - the old generation may grow by 10 % between full collections instead of V8's adaptive factor
 *   (up to 4×), so garbage promoted under load is collected sooner (8 MiB less at peak).
 *
 * Set before any isolate but the main one exists and before this process compiles much: API
 * threads start with them.
 */
setFlagsFromString("--no-sparkplug");
setFlagsFromString("--heap-growing-percent=10");
