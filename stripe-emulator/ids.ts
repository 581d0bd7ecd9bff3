import { randomBytes } from "node:crypto";

const ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomToken(length: number): string {
  const bytes = randomBytes(length);
  let out = "";
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return out;
}

/** Ids in Stripe's shapes: a type prefix, an underscore, base62 (customers are shorter). */
export function newId(prefix: string): string {
  if (prefix === "cus") return `cus_${randomToken(14)}`;
  if (prefix === "cs_test") return `cs_test_${randomToken(58)}`;
  return `${prefix}_${randomToken(24)}`;
}
