import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { FastifyReply } from "fastify";
import { Type } from "typebox";
import type { App } from "../../src/app.ts";
import { startTestApp } from "../helpers/app.ts";

/** A route whose answers drift from what it declares, as a careless new route would. */
function driftingRoute(app: App): void {
  app.get(
    "/api/contract-probe/",
    {
      schema: {
        tags: ["operations"],
        operationId: "contract_probe",
        summary: "Test only.",
        description: "Declares 200 with a uuid; answers otherwise on request.",
        querystring: Type.Object({ case: Type.String() }),
        response: { 200: Type.Object({ id: Type.String({ format: "uuid" }) }) },
      },
    },
    async (request, reply) => {
      // The typed reply refuses an undeclared status at compile time; the plain one does not.
      const plain: FastifyReply = reply;
      if (request.query.case === "status") return plain.code(418).send({ id: "" });
      if (request.query.case === "body") return { id: "not-a-uuid" };
      return { id: "5d0b8a52-3c1e-4f7a-9b2d-6e8f1a4c7b39" };
    },
  );
}

describe("every test response is checked against /api/schema/", () => {
  test("an undeclared status and a body off its schema fail the test that made them", async () => {
    const t = await startTestApp({ worker: false, modules: [driftingRoute] });
    let closed: unknown;
    try {
      const fine = await t.app.inject({ url: "/api/contract-probe/?case=fine" });
      assert.equal(fine.statusCode, 200, fine.body);

      const status = await t.app.inject({ url: "/api/contract-probe/?case=status" });
      assert.equal(status.statusCode, 500);
      assert.match(status.json().detail, /contract_probe 418: status not declared/);

      const body = await t.app.inject({ url: "/api/contract-probe/?case=body" });
      assert.equal(body.statusCode, 500);
      assert.match(body.json().detail, /contract_probe 200: body does not match its schema/);
      assert.match(body.json().detail, /must match format "uuid"/);

      // A query the route refuses is a 400 it never declared: the check sees the error handler's
      // answers too, not only the handler's.
      const refused = await t.app.inject({ url: "/api/contract-probe/" });
      assert.equal(refused.statusCode, 500);
      assert.match(refused.json().detail, /contract_probe 400: status not declared/);

      assert.equal(t.contractViolations.length, 3);
    } finally {
      closed = await t.close().then(
        () => undefined,
        (err: unknown) => err,
      );
    }
    assert.ok(closed instanceof Error, "closing an app that drifted fails");
    assert.match(closed.message, /responses that do not match \/api\/schema\//);
  });
});
