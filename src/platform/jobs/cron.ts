// Apart from definitions.ts so that loading the configuration (config-parsers.ts) loads nothing
// else: the cluster primary reads it and imports as little as it can (docs/performance.md, "The
// API tier's memory").

/**
 * The cron expression (UTC) that repeats every `seconds` exactly, or undefined when cron cannot:
 * whole minutes that divide an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30 min), or whole hours
 * that divide a day (1, 2, 3, 4, 6, 8, 12, 24 h).
 */
export function cronEvery(seconds: number): string | undefined {
  if (seconds <= 0 || seconds % 60 !== 0) return undefined;
  const minutes = seconds / 60;
  if (minutes < 60) return 60 % minutes === 0 ? `*/${minutes} * * * *` : undefined;
  if (minutes % 60 !== 0) return undefined;
  const hours = minutes / 60;
  if (hours === 24) return "0 0 * * *";
  return 24 % hours === 0 ? `0 */${hours} * * *` : undefined;
}
