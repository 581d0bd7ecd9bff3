import assert from "node:assert/strict";
import { auditLog } from "../../src/audit/audit-tables.ts";
import type { Db } from "../../src/platform/db/client.ts";
import type { Captured } from "./lives.ts";

/**
 * Each user's audit rows without our ids, times and the id of the event that caused each (a
 * shuffled storm may learn a change from another of the events that report it); sorted.
 */
async function auditTrail(db: Db): Promise<Map<string, string[]>> {
  const byUser = new Map<string, string[]>();
  for (const r of await db.select().from(auditLog)) {
    const { kind, subjectId, actorKind, reason, before, after } = r;
    const row = JSON.stringify({ kind, subjectId, actorKind, reason, before, after });
    byUser.set(r.userId ?? "", [...(byUser.get(r.userId ?? "") ?? []), row]);
  }
  for (const rows of byUser.values()) rows.sort();
  return byUser;
}

/**
 * The storm's audit trail equals the in-order delivery's, each transition recorded once, every row
 * caused by one of the stored events; and the lives' kinds of transition are all there.
 */
export async function assertSameAuditTrail(db: Db, reference: Db, events: Captured[]) {
  const expected = await auditTrail(reference);
  const actual = await auditTrail(db);
  for (const [user, want] of expected) {
    assert.equal(new Set(want).size, want.length, `user ${user}: the reference repeats a row`);
    assert.deepEqual(actual.get(user), want, `audit trail of user ${user}`);
  }
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort());
  const ids = new Set(events.map((e) => e.id));
  const actors = await db.select({ kind: auditLog.actorKind, id: auditLog.actorId }).from(auditLog);
  assert.ok(actors.every((a) => a.kind === "stripe_event" && ids.has(a.id ?? "")));
  const kinds = new Set([...expected.values()].flat().map((row) => JSON.parse(row).kind));
  for (const kind of [
    "subscription.created",
    "payment.recorded",
    "payment.failed",
    "payment.refunded",
  ]) {
    assert.ok(kinds.has(kind), `${kind} in ${[...kinds].join(", ")}`);
  }
  return actors.length;
}
