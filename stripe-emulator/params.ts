import { invalidParam, missingParam } from "./errors.ts";

/** Request parameters as `qs` parses the SDK's form encoding: strings, nested records, arrays. */
export type Params = Record<string, unknown>;

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function optStr(p: Params, key: string): string | undefined {
  const v = p[key];
  if (v === undefined) return undefined;
  if (typeof v !== "string") throw invalidParam(key, `Invalid string: ${key}`);
  return v;
}

export function reqStr(p: Params, key: string): string {
  const v = optStr(p, key);
  if (v === undefined || v === "") throw missingParam(key);
  return v;
}

/** An empty value is how the SDK sends `null`: "unset this field". */
export function optNullableStr(p: Params, key: string): string | null | undefined {
  const v = optStr(p, key);
  return v === "" ? null : v;
}

export function optInt(p: Params, key: string): number | undefined {
  const v = optStr(p, key);
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw invalidParam(key, `Invalid integer: ${v}`);
  return n;
}

export function optBool(p: Params, key: string): boolean | undefined {
  const v = optStr(p, key);
  if (v === undefined || v === "") return undefined;
  if (v === "true") return true;
  if (v === "false") return false;
  throw invalidParam(key, `Invalid boolean: ${v}`);
}

export function optObj(p: Params, key: string): Params | undefined {
  const v = p[key];
  if (v === undefined || v === "") return undefined;
  if (!isRecord(v)) throw invalidParam(key, `Invalid object: ${key}`);
  return v;
}

/** `qs` turns `a[0]=x` into an array, and very sparse indexes into an object keyed by index. */
export function optArr(p: Params, key: string): unknown[] | undefined {
  const v = p[key];
  if (v === undefined || v === "") return undefined;
  if (Array.isArray(v)) return v;
  if (isRecord(v)) return Object.values(v);
  throw invalidParam(key, `Invalid array: ${key}`);
}

export function optEnum<T extends string>(
  p: Params,
  key: string,
  allowed: readonly T[],
): T | undefined {
  const v = optStr(p, key);
  if (v === undefined) return undefined;
  const found = allowed.find((a) => a === v);
  if (found === undefined) {
    throw invalidParam(key, `Invalid ${key}: must be one of ${allowed.join(", ")}`);
  }
  return found;
}

export function expandList(p: Params): string[] {
  const list = optArr(p, "expand") ?? [];
  return list.filter((x): x is string => typeof x === "string");
}

/** Merges `metadata[...]` into existing metadata; an empty value deletes the key, `metadata=""` clears all. */
export function mergeMetadata(current: Record<string, string>, p: Params): Record<string, string> {
  if (p.metadata === "") return {};
  const m = optObj(p, "metadata");
  if (m === undefined) return current;
  const next = { ...current };
  for (const [k, v] of Object.entries(m)) {
    if (v === "" || v === undefined) delete next[k];
    else next[k] = String(v);
  }
  return next;
}
