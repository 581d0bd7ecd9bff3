import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { ConfigError, loadConfig, settings } from "../src/config.ts";
import { cronEvery } from "../src/platform/jobs/definitions.ts";
import { PRODUCTION } from "./helpers/production.ts";

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

  test("BUSINESS_METRICS_INTERVAL takes only intervals a cron schedule repeats exactly", () => {
    const every = (raw: string) =>
      cronEvery(loadConfig({ BUSINESS_METRICS_INTERVAL: raw }).BUSINESS_METRICS_INTERVAL);
    assert.equal(every(""), "*/5 * * * *");
    assert.equal(every("15m"), "*/15 * * * *");
    assert.equal(every("3600"), "0 */1 * * *");
    assert.equal(every("6h"), "0 */6 * * *");
    assert.equal(every("1d"), "0 0 * * *");
    for (const bad of ["7m", "90s", "90m", "5h", "2d", "0"]) {
      assert.match(
        problemsOf({ BUSINESS_METRICS_INTERVAL: bad }).join(),
        /^BUSINESS_METRICS_INTERVAL: must be whole minutes dividing an hour/,
        bad,
      );
    }
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
      ...PRODUCTION,
      SECRET_KEY: "short",
      STRIPE_API_BASE: "http://127.0.0.1:12111",
    });
    assert.deepEqual(
      problems.map((p) => p.split(":")[0]),
      ["SECRET_KEY", "STRIPE_API_BASE"],
    );
  });

  test("production refuses weak secrets, wildcards and plaintext Stripe, each with its reason", () => {
    const problems = problemsOf({
      ...PRODUCTION,
      SECRET_KEY: "x".repeat(32),
      STRIPE_WEBHOOK_SECRET: "x",
      METRICS_TOKEN: "a",
      ALLOWED_HOSTS: "*",
      CORS_ALLOWED_ORIGINS: "*",
      STRIPE_API_BASE: "http://api.stripe.com",
    });
    assert.deepEqual(problems, [
      "SECRET_KEY: too predictable (about 0 bits of entropy, at least 128 needed); generate one with `openssl rand -hex 32`",
      "STRIPE_WEBHOOK_SECRET: not a Stripe signing secret (whsec_ and 24+ characters)",
      "STRIPE_API_BASE: must be unset or https://api.stripe.com in production",
      "ALLOWED_HOSTS: no wildcards in production (.example.com matches subdomains)",
      "CORS_ALLOWED_ORIGINS: no wildcards in production (list the web app's origins)",
      "METRICS_TOKEN: too predictable (about 0 bits of entropy, at least 64 needed); generate one with `openssl rand -hex 32`",
    ]);
  });

  test("production secrets are judged by their entropy, not their length", () => {
    const refused = (env: Record<string, string>) =>
      problemsOf({ ...PRODUCTION, ...env }).map((p) => p.split(":")[0]);
    // Long enough, and still guessable: a repeated word, a run of the alphabet.
    assert.deepEqual(refused({ SECRET_KEY: "password".repeat(6) }), ["SECRET_KEY"]);
    assert.deepEqual(refused({ SECRET_KEY: "abcdefghijklmnopqrstuvwxyz0123456789" }), [
      "SECRET_KEY",
    ]);
    assert.deepEqual(refused({ METRICS_TOKEN: "metrics-secret" }), ["METRICS_TOKEN"]);
    assert.deepEqual(refused({ STRIPE_WEBHOOK_SECRET: "whsec_123" }), ["STRIPE_WEBHOOK_SECRET"]);
    assert.deepEqual(refused({ SERVICE_TOKENS: `${randomBytes(32).toString("hex")},short` }), [
      "SERVICE_TOKENS",
    ]);
    assert.deepEqual(refused({ SERVICE_TOKENS: "x".repeat(40) }), ["SERVICE_TOKENS"]);
    assert.deepEqual(refused({ ALLOWED_HOSTS: "api.example.com,*.example.com" }), [
      "ALLOWED_HOSTS",
    ]);
    assert.deepEqual(refused({ CORS_ALLOWED_ORIGINS: "https://app.example.com/login" }), [
      "CORS_ALLOWED_ORIGINS",
    ]);
    // What `openssl rand -hex 32` and a dashboard's signing secret look like pass.
    assert.deepEqual(
      refused({
        SECRET_KEY: randomBytes(32).toString("hex"),
        METRICS_TOKEN: randomBytes(32).toString("hex"),
        SERVICE_TOKENS: `${randomBytes(32).toString("hex")},${randomBytes(32).toString("hex")}`,
        STRIPE_WEBHOOK_SECRET: "whsec_aB3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF",
        CORS_ALLOWED_ORIGINS: "https://app.example.com,http://localhost:3000",
      }),
      [],
    );
  });

  test("a complete production configuration loads", () => {
    const config = loadConfig(PRODUCTION);
    assert.equal(config.isProduction, true);
    assert.equal(config.useStripeEmulator, false);
  });

  test(".env.example documents exactly the settings the service reads", async () => {
    const text = await readFile(new URL("../.env.example", import.meta.url), "utf8");
    const documented = [...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((m) => m[1]);
    assert.deepEqual([...new Set(documented)].sort(), Object.keys(settings).sort());
  });
});
