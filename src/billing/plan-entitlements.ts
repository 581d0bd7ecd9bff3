import type Stripe from "stripe";

/**
 * What a plan grants: feature flags (`"api_access": true`) and numeric limits (`"projects": 10`),
 * kept at Stripe as one JSON object in the price's `entitlements` metadata (docs/access.md,
 * 'Entitlements'), next to the trial and seat settings (docs/plans.md).
 */
export type Entitlements = Record<string, boolean | number>;

export const ENTITLEMENTS_KEY = "entitlements";

/** Stripe's limit on one metadata value. */
export const MAX_ENTITLEMENTS_LENGTH = 500;

/** A feature's name: what `?feature=` takes, so it stays a plain identifier. */
const FEATURE_NAME = /^[a-z][a-z0-9_]{0,39}$/;
/** The plans table stores limits as JSON numbers; whole, non-negative, and exact in a double. */
const MAX_LIMIT = Number.MAX_SAFE_INTEGER;

export function isFeatureName(name: string): boolean {
  return FEATURE_NAME.test(name);
}

type Read =
  | { entitlements: Entitlements; problems: [] }
  | { entitlements: null; problems: string[] };

/**
 * Entitlements from their JSON text (the metadata value, or what an operator typed). An empty text
 * is none. Anything but an object of feature names to `true`/`false` or whole numbers is a
 * problem, never guessed: `"10"` is not 10, and `1.5` projects is a typo.
 */
export function parseEntitlements(text: string | undefined): Read {
  if (text === undefined || text.trim() === "") return { entitlements: {}, problems: [] };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { entitlements: null, problems: ["entitlements must be a JSON object"] };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return { entitlements: null, problems: ["entitlements must be a JSON object"] };
  }
  const problems: string[] = [];
  const entitlements: Entitlements = {};
  for (const [name, v] of Object.entries(value)) {
    if (!isFeatureName(name)) {
      problems.push(`entitlement "${name}": names are lowercase letters, digits and _ (≤ 40)`);
    } else if (typeof v === "boolean") {
      entitlements[name] = v;
    } else if (typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= MAX_LIMIT) {
      entitlements[name] = v;
    } else {
      problems.push(`entitlement "${name}" must be true, false or a whole number ≥ 0`);
    }
  }
  // Stripe refuses a longer metadata value; measured as written (compact, keys sorted).
  if (
    (entitlementsMetadata(entitlements)[ENTITLEMENTS_KEY] ?? "").length > MAX_ENTITLEMENTS_LENGTH
  ) {
    problems.push(`entitlements must fit in ${MAX_ENTITLEMENTS_LENGTH} characters of JSON`);
  }
  return problems.length > 0 ? { entitlements: null, problems } : { entitlements, problems: [] };
}

/** The entitlements a Stripe price carries in its metadata. */
export function entitlementsOfPrice(price: Stripe.Price): Read {
  return parseEntitlements(price.metadata?.[ENTITLEMENTS_KEY]);
}

/**
 * The metadata value that records `e`, keys sorted so equal sets write equal text; none is an
 * empty value, which deletes the key at Stripe.
 */
export function entitlementsMetadata(e: Entitlements): Record<string, string> {
  const keys = Object.keys(e).sort();
  const text =
    keys.length === 0 ? "" : JSON.stringify(Object.fromEntries(keys.map((k) => [k, e[k]])));
  return { [ENTITLEMENTS_KEY]: text };
}

export function sameEntitlements(a: Entitlements, b: Entitlements): boolean {
  return entitlementsMetadata(a)[ENTITLEMENTS_KEY] === entitlementsMetadata(b)[ENTITLEMENTS_KEY];
}
