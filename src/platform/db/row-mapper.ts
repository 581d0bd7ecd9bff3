import {
  Column,
  DrizzleQueryError,
  fillPlaceholders,
  getTableName,
  is,
  SQL,
  Subquery,
} from "drizzle-orm";
import { NodePgPreparedQuery } from "drizzle-orm/node-postgres";

/** A selected field as Drizzle's prepared select lists it: where it goes, and what decodes it. */
interface SelectedField {
  path: string[];
  field: unknown;
}

interface Decoder {
  mapFromDriverValue(value: unknown): unknown;
}

/**
 * The parts of a Drizzle prepared select (node-postgres's and PGlite's alike) that map its rows:
 * set by Drizzle's `.prepare()`, not part of its typed API, so `test/platform/row-mapper.test.ts`
 * checks the mapping against Drizzle's own on every kind of select the hot path runs.
 */
export interface MappedQuery {
  fields?: SelectedField[];
  joinsNotNullableMap?: Record<string, boolean>;
  customResultMapper?: (rows: unknown[][]) => unknown;
}

type Row = Record<string, unknown>;

/**
 * Drizzle's `mapResultRow`, with everything that depends only on the query worked out once: each
 * column's decoder, its place in the result and its table. Drizzle works these out again for every
 * column of every row (a `for…of` over `path.entries()` and `is()` checks walking class chains),
 * which made it a sixth of what a status request allocated. Same rules: values decoded unless
 * NULL, nested objects for joined tables, and a left-joined table whose first column is NULL
 * becomes `null` unless the join cannot be empty.
 */
export function compileRowMapper(
  fields: SelectedField[],
  joinsNotNullableMap: Record<string, boolean> | undefined,
): (row: unknown[]) => Row {
  const columns = fields.map(({ path, field }) => ({
    parents: path.slice(0, -1),
    key: path[path.length - 1] as string,
    decoder: decoderOf(field),
    // Only a joined table's own columns (`{ plan: plans }` → ["plan", "id"]) decide its nulling.
    table:
      joinsNotNullableMap && is(field, Column) && path.length === 2
        ? getTableName(field.table)
        : undefined,
  }));
  return (row) => {
    const result: Row = {};
    // Per joined object: the table of its first column if that was NULL, else false.
    let nullify: Record<string, string | false> | undefined;
    for (let i = 0; i < columns.length; i++) {
      const column = columns[i] as (typeof columns)[number];
      let node = result;
      const parents = column.parents;
      for (let j = 0; j < parents.length; j++) {
        const parent = parents[j] as string;
        let child = node[parent] as Row | undefined;
        if (child === undefined) {
          child = {};
          node[parent] = child;
        }
        node = child;
      }
      const raw = row[i];
      const value = raw === null ? null : column.decoder.mapFromDriverValue(raw);
      node[column.key] = value;
      if (column.table !== undefined) {
        nullify ??= {};
        const objectName = column.parents[0] as string;
        const seen = nullify[objectName];
        if (seen === undefined) nullify[objectName] = value === null ? column.table : false;
        else if (typeof seen === "string" && seen !== column.table) nullify[objectName] = false;
      }
    }
    if (nullify) {
      for (const objectName in nullify) {
        const table = nullify[objectName];
        if (typeof table === "string" && !joinsNotNullableMap?.[table]) result[objectName] = null;
      }
    }
    return result;
  };
}

/** An SQL field's decoder (`sql<T>…mapWith()`), internal to Drizzle like the fields list. */
type WithDecoder = { decoder: Decoder };

function decoderOf(field: unknown): Decoder {
  if (is(field, Column)) return field;
  if (is(field, SQL)) return (field as unknown as WithDecoder).decoder;
  if (is(field, Subquery)) return (field._.sql as unknown as WithDecoder).decoder;
  return ((field as SQL.Aliased).sql as unknown as WithDecoder).decoder;
}

/** What a node-postgres prepared select runs: its client, its query config and parameters. */
interface NodePgQuery {
  client: { query(config: unknown, values: unknown[]): Promise<{ rows: unknown[][] }> };
  queryConfig: { text: string };
  params: unknown[];
  execute(values?: Record<string, unknown>): Promise<unknown>;
}

/**
 * Gives a Drizzle prepared select the compiled mapper; anything else is left as it is. On
 * node-postgres its `execute` also goes straight to the client (Drizzle's nests three tracing
 * spans and their promises around each execution: a tenth of what a status request allocated),
 * with Drizzle's placeholders and Drizzle's error (DrizzleQueryError, the driver's as its cause).
 */
export function leanPreparedSelect<T>(query: T): T {
  const q = query as MappedQuery;
  if (!q.fields || q.customResultMapper) return query;
  const map = compileRowMapper(q.fields, q.joinsNotNullableMap);
  if (!is(query, NodePgPreparedQuery)) {
    q.customResultMapper = (rows) => rows.map(map);
    return query;
  }
  const pg = query as unknown as NodePgQuery;
  const { client, queryConfig, params } = pg;
  pg.execute = async (values = {}) => {
    const bound = fillPlaceholders(params, values);
    let rows: unknown[][];
    try {
      ({ rows } = await client.query(queryConfig, bound));
    } catch (err) {
      throw new DrizzleQueryError(queryConfig.text, bound, err as Error);
    }
    return rows.map(map);
  };
  return query;
}
