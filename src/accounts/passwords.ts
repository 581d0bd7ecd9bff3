import { randomBytes } from "node:crypto";
import { type Algorithm, hash, verify } from "@node-rs/argon2";
import { dictionary } from "@zxcvbn-ts/language-common";
import pLimit, { type LimitFunction } from "p-limit";
import type { Config } from "../config.ts";

export type HashConfig = Pick<
  Config,
  "PASSWORD_HASH_MEMORY_KIB" | "PASSWORD_HASH_ITERATIONS" | "PASSWORD_HASH_CONCURRENCY"
>;

const MIN_LENGTH = 8;

const limits = new Map<number, LimitFunction>();

/**
 * argon2id runs on libuv's thread pool (@node-rs/argon2 is async), so it never blocks the event
 * loop, but it does compete with it for the CPU: four pool threads per process hashing at once
 * on a 2-core host left each event loop a fifth of a core, and every other request waited while
 * logins ran. At most PASSWORD_HASH_CONCURRENCY hashes run per process; the rest queue here.
 */
function hashing<T>(config: HashConfig, work: () => Promise<T>): Promise<T> {
  let limit = limits.get(config.PASSWORD_HASH_CONCURRENCY);
  if (!limit) {
    limit = pLimit(config.PASSWORD_HASH_CONCURRENCY);
    limits.set(config.PASSWORD_HASH_CONCURRENCY, limit);
  }
  return limit(work);
}

export function hashPassword(password: string, config: HashConfig): Promise<string> {
  return hashing(config, () =>
    hash(password, {
      // Algorithm.Argon2id; the package's const enum cannot be imported under type stripping.
      algorithm: 2 satisfies Algorithm.Argon2id,
      memoryCost: config.PASSWORD_HASH_MEMORY_KIB,
      timeCost: config.PASSWORD_HASH_ITERATIONS,
      parallelism: 1,
    }),
  );
}

export async function verifyPassword(
  passwordHash: string,
  password: string,
  config: HashConfig,
): Promise<boolean> {
  try {
    return await hashing(config, () => verify(passwordHash, password));
  } catch {
    // A malformed stored hash verifies nothing; it must not turn into a 500 that reveals the account.
    return false;
  }
}

const dummyHashes = new Map<string, Promise<string>>();

/**
 * A hash with the current parameters of a password nobody knows. Login verifies against it when
 * the email is unknown, so a miss costs one argon2 verification like a hit does (no enumeration by
 * timing).
 */
export function dummyHash(config: HashConfig): Promise<string> {
  const key = `${config.PASSWORD_HASH_MEMORY_KIB}:${config.PASSWORD_HASH_ITERATIONS}`;
  let value = dummyHashes.get(key);
  if (!value) {
    value = hashPassword(randomBytes(24).toString("base64"), config);
    dummyHashes.set(key, value);
  }
  return value;
}

// The list zxcvbn-ts maintains (about 49,000 leaked passwords, lowercased), as Django's
// CommonPasswordValidator compares the lowercased, trimmed password.
const COMMON_PASSWORDS = new Set(dictionary["passwords-common"]);

export interface UserAttributes {
  email?: string | undefined;
  username?: string | undefined;
  firstName?: string | undefined;
  lastName?: string | undefined;
}

const ATTRIBUTES: [keyof UserAttributes, string][] = [
  ["username", "username"],
  ["firstName", "first name"],
  ["lastName", "last name"],
  ["email", "email"],
];
const MAX_SIMILARITY = 0.7;

/** Python's SequenceMatcher.quick_ratio: shared characters (as multisets) over total length. */
function quickRatio(a: string, b: string): number {
  const total = a.length + b.length;
  if (total === 0) return 1;
  const counts = new Map<string, number>();
  for (const ch of b) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let matches = 0;
  for (const ch of a) {
    const left = counts.get(ch) ?? 0;
    if (left > 0) {
      matches++;
      counts.set(ch, left - 1);
    }
  }
  return (2 * matches) / total;
}

/** Django's UserAttributeSimilarityValidator: the first attribute the password resembles. */
function similarAttribute(password: string, user: UserAttributes): string | undefined {
  const lower = password.toLowerCase();
  for (const [key, label] of ATTRIBUTES) {
    const value = user[key];
    if (!value) continue;
    const valueLower = value.toLowerCase();
    const parts = [...valueLower.split(/\W+/), valueLower];
    for (const part of parts) {
      // A short part inside a long password is not "similar" (Django's length-ratio shortcut).
      if (lower.length >= 10 * part.length && part.length < (MAX_SIMILARITY / 2) * lower.length) {
        continue;
      }
      if (quickRatio(lower, part) >= MAX_SIMILARITY) return label;
    }
  }
  return undefined;
}

/**
 * The original's four validators (Django's defaults), every failure at once, with Django's
 * messages. The length cap is the schema's (maxLength 128), checked before any hashing.
 */
export function passwordProblems(password: string, user: UserAttributes): string[] {
  const problems: string[] = [];
  const similar = similarAttribute(password, user);
  if (similar) problems.push(`The password is too similar to the ${similar}.`);
  if (password.length < MIN_LENGTH) {
    problems.push(`This password is too short. It must contain at least ${MIN_LENGTH} characters.`);
  }
  if (COMMON_PASSWORDS.has(password.toLowerCase().trim())) {
    problems.push("This password is too common.");
  }
  if (/^\d+$/.test(password)) problems.push("This password is entirely numeric.");
  return problems;
}
