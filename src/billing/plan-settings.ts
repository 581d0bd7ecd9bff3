import type Stripe from "stripe";

/**
 * A plan's trial and seat settings, kept at Stripe as the price's metadata (docs/plans.md): a
 * price's `recurring` cannot be changed once created, metadata can, and a plan is one price (the
 * monthly and yearly prices of one product may differ).
 */
export interface PlanSettings {
  trialDays: number;
  perSeat: boolean;
  minQuantity: number;
  maxQuantity: number | null;
}

export const DEFAULT_SETTINGS: Readonly<PlanSettings> = Object.freeze({
  trialDays: 0,
  perSeat: false,
  minQuantity: 1,
  maxQuantity: null,
});

/** Stripe refuses a trial longer than two years. */
export const MAX_TRIAL_DAYS = 730;
/** The plans table's integer columns. */
const MAX_QUANTITY = 2_147_483_647;

/** The metadata keys, on the Stripe price. */
export const METADATA_KEYS = {
  trialDays: "trial_days",
  perSeat: "per_seat",
  minQuantity: "min_quantity",
  maxQuantity: "max_quantity",
} as const;

/** Only digits, as Stripe's dashboard and our CLI write counts; "1e3" or "-1" are mistakes. */
function wholeNumber(text: string, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(text)) return undefined;
  const n = Number(text);
  return n <= max ? n : undefined;
}

/** Each problem with a set of settings, in words an operator can act on; empty when valid. */
export function settingsProblems(s: PlanSettings): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(s.trialDays) || s.trialDays < 0 || s.trialDays > MAX_TRIAL_DAYS) {
    problems.push(`trial_days must be a whole number from 0 to ${MAX_TRIAL_DAYS}`);
  }
  if (!Number.isInteger(s.minQuantity) || s.minQuantity < 1 || s.minQuantity > MAX_QUANTITY) {
    problems.push("min_quantity must be a whole number of at least 1");
  }
  if (s.maxQuantity !== null) {
    if (!Number.isInteger(s.maxQuantity) || s.maxQuantity > MAX_QUANTITY) {
      problems.push("max_quantity must be a whole number");
    } else if (s.maxQuantity < s.minQuantity) {
      problems.push(`max_quantity (${s.maxQuantity}) is below min_quantity (${s.minQuantity})`);
    }
  }
  if (!s.perSeat && (s.minQuantity !== 1 || s.maxQuantity !== null)) {
    problems.push("min_quantity and max_quantity need per_seat true");
  }
  return problems;
}

/** Parses one count typed by an operator ("14", "none" for an unbounded maximum). */
export function parseCount(text: string, name: string, allowNone = false): number | null {
  if (allowNone && text === "none") return null;
  const n = wholeNumber(text, MAX_QUANTITY);
  if (n === undefined) {
    throw new RangeError(`${name} must be a whole number${allowNone ? ' or "none"' : ""}`);
  }
  return n;
}

export function parseFlag(text: string, name: string): boolean {
  if (text === "true") return true;
  if (text === "false") return false;
  throw new RangeError(`${name} must be true or false`);
}

type Read = { settings: PlanSettings; problems: [] } | { settings: null; problems: string[] };

/**
 * The settings a Stripe price carries. A missing key is its default; a trial set the legacy way
 * (`recurring.trial_period_days`, only settable when the price is created) counts when the
 * metadata has none. A seat range on a price that is not per seat is ignored, so turning seats
 * off in the dashboard needs one edit. Unreadable values are problems, never guesses.
 */
export function settingsOfPrice(price: Stripe.Price): Read {
  const m = price.metadata ?? {};
  const problems: string[] = [];
  const count = (key: string, fallback: number | null, allowNone: boolean): number | null => {
    const text = m[key];
    if (text === undefined || text === "") return fallback;
    try {
      return parseCount(text, key, allowNone);
    } catch (err) {
      problems.push(`${(err as Error).message}, not "${text}"`);
      return fallback;
    }
  };
  let perSeat = false;
  const seatText = m[METADATA_KEYS.perSeat];
  if (seatText !== undefined && seatText !== "") {
    try {
      perSeat = parseFlag(seatText, METADATA_KEYS.perSeat);
    } catch (err) {
      problems.push(`${(err as Error).message}, not "${seatText}"`);
    }
  }
  const legacyTrial = price.recurring?.trial_period_days ?? 0;
  const settings: PlanSettings = {
    trialDays: count(METADATA_KEYS.trialDays, legacyTrial, false) ?? 0,
    perSeat,
    minQuantity: perSeat ? (count(METADATA_KEYS.minQuantity, 1, false) ?? 1) : 1,
    maxQuantity: perSeat ? count(METADATA_KEYS.maxQuantity, null, true) : null,
  };
  problems.push(...settingsProblems(settings));
  return problems.length > 0 ? { settings: null, problems } : { settings, problems: [] };
}

/**
 * The metadata that records `s` on a price: every key written, an unbounded maximum as an empty
 * value, which deletes the key at Stripe.
 */
export function settingsMetadata(s: PlanSettings): Record<string, string> {
  return {
    [METADATA_KEYS.trialDays]: String(s.trialDays),
    [METADATA_KEYS.perSeat]: String(s.perSeat),
    [METADATA_KEYS.minQuantity]: String(s.minQuantity),
    [METADATA_KEYS.maxQuantity]: s.maxQuantity === null ? "" : String(s.maxQuantity),
  };
}

export function sameSettings(a: PlanSettings, b: PlanSettings): boolean {
  return (
    a.trialDays === b.trialDays &&
    a.perSeat === b.perSeat &&
    a.minQuantity === b.minQuantity &&
    a.maxQuantity === b.maxQuantity
  );
}

/**
 * `current` with the fields an operator named changed. Turning seats off drops the seat range
 * (a plan that is not per seat is sold one at a time).
 */
export function changeSettings(current: PlanSettings, change: Partial<PlanSettings>): PlanSettings {
  const named = Object.fromEntries(Object.entries(change).filter(([, v]) => v !== undefined));
  const next: PlanSettings = { ...current, ...named };
  if (change.perSeat === false && change.minQuantity === undefined) next.minQuantity = 1;
  if (change.perSeat === false && change.maxQuantity === undefined) next.maxQuantity = null;
  return next;
}
