import assert from "node:assert/strict";
import { request } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "node:test";
import { sql } from "drizzle-orm";
import type { AppModule } from "../../src/platform/feature.ts";
import { startTestApp } from "../helpers/app.ts";

test("shutdown closes the database only after a handler whose client hung up has finished", async () => {
  const entered = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<void>();
  const resume = Promise.withResolvers<void>();
  const finished = Promise.withResolvers<void>();
  let outcome: { statements: number; error?: string } | undefined;
  // A handler still at work when its client gives up (a slow login, a checkout): it goes on once
  // the shutdown waits for it, or else once the database is closed, and then runs its statements.
  const slow: AppModule = (app, deps) => {
    app.addHook("onRequestAbort", (_request, done) => {
      aborted.resolve();
      done();
    });
    app.get("/test/slow", async () => {
      entered.resolve();
      await resume.promise;
      let statements = 0;
      try {
        for (; statements < 5; statements++) await deps.database.db.execute(sql`select 1`);
        outcome = { statements };
      } catch (error) {
        outcome = { statements, error: String(error) };
      } finally {
        finished.resolve();
      }
      return { statements };
    });
  };
  const logs: string[] = [];
  const t = await startTestApp({
    modules: [slow],
    worker: false,
    env: { LOG_LEVEL: "info" },
    logDestination: {
      write(line: string) {
        logs.push(line);
        if (line.includes('"msg":"waiting for running handlers"')) resume.resolve();
      },
    },
  });
  await t.app.listen({ port: 0, host: "127.0.0.1" });
  const { port } = t.app.server.address() as AddressInfo;
  const client = request({ port, host: "127.0.0.1", path: "/test/slow" });
  client.on("error", () => {});
  client.end();
  await entered.promise;
  client.destroy();
  await aborted.promise;

  // The API's shutdown (src/main.ts): stop the server, then close the services and the database.
  await t.app.close();
  await t.services.close();
  await t.testDatabase.drop();
  resume.resolve();
  await finished.promise;

  assert.deepEqual(outcome, { statements: 5 });
  assert.ok(logs.some((line) => line.includes('"requests":1')));
});
