import { count } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { prepared } from "../platform/db/prepared.ts";
import { stripeEvents } from "./webhook-tables.ts";

/** Stored events per processing status (`pending`, `retrying`, `failed`, …), for the overview. */
export async function countEventsByStatus(db: Executor): Promise<Record<string, number>> {
  const query = prepared(db, "count_events_by_status", (e) =>
    e
      .select({ status: stripeEvents.status, n: count() })
      .from(stripeEvents)
      .groupBy(stripeEvents.status)
      .prepare("count_events_by_status"),
  );
  const rows = await query.execute();
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
