import pg from "pg";

/**
 * Makes the pool's named array-mode queries (what Drizzle sends for a `.prepare(name)`d select: every
 * `prepared()` query of the request hot path) ask PostgreSQL to describe their result once per
 * statement, not on every execution.
 *
 * node-postgres sends Parse once per connection for a named statement, but Bind, Describe,
 * Execute and Sync every time, and parses each answer's RowDescription into field objects and a
 * fresh parser per column: for status's 42 columns, with the signed-in user's 14, the largest
 * single cost of an authenticated GET after the socket writes, and a fifth of what it allocates
 * (docs/performance.md, 'CPU per request, issue 26'). A statement's columns and their types never
 * change for its text, so `PreparedRead` describes it on its first execution, keeps the column
 * parsers the query's own `types` give (Drizzle's: timestamps stay strings for its decoders), and
 * from then on sends Bind, Execute and Sync only. Rows come out exactly as `rowMode: "array"`
 * gives them, so Drizzle maps them as before; everything else goes through pg's own `Query`.
 *
 * It uses pg's documented extension point for custom queries (a `Submittable`, as pg-cursor and
 * pg-query-stream do) and pg's own protocol writer and value serializer. Transactions take a client
 * from the pool and query it directly: their statements are unchanged.
 */
export function describeStatementsOnce(pool: pg.Pool): pg.Pool {
  /** Each statement's column parsers, learnt from its first execution's RowDescription. */
  const known: Known = new Map();
  const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
  pool.query = ((config: unknown, values?: unknown, callback?: unknown) => {
    if (isNamedArrayQuery(config) && callback === undefined && typeof values !== "function") {
      return query(new PreparedRead(config, values as unknown[] | undefined, known));
    }
    return query(config, values, callback);
  }) as pg.Pool["query"];
  return pool;
}

type Parser = (text: string) => unknown;
/** By statement name: its text and its columns' parsers. */
type Known = Map<string, { text: string; parsers: Parser[] }>;

interface NamedArrayQuery {
  name: string;
  text: string;
  rowMode: "array";
  values?: unknown[];
  types?: { getTypeParser(oid: number, format: string): Parser };
}

function isNamedArrayQuery(config: unknown): config is NamedArrayQuery {
  if (typeof config !== "object" || config === null) return false;
  const q = config as Partial<NamedArrayQuery>;
  return q.rowMode === "array" && typeof q.name === "string" && typeof q.text === "string";
}

/** The parts of pg's connection and protocol messages a `Submittable` sees (pg 8). */
interface Connection {
  stream: { cork?(): void; uncork?(): void };
  parsedStatements: Record<string, string>;
  submittedNamedStatements: Record<string, string>;
  parse(message: { text: string; name: string; types: number[] }): void;
  bind(message: {
    portal: string;
    statement: string;
    values: unknown[];
    binary: boolean;
    valueMapper: (value: unknown) => unknown;
  }): void;
  describe(message: { type: "P"; name: string }): void;
  execute(message: { portal: string }): void;
  close(message: { type: "S"; name: string }): void;
  sync(): void;
  sendCopyFail(message: string): void;
}

// pg's own serializer of bound values (Dates, arrays, JSON, buffers), as its `Query` uses.
const { prepareValue } = (pg as unknown as { utils: { prepareValue(value: unknown): unknown } })
  .utils;

/** One execution of a named statement; pg's client calls these as the answer arrives. */
class PreparedRead {
  readonly name: string;
  readonly text: string;
  /** Set by pg's client (the pool's query passes its own), called once with the outcome. */
  callback?: (err: Error | null, result?: { rows: unknown[][] }) => void;
  readonly #values: unknown[];
  readonly #types: NonNullable<NamedArrayQuery["types"]>;
  readonly #known: Known;
  #parsers: Parser[] | undefined;
  readonly #rows: unknown[][] = [];
  #failure: Error | undefined;

  constructor(config: NamedArrayQuery, values: unknown[] | undefined, known: Known) {
    this.name = config.name;
    this.text = config.text;
    this.#values = values ?? config.values ?? [];
    this.#types = config.types ?? (pg.types as unknown as NonNullable<NamedArrayQuery["types"]>);
    this.#known = known;
    const described = known.get(config.name);
    // Another text under a known name is refused by `submit` on a connection that has the
    // statement; on one that has not, it is described afresh.
    this.#parsers = described?.text === config.text ? described.parsers : undefined;
  }

  submit(connection: Connection): Error | null {
    const previous =
      connection.parsedStatements[this.name] ?? connection.submittedNamedStatements[this.name];
    if (previous !== undefined && previous !== this.text) {
      return new Error(
        `Prepared statements must be unique - '${this.name}' was used for a different statement`,
      );
    }
    // One write for all the messages, as pg's Query does.
    connection.stream.cork?.();
    try {
      if (previous === undefined) {
        connection.parse({ text: this.text, name: this.name, types: [] });
        connection.submittedNamedStatements[this.name] = this.text;
      }
      try {
        connection.bind({
          portal: "",
          statement: this.name,
          values: this.#values,
          binary: false,
          valueMapper: prepareValue,
        });
      } catch (err) {
        // A value pg cannot serialize: end the exchange the way pg's Query does.
        connection.close({ type: "S", name: this.name });
        connection.sync();
        this.handleError(err as Error);
        return null;
      }
      if (!this.#parsers) connection.describe({ type: "P", name: "" });
      connection.execute({ portal: "" });
      connection.sync();
    } finally {
      connection.stream.uncork?.();
    }
    return null;
  }

  handleRowDescription(message: { fields: { dataTypeID: number; format: string }[] }): void {
    const parsers = message.fields.map((field) =>
      this.#types.getTypeParser(field.dataTypeID, field.format || "text"),
    );
    this.#parsers = parsers;
    this.#known.set(this.name, { text: this.text, parsers });
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    if (this.#failure) return;
    const parsers = this.#parsers;
    if (!parsers) {
      this.#failure = new Error(`No row description for prepared statement '${this.name}'`);
      return;
    }
    const fields = message.fields;
    const row = new Array<unknown>(fields.length);
    try {
      for (let i = 0; i < fields.length; i++) {
        const text = fields[i];
        row[i] = text === null || text === undefined ? null : (parsers[i] as Parser)(text);
      }
    } catch (err) {
      this.#failure = err as Error;
      return;
    }
    this.#rows.push(row);
  }

  handleError(err: Error): void {
    const failure = this.#failure ?? err;
    this.#failure = undefined;
    this.callback?.(failure);
  }

  handleReadyForQuery(): void {
    if (this.#failure) this.handleError(this.#failure);
    else this.callback?.(null, { rows: this.#rows });
  }

  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}

  handleCopyInResponse(connection: Connection): void {
    connection.sendCopyFail("No source stream defined");
  }
}
