/**
 * Money is an integer in the currency's minor unit everywhere (docs/architecture.md, 'Money'); only
 * the API edge turns it into a decimal string, with as many decimals as the currency has. No
 * floats: the conversion is string arithmetic.
 */

// Stripe's zero-decimal currencies (docs.stripe.com/currencies). ISK and UGX are left out on
// purpose: Stripe takes their amounts with two decimals, so for API amounts they behave like 2.
const ZERO_DECIMAL = new Set([
  "bif",
  "clp",
  "djf",
  "gnf",
  "jpy",
  "kmf",
  "krw",
  "mga",
  "pyg",
  "rwf",
  "vnd",
  "vuv",
  "xaf",
  "xof",
  "xpf",
]);
const THREE_DECIMAL = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** Decimals of a currency's Stripe amounts: JPY 0, USD 2, KWD 3. */
export function currencyExponent(currency: string): number {
  const c = currency.toLowerCase();
  if (ZERO_DECIMAL.has(c)) return 0;
  if (THREE_DECIMAL.has(c)) return 3;
  return 2;
}

/** 999 USD → "9.99"; 1000 JPY → "1000"; 1250 KWD → "1.250"; -5 USD → "-0.05". */
export function formatMinor(amount: number, currency: string): string {
  if (!Number.isSafeInteger(amount)) throw new Error(`not an integer amount: ${amount}`);
  const exponent = currencyExponent(currency);
  const sign = amount < 0 ? "-" : "";
  const digits = String(Math.abs(amount)).padStart(exponent + 1, "0");
  if (exponent === 0) return `${sign}${digits}`;
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/**
 * "9.99" USD → 999; "1000" JPY → 1000; "1.25" KWD → 1250. Refuses more decimals than the currency
 * has, signs, exponents and anything else that is not a plain decimal.
 */
export function parseMajor(text: string, currency: string): number {
  const exponent = currencyExponent(currency);
  const m = /^(\d+)(?:\.(\d+))?$/.exec(text.trim());
  if (!m?.[1]) throw new Error(`"${text}" is not a decimal amount`);
  const fraction = m[2] ?? "";
  if (fraction.length > exponent) {
    throw new Error(`${currency.toUpperCase()} amounts have at most ${exponent} decimals`);
  }
  const minor = Number(`${m[1]}${fraction.padEnd(exponent, "0")}`);
  if (!Number.isSafeInteger(minor)) throw new Error(`"${text}" is too large`);
  return minor;
}

/** "9.99 USD", for emails. */
export function displayAmount(amount: number, currency: string): string {
  return `${formatMinor(amount, currency)} ${currency.toUpperCase()}`;
}
