import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import pg from "pg";
import { runCli } from "../src/cli.ts";
import {
  databaseUrlFor,
  dropPostgresDatabase,
  freshDataDir,
  TEST_DATABASE_URL,
} from "./helpers/database.ts";

// The operator CLI's commands, run in-process (each opens and closes its own services, as a
// separate `npm run cli` process would) on a database of its own.

let env: Record<string, string>;
let cleanup: () => Promise<void>;

before(async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "billing-cli-"));
  env = { DATA_DIR: dataDir, LOG_LEVEL: "warn" };
  let name: string | undefined;
  if (TEST_DATABASE_URL) {
    name = `billing_cli_${randomBytes(4).toString("hex")}`;
    const admin = new pg.Client({ connectionString: databaseUrlFor("postgres") });
    await admin.connect();
    await admin.query(`create database ${name}`);
    await admin.end();
    env.DATABASE_URL = databaseUrlFor(name);
  } else {
    await freshDataDir(dataDir);
  }
  cleanup = async () => {
    await rm(dataDir, { recursive: true, force: true });
    if (name) await dropPostgresDatabase(name);
  };
});
after(() => cleanup());

/** Runs one command in this process, as `npm run cli -- …` would, and captures its output. */
async function cli(args: string[], input = ""): Promise<{ code: number; out: string }> {
  Object.assign(process.env, env);
  const lines: string[] = [];
  const code = await runCli(args, (line) => lines.push(line), Readable.from([input]));
  return { code, out: lines.join("\n") };
}

describe("npm run cli", () => {
  test("help lists every command with one line each", async () => {
    const { code, out } = await cli(["help"]);
    assert.equal(code, 0);
    for (const name of [
      "audit:list",
      "createsuperuser",
      "db:migrate",
      "emails:list",
      "plans:create",
      "plans:deactivate",
      "plans:list",
      "plans:set",
      "plans:sync",
      "users:deactivate",
      "webhooks:list",
      "webhooks:replay",
    ]) {
      assert.match(out, new RegExp(`^  ${name} +\\S`, "m"), name);
    }
  });

  test("an unknown command or a missing option exits 2 with usage", async () => {
    assert.equal((await cli(["nope"])).code, 2);
    const missing = await cli(["users:deactivate"]);
    assert.equal(missing.code, 2);
    assert.match(missing.out, /--email is required/);
  });

  test("createsuperuser reads the password from stdin; users:deactivate finds the user case-insensitively", async () => {
    assert.equal((await cli(["db:migrate"])).code, 0);
    const weak = await cli(
      ["createsuperuser", "--email", "root@example.com", "--username", "root"],
      "12345678\n",
    );
    assert.equal(weak.code, 2);
    assert.match(weak.out, /This password is entirely numeric/);
    const created = await cli(
      ["createsuperuser", "--email", "Root@Example.com", "--username", "root"],
      "c0rrect-Horse-battery\n",
    );
    assert.equal(created.code, 0, created.out);
    assert.match(created.out, /Superuser created: Root@Example.com/);
    const off = await cli(["users:deactivate", "--email", "root@example.com"]);
    assert.equal(off.code, 0, off.out);
    assert.match(off.out, /deactivated/);
    const unknown = await cli(["users:deactivate", "--email", "ghost@example.com"]);
    assert.equal(unknown.code, 2);
  });

  test("audit:list: a user without rows, and an unknown email exits 2 saying so", async () => {
    assert.equal((await cli(["db:migrate"])).code, 0);
    const none = await cli(["audit:list", "--email", "root@example.com"]);
    assert.equal(none.code, 0, none.out);
    assert.equal(none.out, "no audit rows");
    const unknown = await cli(["audit:list", "--email", "ghost@example.com"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.out, /No user with email ghost@example.com\./);
  });
});
