import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { eq, sql } from "drizzle-orm";
import Fastify from "fastify";
import { Type } from "typebox";
import { purgeIdempotencyKeys } from "../../src/admin/admin-idempotency.ts";
import { adminIdempotencyKeys } from "../../src/admin/admin-tables.ts";
import { type AdminRoutes, adminRouteModules, adminWriteErrors } from "../../src/admin/index.ts";
import { guardAdminScope } from "../../src/admin/staff-guard.ts";
import type { App } from "../../src/app.ts";
import { currentActor } from "../../src/audit/index.ts";
import { queryRows } from "../../src/platform/db/client.ts";
import { errorSchemas } from "../../src/platform/http/error-schemas.ts";
import { bearer, type Registered, registerUser, startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";
import { makeStaff } from "./helpers.ts";

// The admin scope's guard, through a probe route added to the admin route modules as another
// module would add its own: the actor a handler sees after awaiting the database, the
// Idempotency-Key replay, and the per-staff throttle.

let calls = 0;
const probe: AdminRoutes = (app, deps) => {
  app.post(
    "/api/admin/test-probe/",
    {
      schema: {
        tags: ["admin"],
        operationId: "admin_test_probe",
        summary: "Test probe.",
        description: "Answers who the handler runs as.",
        body: Type.Object({ n: Type.Integer() }),
        response: {
          201: Type.Object({
            actor: Type.Object({ kind: Type.String(), userId: Type.String() }),
            request_id: Type.String(),
            call: Type.Integer(),
            n: Type.Integer(),
          }),
          ...adminWriteErrors(),
        },
      },
    },
    async (request, reply) => {
      // After an await on the database the handler still runs as the staff user.
      await queryRows(deps.database.db, sql`select 1`);
      const { actor, requestId } = currentActor();
      calls += 1;
      reply.code(201);
      return {
        actor: actor as { kind: string; userId: string },
        request_id: requestId ?? "",
        call: calls,
        n: request.body.n,
      };
    },
  );
};

let t: TestApp;
let staff: Registered;
before(async () => {
  adminRouteModules.push(probe);
  t = await startAccountsApp({ env: { THROTTLE_ADMIN: "30/min" } });
  adminRouteModules.pop();
  staff = await registerUser(t.app);
  await makeStaff(t.services.database.db, staff.id);
});
after(() => t?.close());

const post = (body: unknown, headers: Record<string, string> = {}, token = staff.access) =>
  t.app.inject({
    method: "POST",
    url: "/api/admin/test-probe/",
    headers: { ...bearer(token), ...headers },
    payload: body as object,
  });

describe("the admin scope", () => {
  test("a staff user's request runs as the admin actor with its request id", async () => {
    const res = await post({ n: 1 }, { "x-request-id": "req-admin-probe" });
    assert.equal(res.statusCode, 201, res.body);
    assert.deepEqual(res.json().actor, { kind: "admin", userId: staff.id });
    assert.equal(res.json().request_id, "req-admin-probe");
  });

  test("a retry with the same Idempotency-Key replays the first answer without running again", async () => {
    const key = randomUUID();
    const first = await post({ n: 2 }, { "idempotency-key": key });
    assert.equal(first.statusCode, 201, first.body);
    const again = await post({ n: 2 }, { "idempotency-key": key });
    assert.equal(again.statusCode, 201);
    assert.deepEqual(again.json(), first.json(), "the same body, call counter included");
    assert.equal(again.headers["idempotent-replayed"], "true");
    assert.equal(first.headers["idempotent-replayed"], undefined);

    const other = await post({ n: 3 }, { "idempotency-key": key });
    assert.equal(other.statusCode, 409);
    assert.match(other.json().detail, /different request/);

    const fresh = await post({ n: 2 }, { "idempotency-key": randomUUID() });
    assert.equal(fresh.json().call, first.json().call + 1, "a new key runs the handler");
  });

  test("two concurrent requests with one key run the handler once", async () => {
    const key = randomUUID();
    const before = calls;
    const answers = await Promise.all([
      post({ n: 8 }, { "idempotency-key": key }),
      post({ n: 8 }, { "idempotency-key": key }),
    ]);
    assert.equal(calls, before + 1);
    const statuses = answers.map((a) => a.statusCode).sort();
    assert.ok(
      JSON.stringify(statuses) === "[201,201]" || JSON.stringify(statuses) === "[201,409]",
      String(statuses),
    );
  });

  test("the hourly purge forgets keys older than ADMIN_IDEMPOTENCY_KEY_TTL", async () => {
    const { db } = t.services.database;
    const key = randomUUID();
    assert.equal((await post({ n: 9 }, { "idempotency-key": key })).statusCode, 201);
    const stored = () =>
      db.select().from(adminIdempotencyKeys).where(eq(adminIdempotencyKeys.key, key));
    await purgeIdempotencyKeys(db, 3600);
    assert.equal((await stored()).length, 1, "a recent key stays");
    await purgeIdempotencyKeys(db, 0);
    assert.equal((await stored()).length, 0, "an older one goes");
    const again = await post({ n: 9 }, { "idempotency-key": key });
    assert.equal(again.headers["idempotent-replayed"], undefined, "a purged key runs again");
  });

  test("a refused request releases its key: the corrected retry runs", async () => {
    const key = randomUUID();
    const bad = await post({ n: "x" }, { "idempotency-key": key });
    assert.equal(bad.statusCode, 400);
    const good = await post({ n: 4 }, { "idempotency-key": key });
    assert.equal(good.statusCode, 201, good.body);
  });

  test("keys are per staff user", async () => {
    const other = await registerUser(t.app);
    await makeStaff(t.services.database.db, other.id);
    const key = randomUUID();
    const mine = await post({ n: 5 }, { "idempotency-key": key });
    const theirs = await post({ n: 6 }, { "idempotency-key": key }, other.access);
    assert.equal(mine.statusCode, 201);
    assert.equal(theirs.statusCode, 201, "another staff user's key does not clash");
    assert.equal(theirs.json().n, 6);
  });

  test("a key longer than 255 characters is a field error", async () => {
    const res = await post({ n: 7 }, { "idempotency-key": "k".repeat(256) });
    assert.equal(res.statusCode, 400);
  });

  test("THROTTLE_ADMIN counts each staff user's requests", async () => {
    const busy = await registerUser(t.app);
    await makeStaff(t.services.database.db, busy.id);
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) statuses.push((await post({ n: i }, {}, busy.access)).statusCode);
    assert.deepEqual(statuses, Array(30).fill(201));
    const over = await post({ n: 30 }, {}, busy.access);
    assert.equal(over.statusCode, 429);
    assert.ok(Number(over.headers["retry-after"]) >= 1);
    const calm = await registerUser(t.app);
    await makeStaff(t.services.database.db, calm.id);
    assert.equal((await post({ n: 21 }, {}, calm.access)).statusCode, 201, "others are not held");
  });
});

describe("registering an admin route", () => {
  const attempt = async (url: string, schema: Record<string, unknown>) => {
    const app = Fastify() as unknown as App;
    for (const shape of errorSchemas) app.addSchema(shape);
    guardAdminScope(app, t.services, async () => {});
    app.get(url, { schema }, async () => ({}));
    try {
      await app.ready();
    } finally {
      await app.close();
    }
  };
  const complete = { tags: ["admin"], description: "A route.", response: adminWriteErrors() };

  test("fails when the route forgets the admin failures, tag or description", async () => {
    await attempt("/api/admin/fine/", complete);
    await assert.rejects(
      attempt("/api/admin/no-errors/", { ...complete, response: { 200: Type.Object({}) } }),
      /must have the "admin" tag, a description, and declare 401, 403, 429/,
    );
    await assert.rejects(
      attempt("/api/admin/no-tag/", { ...complete, tags: ["x"] }),
      /"admin" tag/,
    );
    await assert.rejects(
      attempt("/api/admin/no-description/", { ...complete, description: undefined }),
      /a description/,
    );
  });

  test("fails outside /api/admin/", async () => {
    await assert.rejects(attempt("/api/elsewhere/", complete), /must be under \/api\/admin\//);
  });
});
