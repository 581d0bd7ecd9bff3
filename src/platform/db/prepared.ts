import type { Executor } from "./client.ts";
import { withCompiledRowMapper } from "./row-mapper.ts";

const cache = new WeakMap<Executor, Map<string, unknown>>();

/**
 * A query of the request hot path, built once per database handle (`build` calls Drizzle's
 * `.prepare(name)` with `sql.placeholder`s) and then only executed. Drizzle otherwise rebuilds the
 * SQL text from the query builder on every call, which profiling showed as a fifth of the CPU of
 * an authenticated GET; on PostgreSQL the named statement is also parsed and planned once per
 * connection, and its rows are mapped by a mapper compiled once (`row-mapper.ts`). `name` must be unique per query text (PostgreSQL keys prepared statements by name).
 * A transaction handle gets its own, short-lived entry.
 */
export function prepared<T>(executor: Executor, name: string, build: (executor: Executor) => T): T {
  let queries = cache.get(executor);
  if (!queries) {
    queries = new Map();
    cache.set(executor, queries);
  }
  let query = queries.get(name) as T | undefined;
  if (query === undefined) {
    query = withCompiledRowMapper(build(executor));
    queries.set(name, query);
  }
  return query;
}
