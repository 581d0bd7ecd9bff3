import type { Executor } from "./client.ts";
import { leanPreparedSelect } from "./row-mapper.ts";

const cache = new WeakMap<Executor, Map<string, unknown>>();

/**
 * A query of the request hot path, built once per database handle (`build` calls Drizzle's
 * `.prepare(name)` with `sql.placeholder`s) and then only executed. Drizzle otherwise rebuilds the
 * SQL text from the query builder on every call, which profiling showed as a fifth of the CPU of
 * an authenticated GET; on PostgreSQL the named statement is also parsed and planned once per
 * connection. A select's rows are mapped by a mapper compiled once, and on node-postgres it runs
 * straight on the client (`leanPreparedSelect`). `name` must be unique per query text (PostgreSQL
 * keys prepared statements by name). A transaction handle gets its own, short-lived entry.
 */
export function prepared<T>(executor: Executor, name: string, build: (executor: Executor) => T): T {
  let queries = cache.get(executor);
  if (!queries) {
    queries = new Map();
    cache.set(executor, queries);
  }
  let query = queries.get(name) as T | undefined;
  if (query === undefined) {
    query = leanPreparedSelect(build(executor));
    queries.set(name, query);
  }
  return query;
}

/**
 * The statement name of one variant of a query with optional filters: `base` and the filters
 * present (`staff_payments:status`), so each combination is prepared once, its values bound as
 * placeholders.
 */
function variantName(base: string, filters: Record<string, unknown>): string {
  const present = Object.keys(filters).filter((key) => filters[key] !== undefined);
  return present.length > 0 ? `${base}:${present.join(",")}` : base;
}

/** A prepared query as `filteredPage` uses it (a Drizzle `.prepare(name)` result). */
interface Executable<T> {
  execute(values?: Record<string, unknown>): Promise<T[]>;
}

/**
 * A filtered list's total and page, both prepared once per combination of `filters` present
 * (`variantName`): `count` and `rows` build the two queries with a `sql.placeholder` named after
 * each filter (and `limit`, `offset` for the page), and call `.prepare(name)` with the name given.
 */
export async function filteredPage<T>(
  db: Executor,
  base: string,
  filters: Record<string, unknown>,
  page: { limit: number; offset: number },
  build: {
    count(executor: Executor, name: string): Executable<{ n: number }>;
    rows(executor: Executor, name: string): Executable<T>;
  },
): Promise<{ count: number; rows: T[] }> {
  const countName = variantName(`${base}_count`, filters);
  const pageName = variantName(`${base}_page`, filters);
  const counted = prepared(db, countName, (e) => build.count(e, countName));
  const paged = prepared(db, pageName, (e) => build.rows(e, pageName));
  const [[total], rows] = await Promise.all([
    counted.execute(filters),
    paged.execute({ ...filters, limit: page.limit, offset: page.offset }),
  ]);
  return { count: total?.n ?? 0, rows };
}
