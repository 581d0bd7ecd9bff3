import { count } from "drizzle-orm";
import type { Executor } from "../platform/db/client.ts";
import { stripeEvents } from "./webhook-tables.ts";

/** Stored events per processing status (`pending`, `retrying`, `failed`, …), for the overview. */
export async function countEventsByStatus(db: Executor): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: stripeEvents.status, n: count() })
    .from(stripeEvents)
    .groupBy(stripeEvents.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}
