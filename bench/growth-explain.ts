import { drizzle } from "drizzle-orm/node-postgres";
import type pg from "pg";
import { getUserById } from "../src/accounts/accounts-service.ts";
import { listPayments } from "../src/billing/payments-service.ts";
import { currentSubscription } from "../src/billing/subscription-queries.ts";
import type { Db } from "../src/platform/db/client.ts";
import { PAGE_SIZE } from "../src/platform/http/pagination.ts";
import { stripeEvents } from "../src/webhooks/webhook-tables.ts";

/** What one query cost at one size: EXPLAIN (ANALYZE, BUFFERS) of the SQL the service issued. */
export interface Explained {
  /** Pages touched (shared hits + reads): the size-independent measure latency noise cannot blur. */
  buffers: number;
  ms: number;
  /** The plan's scans and sorts, outermost first. */
  plan: string;
}

interface Captured {
  sql: string;
  params: unknown[];
}

/**
 * Runs `work` through the production service functions on a Drizzle instance that records each
 * statement, so what is explained is exactly what the endpoint sends, not a copy that can drift.
 */
async function capture(client: pg.PoolClient, work: (db: Db) => Promise<unknown>) {
  const queries: Captured[] = [];
  const db = drizzle({
    client,
    casing: "snake_case",
    logger: { logQuery: (sql, params) => queries.push({ sql, params }) },
  });
  await work(db);
  return queries;
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Relation Name"?: string;
  "Shared Hit Blocks"?: number;
  "Shared Read Blocks"?: number;
  "Heap Fetches"?: number;
  Plans?: PlanNode[];
}

function describe(node: PlanNode): string[] {
  const target = node["Index Name"] ?? node["Relation Name"];
  const fetches =
    node["Heap Fetches"] === undefined ? "" : ` (heap fetches ${node["Heap Fetches"]})`;
  const self = /Scan|Sort|ModifyTable|Aggregate/.test(node["Node Type"])
    ? [`${node["Node Type"]}${target ? ` ${target}` : ""}${fetches}`]
    : [];
  return [...self, ...(node.Plans ?? []).flatMap(describe)];
}

async function explain(client: pg.PoolClient, queries: Captured[]): Promise<Explained> {
  let buffers = 0;
  let ms = 0;
  const plans: string[] = [];
  for (const q of queries) {
    const { rows } = await client.query<{
      "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }];
    }>(`explain (analyze, buffers, format json) ${q.sql}`, q.params);
    const [top] = rows[0]?.["QUERY PLAN"] ?? [];
    if (!top) continue;
    buffers += (top.Plan["Shared Hit Blocks"] ?? 0) + (top.Plan["Shared Read Blocks"] ?? 0);
    ms += top["Execution Time"];
    plans.push(describe(top.Plan).join(" › "));
  }
  return { buffers, ms: Math.round(ms * 1000) / 1000, plan: plans.join("; ") };
}

async function rolledBack<T>(client: pg.PoolClient, work: () => Promise<T>): Promise<T> {
  await client.query("begin");
  try {
    return await work();
  } finally {
    await client.query("rollback");
  }
}

/**
 * The queries behind the measured endpoints, each run once (warm) and then explained: the
 * authenticated user, the current subscription (status), the payments count and page 1 and a deep
 * page (payments), and the event insert of webhook intake (rolled back).
 */
export async function explainQueries(
  client: pg.PoolClient,
  at: { userId: string; heavyUserId: string; deepPage: number },
): Promise<Record<string, Explained>> {
  const page = (n: number) => ({ page: n, limit: PAGE_SIZE, offset: (n - 1) * PAGE_SIZE });
  const listed = (n: number) => capture(client, (db) => listPayments(db, at.heavyUserId, page(n)));
  const [count, ...firstPage] = await listed(1);
  const [, ...deepPage] = await listed(at.deepPage);
  const out: Record<string, Explained> = {
    user: await explain(client, await capture(client, (db) => getUserById(db, at.userId))),
    subscription: await explain(
      client,
      await capture(client, (db) => currentSubscription(db, at.userId)),
    ),
    paymentsCount: await explain(client, count ? [count] : []),
    paymentsFirstPage: await explain(client, firstPage),
    paymentsDeepPage: await explain(client, deepPage),
  };
  // The intake's insert as webhook-service issues it (its pg-boss job insert is not included),
  // captured and explained in transactions that are rolled back.
  const id = `evt_growth_explain_${Date.now()}`;
  const insert = await rolledBack(client, () =>
    capture(client, (db) =>
      db
        .insert(stripeEvents)
        .values({ id, type: "invoice.paid", created: new Date(), payload: { id } })
        .onConflictDoNothing()
        .returning({ id: stripeEvents.id }),
    ),
  );
  out.eventInsert = await rolledBack(client, () => explain(client, insert));
  return out;
}
