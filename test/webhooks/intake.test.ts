import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq, inArray, sql } from "drizzle-orm";
import type Stripe from "stripe";
import { openDatabase, queryRows } from "../../src/platform/db/client.ts";
import { PROCESS_EVENT_QUEUE } from "../../src/webhooks/webhook-jobs.ts";
import { EventStore } from "../../src/webhooks/webhook-service.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { signPayload } from "../../stripe-emulator/index.ts";
import { type BillingTestApp, startBillingApp, WEBHOOK_SECRET } from "../helpers/billing.ts";
import { TEST_DATABASE_URL } from "../helpers/database.ts";
import { waitFor } from "../helpers/wait.ts";

let t: BillingTestApp;
before(async () => {
  t = await startBillingApp();
});
after(() => t?.close());

function event(type = "product.created") {
  const id = `evt_test_${randomBytes(8).toString("hex")}`;
  return {
    id,
    body: JSON.stringify({
      id,
      object: "event",
      api_version: "2026-10-28.endive",
      created: Math.floor(Date.now() / 1000),
      type,
      data: { object: { id: "prod_x", object: "product" } },
      livemode: false,
      pending_webhooks: 1,
      request: { id: null, idempotency_key: null },
    }),
  };
}

async function post(body: string, signature?: string) {
  const res = await fetch(`${t.url}/api/webhooks/stripe/`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      ...(signature === undefined ? {} : { "stripe-signature": signature }),
    },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

const now = () => Math.floor(Date.now() / 1000);

async function stored(id: string) {
  return t.services.database.db.select().from(stripeEvents).where(eq(stripeEvents.id, id));
}

describe("webhook intake", () => {
  test("a signed event is stored once and answered 200, also when delivered again", async () => {
    const e = event();
    const sig = signPayload(e.body, WEBHOOK_SECRET, now());
    const first = await post(e.body, sig);
    assert.equal(first.status, 200);
    assert.deepEqual(first.body, { received: true, duplicate: false });
    const second = await post(e.body, sig);
    assert.deepEqual(second.body, { received: true, duplicate: true });
    const rows = await waitFor(async () => {
      const r = await stored(e.id);
      return r[0]?.status === "ignored" && r;
    });
    assert.equal(rows.length, 1);
    assert.equal(rows[0]?.type, "product.created");
    assert.equal(rows[0]?.apiVersion, "2026-10-28.endive");
  });

  test("a bad signature, a missing one, a stale timestamp or a malformed body is a 400 and stores nothing", async () => {
    const e = event("invoice.paid");
    const cases: [string, string, string | undefined][] = [
      ["wrong secret", e.body, signPayload(e.body, "whsec_wrong", now())],
      [
        "tampered body",
        e.body.replace("invoice.paid", "invoice.void"),
        signPayload(e.body, WEBHOOK_SECRET, now()),
      ],
      ["missing header", e.body, undefined],
      ["garbage header", e.body, "nonsense"],
      ["stale timestamp", e.body, signPayload(e.body, WEBHOOK_SECRET, now() - 301)],
      ["not JSON", "{not json", signPayload("{not json", WEBHOOK_SECRET, now())],
      [
        "not an event",
        '{"hello":"world"}',
        signPayload('{"hello":"world"}', WEBHOOK_SECRET, now()),
      ],
    ];
    for (const [what, body, sig] of cases) {
      const res = await post(body, sig);
      assert.equal(res.status, 400, what);
      assert.equal(typeof res.body.error, "string", what);
    }
    assert.deepEqual(await stored(e.id), []);
  });

  test("concurrent deliveries, redeliveries among them, store each event once with one job", async () => {
    const events = Array.from({ length: 20 }, () => event());
    const deliveries = [...events, ...events].map((e) => ({
      id: e.id,
      post: post(e.body, signPayload(e.body, WEBHOOK_SECRET, now())),
    }));
    const answers = await Promise.all(
      deliveries.map(async (d) => ({ id: d.id, ...(await d.post) })),
    );
    for (const e of events) {
      const mine = answers.filter((a) => a.id === e.id);
      assert.deepEqual(
        mine.map((a) => a.status),
        [200, 200],
      );
      assert.equal(mine.filter((a) => a.body.duplicate === false).length, 1, e.id);
    }
    const ids = events.map((e) => e.id);
    const rows = await t.services.database.db
      .select({ id: stripeEvents.id })
      .from(stripeEvents)
      .where(inArray(stripeEvents.id, ids));
    assert.equal(rows.length, ids.length);
    const jobs = await queryRows<{ key: string }>(
      t.services.database.db,
      sql`select singleton_key as key from pgboss.job
          where name = ${PROCESS_EVENT_QUEUE} and singleton_key in ${ids}`,
    );
    assert.deepEqual(jobs.map((j) => j.key).sort(), ids.toSorted());
  });

  test("an event the database refuses fails alone, not the events stored with it", async () => {
    const store = new EventStore({ db: t.services.database.db, jobs: t.services.jobs });
    const parse = (e: { body: string }) => JSON.parse(e.body) as Stripe.Event;
    const [good1, good2, good3] = [event(), event(), event()].map(parse) as Stripe.Event[];
    // jsonb cannot hold U+0000: PostgreSQL refuses the row.
    const bad = { ...parse(event()), data: { object: { id: "prod_\u0000", object: "product" } } };
    // Stored without awaiting in between: the first goes alone, the other four in one batch.
    const results = await Promise.allSettled(
      [good1, good2, bad, good3, good2].map((e) => store.store(e as Stripe.Event)),
    );
    assert.deepEqual(
      results.map((r) => (r.status === "fulfilled" ? r.value : "rejected")),
      [false, false, "rejected", false, true],
    );
    const refused = results[2] as PromiseRejectedResult;
    assert.equal((refused.reason as Error).message, "Invalid payload.");
    assert.deepEqual(await stored(bad.id), []);
    for (const e of [good1, good2, good3] as Stripe.Event[]) {
      assert.equal((await stored(e.id)).length, 1, e.id);
    }
  });

  test("a batch's insert is one prepared statement per batch size, on each connection", {
    skip: !TEST_DATABASE_URL && "needs TEST_DATABASE_URL (PostgreSQL keeps named statements)",
  }, async () => {
    // One connection, so the statements it keeps are the ones every batch below used.
    const single = await openDatabase({ url: t.testDatabase.url, poolMax: 1 });
    try {
      const store = new EventStore({ db: single.db, jobs: t.services.jobs });
      const storeTogether = (n: number) =>
        Promise.all(
          Array.from({ length: n }, () => store.store(JSON.parse(event().body) as Stripe.Event)),
        );
      const names = async () =>
        (
          await queryRows<{ name: string }>(
            single.db,
            sql`select name from pg_prepared_statements
                where statement like 'insert into "stripe_events"%' order by name`,
          )
        ).map((row) => row.name);
      // Stored without awaiting in between: the first goes alone, the other two in one batch.
      assert.deepEqual(await storeTogether(3), [false, false, false]);
      assert.deepEqual(await names(), ["stripe_events_insert_1", "stripe_events_insert_2"]);
      await storeTogether(3);
      assert.deepEqual(await names(), ["stripe_events_insert_1", "stripe_events_insert_2"]);
    } finally {
      await single.close();
    }
  });

  test("an event without api_version is stored like any other, alone and in a batch", async () => {
    const store = new EventStore({ db: t.services.database.db, jobs: t.services.jobs });
    const parse = (e: { body: string }) => JSON.parse(e.body) as Stripe.Event;
    const bare = () => {
      const { api_version: _, ...rest } = parse(event());
      return rest as Stripe.Event;
    };
    // Alone, then one of a batch with regular events, then a batch of the same size as that one
    // with regular events only: whichever came first, the others are stored too.
    assert.deepEqual(await store.store(bare()), false);
    const mixed = [parse(event()), bare(), parse(event())];
    assert.deepEqual(await Promise.all(mixed.map((e) => store.store(e))), [false, false, false]);
    const regular = [parse(event()), parse(event()), parse(event())];
    assert.deepEqual(await Promise.all(regular.map((e) => store.store(e))), [false, false, false]);
    for (const e of [...mixed, ...regular]) assert.equal((await stored(e.id)).length, 1, e.id);
  });

  test("only the webhook route takes raw bodies: JSON routes still parse JSON", async () => {
    const res = await t.http("POST", "/api/auth/login/", { body: { email: "x@example.com" } });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, { password: ["This field is required."] });
  });
});
