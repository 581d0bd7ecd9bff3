import assert from "node:assert/strict";
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq } from "drizzle-orm";
import { Type } from "typebox";
import {
  EventRejected,
  type EventSource,
  type EventsHandler,
  type IncomingEvent,
} from "../../src/webhooks/index.ts";
import { processEventJob } from "../../src/webhooks/webhook-jobs.ts";
import { listEvents, replayEvent } from "../../src/webhooks/webhook-ledger.ts";
import { webhookModule } from "../../src/webhooks/webhook-module.ts";
import { stripeEvents } from "../../src/webhooks/webhook-tables.ts";
import { startTestApp, type TestApp } from "../helpers/app.ts";
import { waitFor } from "../helpers/wait.ts";

// The ledger is not Stripe's: a made-up sender, "Acme", with its own envelope (no `object`, no
// `data`) and its own signature (`Acme-Signature: sha256=<hex HMAC of the body>`), mounted with its
// own handler, goes through the same intake, queue, outcomes and replay as Stripe's events.

const SECRET = "acme-test-secret";

const sign = (body: string, secret = SECRET) =>
  `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

function acmeVerifier(secret: string) {
  return {
    verify(rawBody: Buffer, signature: string): IncomingEvent {
      const expected = Buffer.from(sign(rawBody.toString("utf8"), secret));
      const given = Buffer.from(signature);
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new EventRejected("Invalid signature.");
      }
      try {
        // The ledger checks the envelope (id, type, created) itself.
        return JSON.parse(rawBody.toString("utf8")) as IncomingEvent;
      } catch {
        throw new EventRejected("Invalid payload.");
      }
    },
  };
}

function acmeSource(name: string, secret: string | undefined): EventSource {
  return {
    name,
    signatureHeader: "Acme-Signature",
    verifier: () =>
      secret ? acmeVerifier(secret) : { unavailable: "Acme signing secret is not configured." },
    docs: {
      summary: "Acme event intake.",
      description: "Acme's events, signed with HMAC-SHA256.",
      signature: "`sha256=<hex HMAC of the raw body>`.",
      body: Type.Object({ id: Type.String(), type: Type.String(), created: Type.Integer() }),
      accepted: "Stored once.",
      rejected: "No or invalid Acme-Signature, or not an event.",
      unavailable: "No Acme secret.",
    },
  };
}

/** What the Acme handler was handed, by event id; `widget.shipped` is the one type it acts on. */
const handled: string[] = [];
const acmeHandler: EventsHandler<unknown> = async (_deps, events) =>
  events.map((event) => {
    handled.push(event.id);
    return event.type === "widget.shipped" ? "processed" : "ignored";
  });

let t: TestApp;
before(async () => {
  t = await startTestApp({
    modules: [
      webhookModule(acmeSource("acme", SECRET)),
      webhookModule(acmeSource("acme-closed", undefined)),
    ],
    jobs: [processEventJob(acmeHandler)],
  });
});
after(() => t?.close());

function acmeEvent(type = "widget.shipped") {
  const event = {
    id: `acme_${randomBytes(8).toString("hex")}`,
    type,
    created: 1_700_000_000,
    widget: { sku: "W-1", quantity: 3 },
  };
  return { event, body: JSON.stringify(event) };
}

const post = (body: string, headers: Record<string, string>, path = "/api/webhooks/acme/") =>
  t.app.inject({
    method: "POST",
    url: path,
    headers: { "content-type": "application/json", ...headers },
    payload: body,
  });

const stored = (id: string) =>
  t.services.database.db.select().from(stripeEvents).where(eq(stripeEvents.id, id));

const statusOf = async (id: string) => (await stored(id))[0]?.status;

describe("the webhook ledger with a sender other than Stripe", () => {
  test("a signed event is stored once, processed by its own handler, then replayed", async () => {
    const { event, body } = acmeEvent();
    const first = await post(body, { "acme-signature": sign(body) });
    assert.equal(first.statusCode, 200);
    assert.deepEqual(first.json(), { received: true, duplicate: false });
    const again = await post(body, { "acme-signature": sign(body) });
    assert.deepEqual(again.json(), { received: true, duplicate: true });

    await waitFor(async () => (await statusOf(event.id)) === "processed", {
      what: `${event.id} processed`,
    });
    const [row] = await stored(event.id);
    assert.equal(row?.type, "widget.shipped");
    assert.equal(row?.created.getTime(), event.created * 1000);
    assert.equal(row?.apiVersion, null);
    assert.deepEqual(row?.payload, event);
    assert.equal(row?.attempts, 1);
    assert.deepEqual(
      handled.filter((id) => id === event.id),
      [event.id],
    );

    const listed = await listEvents(t.services.database.db, { limit: 100 });
    assert.ok(listed.some((e) => e.id === event.id && e.status === "processed"));

    const replayed = await replayEvent(
      { db: t.services.database.db },
      (events, batch) => acmeHandler(undefined, events, batch),
      event.id,
    );
    assert.equal(replayed, "processed");
    assert.equal((await stored(event.id))[0]?.attempts, 2);
  });

  test("a type the handler does not act on is acknowledged and recorded as ignored", async () => {
    const { event, body } = acmeEvent("widget.painted");
    assert.equal((await post(body, { "acme-signature": sign(body) })).statusCode, 200);
    await waitFor(async () => (await statusOf(event.id)) === "ignored", {
      what: `${event.id} ignored`,
    });
  });

  test("a request the source refuses is a 400 in its words, and nothing is stored", async () => {
    const { event, body } = acmeEvent();
    const cases: [Record<string, string>, string, string][] = [
      [{}, body, "Missing Acme-Signature header."],
      [{ "acme-signature": sign(body, "another-secret") }, body, "Invalid signature."],
      [{ "acme-signature": sign("{}") }, body, "Invalid signature."],
      // Genuinely signed, but not an event: the ledger's own envelope check refuses it.
      [{ "acme-signature": sign('{"id":""}') }, '{"id":""}', "Invalid payload."],
      [{ "acme-signature": sign("not json") }, "not json", "Invalid payload."],
    ];
    for (const [headers, payload, error] of cases) {
      const res = await post(payload, headers);
      assert.equal(res.statusCode, 400, error);
      assert.deepEqual(res.json(), { error });
    }
    assert.deepEqual(await stored(event.id), []);
  });

  test("a source that cannot verify answers 503 with its own message", async () => {
    const { event, body } = acmeEvent();
    const res = await post(body, { "acme-signature": sign(body) }, "/api/webhooks/acme-closed/");
    assert.equal(res.statusCode, 503);
    assert.deepEqual(res.json(), { error: "Acme signing secret is not configured." });
    assert.deepEqual(await stored(event.id), []);
  });

  test("the OpenAPI document describes the source's route with its own header", async () => {
    const doc = (await t.app.inject({ method: "GET", url: "/api/schema/" })).json();
    const operation = doc.paths["/api/webhooks/acme/"]?.post;
    assert.equal(operation?.operationId, "webhooks_acme");
    assert.equal(operation?.summary, "Acme event intake.");
    assert.deepEqual(
      operation?.parameters?.map((p: { in: string; name: string }) => `${p.in}:${p.name}`),
      ["header:acme-signature"],
    );
    assert.equal(doc.paths["/api/webhooks/stripe/"], undefined);
  });
});
