import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { ConfigError, loadConfig, settings } from "../src/config.ts";

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe("configuration", () => {
  test("an empty environment gives the documented defaults", () => {
    const config = loadConfig({});
    assert.equal(config.PORT, 8000);
    assert.equal(config.HOST, "0.0.0.0");
    assert.equal(config.DATA_DIR, "./data");
    assert.ok(config.dataDir.endsWith("/data"));
    assert.equal(config.useStripeEmulator, true);
    assert.equal(config.DATABASE_URL, undefined);
    assert.ok(Object.isFrozen(config));
  });

  test("values are parsed into their types", () => {
    const config = loadConfig({
      PORT: "9000",
      MIGRATE_ON_START: "false",
      ALLOWED_HOSTS: "api.example.com, example.com",
      JOB_RETRY_DELAY: "2m",
    });
    assert.equal(config.PORT, 9000);
    assert.equal(config.MIGRATE_ON_START, false);
    assert.deepEqual(config.ALLOWED_HOSTS, ["api.example.com", "example.com"]);
    assert.equal(config.JOB_RETRY_DELAY, 120);
  });

  test("every bad value is reported at once, one line each", () => {
    const problems = problemsOf({
      PORT: "eighty",
      MIGRATE_ON_START: "maybe",
      DATABASE_URL: "mysql://x",
      NODE_ENV: "staging",
    });
    assert.equal(problems.length, 4);
    assert.ok(problems.some((p) => p.startsWith("PORT: must be an integer")));
    assert.ok(problems.some((p) => p.startsWith("MIGRATE_ON_START: must be true or false")));
    assert.ok(problems.some((p) => p.startsWith("DATABASE_URL: must be a postgres:")));
    assert.ok(problems.some((p) => p.startsWith("NODE_ENV: must be one of")));
  });

  test("production with nothing configured lists every missing or unsafe setting", () => {
    const problems = problemsOf({ NODE_ENV: "production" });
    const names = problems.map((p) => p.split(":")[0]);
    assert.deepEqual(names.sort(), [
      "ALLOWED_HOSTS",
      "DATABASE_URL",
      "EMAIL_HOST",
      "SECRET_KEY",
      "STRIPE_PUBLISHABLE_KEY",
      "STRIPE_SECRET_KEY",
      "STRIPE_WEBHOOK_SECRET",
    ]);
  });

  test("production refuses a short secret key and an emulator API base", () => {
    const problems = problemsOf({
      NODE_ENV: "production",
      SECRET_KEY: "short",
      DATABASE_URL: "postgres://db/billing",
      STRIPE_SECRET_KEY: "sk_live_123",
      STRIPE_PUBLISHABLE_KEY: "pk_live_123",
      STRIPE_WEBHOOK_SECRET: "whsec_123",
      STRIPE_API_BASE: "http://127.0.0.1:12111",
      ALLOWED_HOSTS: "api.example.com",
      EMAIL_HOST: "smtp.example.com",
    });
    assert.deepEqual(
      problems.map((p) => p.split(":")[0]),
      ["SECRET_KEY", "STRIPE_API_BASE"],
    );
  });

  test("a complete production configuration loads", () => {
    const config = loadConfig({
      NODE_ENV: "production",
      SECRET_KEY: "x".repeat(48),
      DATABASE_URL: "postgres://db/billing",
      STRIPE_SECRET_KEY: "sk_live_123",
      STRIPE_PUBLISHABLE_KEY: "pk_live_123",
      STRIPE_WEBHOOK_SECRET: "whsec_123",
      ALLOWED_HOSTS: "api.example.com",
      EMAIL_HOST: "smtp.example.com",
    });
    assert.equal(config.isProduction, true);
    assert.equal(config.useStripeEmulator, false);
  });

  test(".env.example documents exactly the settings the service reads", async () => {
    const text = await readFile(new URL("../.env.example", import.meta.url), "utf8");
    const documented = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(documented)].sort(), Object.keys(settings).sort());
  });
});
