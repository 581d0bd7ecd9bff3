import { invalidParam, noSuchObject } from "./errors.ts";
import { optInt, optStr, type Params } from "./params.ts";

export interface ListObject<T> {
  object: "list";
  data: T[];
  has_more: boolean;
  url: string;
}

/**
 * Stripe lists are newest first. `items` comes in creation order (records keep insertion
 * order), so the page is cut from the reversed array by the cursor ids.
 */
export function paginate<T extends { id?: string }>(
  items: T[],
  params: Params,
  url: string,
): ListObject<T> {
  const limit = optInt(params, "limit") ?? 10;
  if (limit < 1 || limit > 100) {
    throw invalidParam("limit", "Invalid limit: must be between 1 and 100");
  }
  const newestFirst = [...items].reverse();
  const after = optStr(params, "starting_after");
  const before = optStr(params, "ending_before");
  if (after) {
    const idx = newestFirst.findIndex((i) => i.id === after);
    if (idx < 0) throw noSuchObject(after, "starting_after");
    const rest = newestFirst.slice(idx + 1);
    return { object: "list", data: rest.slice(0, limit), has_more: rest.length > limit, url };
  }
  if (before) {
    const idx = newestFirst.findIndex((i) => i.id === before);
    if (idx < 0) throw noSuchObject(before, "ending_before");
    const head = newestFirst.slice(0, idx);
    const page = head.slice(Math.max(0, head.length - limit));
    return { object: "list", data: page, has_more: head.length > limit, url };
  }
  return {
    object: "list",
    data: newestFirst.slice(0, limit),
    has_more: newestFirst.length > limit,
    url,
  };
}

/** `created[gte]=…` style range filters, or an exact `created=…`. */
export function matchesRange(value: number, filter: unknown): boolean {
  if (filter === undefined) return true;
  if (typeof filter === "string") return value === Number(filter);
  if (typeof filter !== "object" || filter === null) return true;
  const f: Record<string, unknown> = { ...filter };
  const num = (k: string) => (typeof f[k] === "string" ? Number(f[k]) : undefined);
  const gt = num("gt");
  const gte = num("gte");
  const lt = num("lt");
  const lte = num("lte");
  if (gt !== undefined && !(value > gt)) return false;
  if (gte !== undefined && !(value >= gte)) return false;
  if (lt !== undefined && !(value < lt)) return false;
  if (lte !== undefined && !(value <= lte)) return false;
  return true;
}
