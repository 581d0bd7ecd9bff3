import { AppError } from "../platform/errors.ts";

/**
 * A plan's rank: its price normalized to one month, which is what makes a change of plan an
 * upgrade or a downgrade (docs/plans.md, 'Rank'). Amounts are integers in the currency's minor
 * unit; ranks of different currencies are not comparable.
 */
export interface RankedPrice {
  amount: number;
  currency: string;
  interval: string;
  /** Intervals between two bills (Stripe's `recurring.interval_count`); 1 when absent. */
  intervalCount?: number | undefined;
}

/** Months per interval as a fraction, so that no rounding happens before the last step. */
const MONTHS: Record<string, { num: bigint; den: bigint }> = {
  day: { num: 12n, den: 365n },
  week: { num: 12n, den: 52n },
  month: { num: 1n, den: 1n },
  year: { num: 12n, den: 1n },
};

/** The exact monthly amount as numerator / denominator (both positive for a valid price). */
function monthlyFraction(price: RankedPrice): { num: bigint; den: bigint } {
  const months = MONTHS[price.interval];
  const count = price.intervalCount ?? 1;
  if (!months || !Number.isSafeInteger(count) || count < 1) {
    throw new Error(`no monthly amount for every ${count} ${price.interval}`);
  }
  if (!Number.isSafeInteger(price.amount))
    throw new Error(`amount ${price.amount} is not minor units`);
  // amount per (count × num/den months) = amount × den / (count × num)
  return { num: BigInt(price.amount) * months.den, den: BigInt(count) * months.num };
}

/**
 * The price per month in minor units, rounded half up to a whole minor unit: 29000 a year →
 * 2417 (2416.67), 1000 a week → 4333 (4333.33). For display; `compareRank` compares the exact
 * fractions, so two prices that round to the same figure still order correctly.
 */
export function monthlyAmount(price: RankedPrice): number {
  const { num, den } = monthlyFraction(price);
  return Number((2n * num + den) / (2n * den));
}

/** Thrown by `compareRank` for plans billed in different currencies: no rate makes them comparable. */
export class CurrencyMismatchError extends AppError {
  readonly currencies: [string, string];

  constructor(a: string, b: string) {
    super("invalid", `Plans billed in ${a} and ${b} cannot be compared.`);
    this.name = "CurrencyMismatchError";
    this.currencies = [a, b];
  }
}

/**
 * -1 when `a` costs less per month than `b` (a change from `b` to `a` is a downgrade), 1 when it
 * costs more, 0 when the same. Throws `CurrencyMismatchError` for different currencies.
 */
export function compareRank(a: RankedPrice, b: RankedPrice): -1 | 0 | 1 {
  if (a.currency.toLowerCase() !== b.currency.toLowerCase()) {
    throw new CurrencyMismatchError(a.currency, b.currency);
  }
  const x = monthlyFraction(a);
  const y = monthlyFraction(b);
  const left = x.num * y.den;
  const right = y.num * x.den;
  return left < right ? -1 : left > right ? 1 : 0;
}
