import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { auditCommands } from "../../src/audit/audit-cli.ts";
import { type AuditContext, recordAudit, withActor } from "../../src/audit/index.ts";
import type { CommandContext } from "../../src/platform/feature.ts";
import { bearer, type Registered, registerUser, startAccountsApp } from "../accounts/helpers.ts";
import type { TestApp } from "../helpers/app.ts";

// GET /api/subscriptions/history/ and `audit:list`: a user's own audit rows, newest first.

let t: TestApp;
let owner: Registered;
let other: Registered;
before(async () => {
  t = await startAccountsApp();
  owner = await registerUser(t.app);
  other = await registerUser(t.app);
  const { db } = t.services.database;
  const as = (context: AuditContext, userId: string, kinds: string[]) =>
    withActor(context, () =>
      db.transaction((tx) =>
        recordAudit(
          tx,
          kinds.map((kind, i) => ({
            userId,
            kind,
            subjectId: `sub_${i}`,
            before: { n: i },
            after: { n: i + 1 },
          })),
        ),
      ),
    );
  const mine = { actor: { kind: "user", userId: owner.id }, requestId: "req-own" } as const;
  await as(
    mine,
    owner.id,
    Array.from({ length: 22 }, (_, i) => `test.step_${i}`),
  );
  await as({ actor: { kind: "admin", userId: other.id }, requestId: "req-staff" }, owner.id, [
    "test.by_staff",
  ]);
  await as({ actor: { kind: "stripe_event", eventId: "evt_1" } }, owner.id, ["test.by_event"]);
  await as({ actor: { kind: "user", userId: other.id } }, other.id, ["test.other_user"]);
});
after(() => t?.close());

const history = (token: string | undefined, query = "") =>
  t.app.inject({
    method: "GET",
    url: `/api/subscriptions/history/${query}`,
    headers: token ? bearer(token) : {},
  });

describe("GET /api/subscriptions/history/", () => {
  test("needs a signed-in user", async () => {
    const res = await history(undefined);
    assert.equal(res.statusCode, 401);
    assert.deepEqual(res.json(), { detail: "Authentication credentials were not provided." });
  });

  test("the caller's own rows, newest first, 20 a page", async () => {
    const first = await history(owner.access);
    assert.equal(first.statusCode, 200, first.body);
    const page = first.json();
    assert.equal(page.count, 24);
    assert.equal(page.results.length, 20);
    assert.equal(page.previous, null);
    assert.match(page.next, /\/api\/subscriptions\/history\/\?page=2$/);
    const kinds = page.results.map((r: { kind: string }) => r.kind);
    assert.deepEqual(kinds.slice(0, 3), ["test.by_event", "test.by_staff", "test.step_21"]);
    const ids = page.results.map((r: { id: number }) => r.id);
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => b - a),
    );
    const second = (await history(owner.access, "?page=2")).json();
    assert.equal(second.results.length, 4);
    assert.equal(second.next, null);
    assert.ok(second.previous.endsWith("/api/subscriptions/history/"));
    assert.deepEqual(
      second.results.map((r: { kind: string }) => r.kind),
      ["test.step_3", "test.step_2", "test.step_1", "test.step_0"],
    );
    assert.equal((await history(owner.access, "?page=3")).statusCode, 404);
    assert.ok(!kinds.includes("test.other_user"));
  });

  test("a row shows its actor; the request id only of the caller's own requests, no staff id", async () => {
    const [byEvent, byStaff, own] = (await history(owner.access)).json().results;
    assert.deepEqual(byEvent.actor, { kind: "stripe_event", id: "evt_1" });
    assert.equal(byEvent.request_id, null);
    assert.deepEqual(byStaff.actor, { kind: "admin", id: null });
    assert.equal(byStaff.request_id, null);
    assert.deepEqual(own, {
      id: own.id,
      kind: "test.step_21",
      subject_id: "sub_21",
      actor: { kind: "user", id: owner.id },
      request_id: "req-own",
      reason: null,
      before: { n: 21 },
      after: { n: 22 },
      created_at: own.created_at,
    });
    const theirs = (await history(other.access)).json();
    assert.deepEqual(
      theirs.results.map((r: { kind: string }) => r.kind),
      ["test.other_user"],
    );
  });
});

describe("npm run cli -- audit:list", () => {
  const run = async (values: CommandContext["values"]) => {
    const lines: string[] = [];
    const command = auditCommands["audit:list"];
    assert.ok(command);
    const code = await command.run({
      config: t.config,
      logger: t.services.logger,
      values,
      positionals: [],
      services: t.services,
      out: (line) => lines.push(line),
      stdin: process.stdin,
    });
    return { code, lines };
  };

  test("prints the user's rows, newest first, with actor and request id", async () => {
    const { code, lines } = await run({ email: owner.email, limit: "3" });
    assert.equal(code, 0);
    assert.match(lines[0] ?? "", /^created_at\tkind\tsubject\tactor\trequest_id/);
    assert.match(lines[1] ?? "", /\ttest\.by_event\tsub_0\tstripe_event:evt_1\t-\t/);
    assert.match(
      lines[2] ?? "",
      new RegExp(`\\ttest\\.by_staff\\t.*\\tadmin:${other.id}\\treq-staff`),
    );
    assert.match(
      lines[3] ?? "",
      /\ttest\.step_21\tsub_21\tuser:.*\treq-own\t-\t\{"n":21\} -> \{"n":22\}$/,
    );
    assert.equal(lines[4], "(3 of 24; --limit shows more)");
  });

  test("an unknown email or a bad limit is a usage error", async () => {
    await assert.rejects(
      run({ email: "nobody@example.com" }),
      /No user with email nobody@example.com/,
    );
    await assert.rejects(run({ email: owner.email, limit: "0" }), /--limit/);
    await assert.rejects(run({}), /--email is required/);
  });
});
