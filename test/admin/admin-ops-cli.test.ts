import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { adminOpsCommands } from "../../src/admin/admin-ops-cli.ts";
import { type BillingTestApp, startBillingApp } from "../helpers/billing.ts";
import { runCommand } from "../helpers/commands.ts";
import { auditRows } from "./ops-helpers.ts";

// The operations support tasks from the CLI: the admin API's services, the same checks at Stripe,
// audited with the CLI as actor.

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

const run = (name: string, args: string[] = []) => runCommand(t, adminOpsCommands, name, args);

describe("admin operations from the CLI", () => {
  test("payments:refund refunds at Stripe; the webhook records it once; too much is a usage error", async () => {
    const buyer = await t.signUp();
    const plan = await t.plan({ amount: 2200 });
    assert.equal((await t.subscribe(buyer, plan.id)).status, 201);
    await t.settle();
    const [paid] = await t.paymentsOf(buyer.userId);
    assert.ok(paid?.stripeChargeId);

    const over = await run("payments:refund", [paid.id, "--amount", "2201"]);
    assert.equal(over.code, 2);
    assert.match(over.out, /less than or equal to 2200/);

    const res = await run("payments:refund", [paid.id, "--amount", "700"]);
    assert.equal(res.code, 0, res.out);
    assert.match(res.out, /^re_\w+: 7\.00 usd succeeded, 15\.00 left to refund$/);
    const refunds = await t.stripe.refunds.list({ charge: paid.stripeChargeId });
    assert.deepEqual(
      refunds.data.map((r) => r.amount),
      [700],
    );
    await t.settle();
    const rows = (await t.paymentsOf(buyer.userId)).map((p) => `${p.status}:${p.amount}`);
    assert.deepEqual(rows.toSorted(), ["refunded:700", "succeeded:2200"]);
    const [audit] = await auditRows(
      t.services.database.db,
      "admin.refund_requested",
      refunds.data[0]?.id ?? "",
    );
    assert.equal(audit?.actorKind, "system");
    assert.equal(audit?.actorId, "cli");
    assert.equal(audit?.reason, "payments:refund");
  });

  test("jobs:dead, jobs:retry, emails:retry and webhooks:replay-failed answer plainly when there is nothing to do", async () => {
    assert.deepEqual(await run("jobs:dead"), { code: 0, out: "no dead-lettered jobs" });
    assert.deepEqual(await run("jobs:retry", [randomUUID()]), {
      code: 2,
      out: "Error: No dead-lettered job with this id.",
    });
    assert.deepEqual(await run("emails:retry", [randomUUID()]), {
      code: 2,
      out: "Error: Email not found.",
    });
    assert.equal((await run("emails:retry")).code, 2);
    assert.deepEqual(await run("jobs:retry", ["nope"]), {
      code: 2,
      out: `Error: "nope" is not a dead-lettered job's id (jobs:dead)`,
    });
    assert.equal((await run("payments:refund", ["evt_1"])).code, 2);
    assert.equal((await run("jobs:dead", ["--limit", "0"])).code, 2);
    assert.deepEqual(await run("webhooks:replay-failed"), {
      code: 0,
      out: "0 event(s) queued, 0 failed event(s) left",
    });
  });
});
