import { cronEvery } from "./platform/jobs/cron.ts";

/**
 * Parsers of setting values (the table in src/config.ts): each turns a raw environment string into
 * a typed value, or throws saying what the value must be.
 */

export type Parser<T> = (raw: string) => T;

export const str: Parser<string> = (raw) => raw;

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Parser<number> {
  return (raw) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new Error(`must be an integer between ${min} and ${max}`);
    }
    return n;
  };
}

export const bool: Parser<boolean> = (raw) => {
  const v = raw.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new Error("must be true or false");
};

export function oneOf<const T extends string>(...values: T[]): Parser<T> {
  return (raw) => {
    const v = raw.trim().toLowerCase();
    if ((values as string[]).includes(v)) return v as T;
    throw new Error(`must be one of ${values.join(", ")}`);
  };
}

export const list: Parser<string[]> = (raw) =>
  raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

export function url(...protocols: string[]): Parser<string> {
  return (raw) => {
    let parsed: URL;
    try {
      parsed = new URL(raw);
    } catch {
      throw new Error("must be a URL");
    }
    if (!protocols.includes(parsed.protocol)) {
      throw new Error(`must be a ${protocols.join(" or ")} URL`);
    }
    return raw;
  };
}

/** `TRUST_PROXY`: a boolean, a hop count, or a list of trusted addresses. */
export const trustProxy: Parser<boolean | number | string[]> = (raw) => {
  if (/^\d+$/.test(raw)) return Number(raw);
  try {
    return bool(raw);
  } catch {
    return list(raw);
  }
};

/** Durations like "60", "60s", "15m", "2h", "7d"; a bare number is seconds. */
export const duration: Parser<number> = (raw) => {
  const m = /^(\d+)\s*(s|m|h|d)?$/.exec(raw.trim());
  if (!m?.[1]) throw new Error('must be a duration such as "3600", "60m", "7d"');
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(m[2] ?? "s") as "s" | "m" | "h" | "d"];
  return Number(m[1]) * unit;
};

/** A `duration` of at least `min` seconds; with `zeroIsOff`, also 0 (the feature turned off). */
export function durationAtLeast(min: number, { zeroIsOff = false } = {}): Parser<number> {
  return (raw) => {
    const seconds = duration(raw);
    if (zeroIsOff && seconds === 0) return 0;
    if (seconds < min) {
      throw new Error(
        zeroIsOff
          ? `must be 0 (off) or at least ${min} seconds`
          : `must be at least ${min} second${min === 1 ? "" : "s"}`,
      );
    }
    return seconds;
  };
}

/** A `duration` that a cron schedule repeats exactly (see `cronEvery`): "5m", "1h", "1d" … */
export const cronInterval: Parser<number> = (raw) => {
  const seconds = duration(raw);
  if (cronEvery(seconds) === undefined) {
    throw new Error(
      "must be whole minutes dividing an hour (1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30m) or whole hours dividing a day (1, 2, 3, 4, 6, 8, 12, 24h)",
    );
  }
  return seconds;
};

/** A throttle rate in DRF's form "N/period": "10/min", "5/hour", "100/day", or "20/15m". */
export interface Rate {
  max: number;
  windowSeconds: number;
}

export const rate: Parser<Rate> = (raw) => {
  const m = /^(\d+)\s*\/\s*(\d*)\s*(s|sec|second|m|min|minute|h|hour|d|day)s?$/i.exec(raw.trim());
  if (!m?.[1] || !m[3]) throw new Error('must be a rate such as "10/min", "5/hour" or "20/15m"');
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[m[3][0]?.toLowerCase() as "s" | "m" | "h" | "d"];
  const max = Number(m[1]);
  if (max < 1) throw new Error("must allow at least 1 request");
  return { max, windowSeconds: Number(m[2] || 1) * unit };
};

/** Shannon entropy, in bits per symbol, of the symbols' frequencies in `symbols`. */
function shannon(symbols: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const s of symbols) counts.set(s, (counts.get(s) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / symbols.length) * Math.log2(n / symbols.length);
  return bits;
}

/**
 * An estimate of the bits of entropy in a secret: the Shannon entropy of its characters, or of
 * the steps between them when that is lower ("abcdef…" steps by one), times the length of its
 * shortest repeating unit ("password" six times counts as "password"). It undercounts a short
 * random string a little and misses subtler patterns, but it is what a start-up check needs to
 * catch "xxxx…", "changeme" or "0123456789abcdef…" pasted into a production secret.
 */
export function entropyBits(secret: string): number {
  const codes = Array.from(secret, (c) => c.codePointAt(0) ?? 0);
  const steps = codes.slice(1).map((code, i) => code - (codes[i] ?? 0));
  let unit = 1;
  while (unit < codes.length && secret.slice(unit) !== secret.slice(0, secret.length - unit)) {
    unit++;
  }
  return Math.min(shannon(codes), shannon(steps)) * Math.min(unit, codes.length);
}

/** Why `secret` is too predictable to carry `bits` bits, or `null` when it is not. */
export function weakSecret(secret: string, bits: number): string | null {
  const estimate = Math.floor(entropyBits(secret));
  if (estimate >= bits) return null;
  return `too predictable (about ${estimate} bits of entropy, at least ${bits} needed); generate one with \`openssl rand -hex 32\``;
}
