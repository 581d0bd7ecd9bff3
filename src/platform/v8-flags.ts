import { setFlagsFromString } from "node:v8";

/**
 * V8 settings of the long-running processes (the API and the worker), imported first by their
 * entry points. Set here because Node refuses them in NODE_OPTIONS, and every deployment (npm
 * scripts, the image, compose, Render) starts `node src/main.ts` or `node src/worker.ts` as it is.
 * Set before any isolate but the main one exists and before this process compiles much: API
 * threads start with them. `bench:tier`, `bench:profile` and `bench:ab` measured them
 * (docs/performance.md, "The API tier's memory"):
 *
 * - no Sparkplug, V8's baseline compiler: its machine code for every warm function is memory in
 *   each isolate, and the functions a server runs hot reach the optimizing tiers anyway (11 MiB
 *   less at the tier's peak, CPU per request unchanged within the runs' noise).
 *
 * Not set: `--heap-growing-percent=10` (a full collection after 10 % of growth instead of V8's
 * adaptive factor). It saved 6 MiB at the tier's peak but cost the read routes 7–9 % more CPU per
 * request, in V8's marking threads: the API's live heap is several times the bare baseline's, so
 * marking it more often cost the API more than the baseline.
 */
setFlagsFromString("--no-sparkplug");
