import type Stripe from "stripe";

const DAY = 86_400;

/** Adds calendar intervals in UTC, clamping to the month's last day (Jan 31 + 1 month = Feb 28/29). */
export function addInterval(
  ts: number,
  interval: Stripe.Price.Recurring.Interval,
  n: number,
): number {
  if (interval === "day") return ts + n * DAY;
  if (interval === "week") return ts + n * 7 * DAY;
  const d = new Date(ts * 1000);
  const months = interval === "year" ? 12 * n : n;
  const target = new Date(
    Date.UTC(
      d.getUTCFullYear(),
      d.getUTCMonth() + months,
      1,
      d.getUTCHours(),
      d.getUTCMinutes(),
      d.getUTCSeconds(),
    ),
  );
  const lastDay = new Date(
    Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0),
  ).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), lastDay));
  return Math.floor(target.getTime() / 1000);
}

/**
 * The end of the period that starts at `start`, on the cycle fixed by `anchor`. Computing from
 * the anchor (not from `start`) keeps the 31st of the month from drifting to the 28th for good.
 */
export function nextPeriodEnd(
  anchor: number,
  start: number,
  recurring: Stripe.Price.Recurring,
): number {
  for (let k = 1; k < 10_000; k++) {
    const end = addInterval(anchor, recurring.interval, k * recurring.interval_count);
    if (end > start) return end;
  }
  return addInterval(start, recurring.interval, recurring.interval_count);
}

export const SECONDS_PER_DAY = DAY;
