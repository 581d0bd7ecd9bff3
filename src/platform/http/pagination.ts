import type { FastifyRequest } from "fastify";
import { type Static, type TSchema, Type } from "typebox";
import { detailError } from "./errors.ts";
import { Nullable } from "./nullable.ts";
import { originForm } from "./request-target.ts";

export const PAGE_SIZE = 20;

export const PageQuery = Type.Object({
  page: Type.Optional(Type.Integer({ minimum: 1, description: "Page number, from 1." })),
});
export type PageQuery = Static<typeof PageQuery>;

/** `{count, next, previous, results}`, DRF's PageNumberPagination shape. */
export function Paginated<T extends TSchema>(item: T) {
  return Type.Object({
    count: Type.Integer(),
    next: Nullable(Type.String({ format: "uri" })),
    previous: Nullable(Type.String({ format: "uri" })),
    results: Type.Array(item),
  });
}

export interface PageRequest {
  page: number;
  limit: number;
  offset: number;
}

export function pageRequest(query: PageQuery): PageRequest {
  const page = query.page ?? 1;
  const offset = (page - 1) * PAGE_SIZE;
  // A page whose offset PostgreSQL cannot take (page=1e20, or 1e309 read as Infinity) is past the
  // end of every table: the 404 of a page past the end, rather than a failed query.
  if (!Number.isSafeInteger(offset)) throw detailError("not_found", "Invalid page.");
  return { page, limit: PAGE_SIZE, offset };
}

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/**
 * Builds the page body with absolute `next`/`previous` links, as DRF does: other query parameters
 * are kept, and the link to page 1 carries no `page` parameter. A page past the end is a 404.
 * The links' authority is `request.host` (the Host header production checked against
 * ALLOWED_HOSTS, or the trusted proxy's X-Forwarded-Host), never the request line's.
 */
export function paginated<T>(
  request: FastifyRequest,
  at: PageRequest,
  count: number,
  results: T[],
): Page<T> {
  if (at.page > 1 && at.offset >= count) throw detailError("not_found", "Invalid page.");
  const link = (page: number): string => {
    const url = new URL(`${request.protocol}://${request.host}${originForm(request.url)}`);
    if (page === 1) url.searchParams.delete("page");
    else url.searchParams.set("page", String(page));
    return url.toString();
  };
  return {
    count,
    next: at.offset + at.limit < count ? link(at.page + 1) : null,
    previous: at.page > 1 ? link(at.page - 1) : null,
    results,
  };
}
