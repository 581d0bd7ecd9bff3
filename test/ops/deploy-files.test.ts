import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { settings } from "../../src/config.ts";
import { ROOT } from "../helpers/process.ts";
import { composeFile, defaultServices } from "./compose.ts";

// No Docker engine runs here, so the deployment files are checked as data: the services and
// commands they promise, and only variable names the service actually reads.

const documented = new Set(Object.keys(settings));

async function yamlFile<T>(name: string): Promise<T> {
  return parse(await readFile(`${ROOT}${name}`, "utf8")) as T;
}

interface RenderEnvVar {
  key?: string;
  fromGroup?: string;
  sync?: boolean;
  generateValue?: boolean;
}

interface RenderBlueprint {
  envVarGroups: { name: string; envVars: RenderEnvVar[] }[];
  databases: { name: string }[];
  services: {
    type: string;
    name: string;
    dockerCommand: string;
    healthCheckPath?: string;
    envVars: RenderEnvVar[];
  }[];
}

describe("docker-compose.prod.yml", () => {
  test("runs api and worker from the production image with postgres, redis as an optional profile", async () => {
    const compose = await composeFile("docker-compose.prod.yml");
    assert.deepEqual(
      defaultServices(compose)
        .map(([name]) => name)
        .sort(),
      ["api", "postgres", "worker"],
    );
    const { api, worker, postgres, redis } = compose.services;
    assert.deepEqual(api?.command, ["node", "src/main.ts"]);
    assert.deepEqual(worker?.command, ["node", "src/worker.ts"]);
    assert.ok(postgres?.healthcheck?.test, "postgres has a healthcheck");
    assert.equal(api?.depends_on?.postgres?.condition, "service_healthy");
    assert.equal(worker?.depends_on?.api?.condition, "service_healthy", "after the migrations");
    assert.equal(worker?.environment?.MIGRATE_ON_START, "false");
    assert.deepEqual(redis?.profiles, ["redis"]);
    assert.equal(api?.environment?.WORKER, "off", "the worker service does the jobs");
  });

  test("is strict: production image and settings from a required .env, no emulator, no secret inline", async () => {
    const compose = await composeFile("docker-compose.prod.yml");
    const secret = /SECRET|PASSWORD|TOKEN|_KEY$/;
    for (const name of ["api", "worker"]) {
      const s = compose.services[name];
      assert.deepEqual(s?.build, { context: ".", target: "production" }, name);
      assert.deepEqual(s?.env_file, [{ path: ".env", required: true }], name);
      assert.equal(s?.environment?.NODE_ENV, "production", name);
      for (const [key, value] of Object.entries(s?.environment ?? {})) {
        assert.ok(documented.has(key), `${name}: ${key} is not a documented setting`);
        assert.ok(!secret.test(key), `${name}: ${key} belongs in .env`);
        assert.doesNotMatch(String(value), /emulator/, `${name}: ${key}`);
      }
      // The database password is interpolated from .env, and its absence stops `up`.
      assert.match(
        s?.environment?.DATABASE_URL ?? "",
        /:\$\{POSTGRES_PASSWORD:\?[^}]+\}@postgres:/,
      );
    }
    assert.ok(!Object.keys(compose.services).some((name) => name.includes("emulator")));
    assert.match(
      compose.services.postgres?.environment?.POSTGRES_PASSWORD ?? "",
      /^\$\{POSTGRES_PASSWORD:\?/,
    );
  });
});

describe("render.yaml", () => {
  test("declares the web service, a worker and a database, with health check and generated secret", async () => {
    const blueprint = await yamlFile<RenderBlueprint>("render.yaml");
    const web = blueprint.services.find((s) => s.type === "web");
    const worker = blueprint.services.find((s) => s.type === "worker");
    assert.equal(web?.dockerCommand, "node src/main.ts");
    assert.equal(worker?.dockerCommand, "node src/worker.ts");
    assert.equal(web?.healthCheckPath, "/readyz");
    assert.equal(blueprint.databases.length, 1);
    const group = blueprint.envVarGroups[0];
    assert.ok(group?.envVars.some((v) => v.key === "SECRET_KEY" && v.generateValue));
    for (const service of [web, worker]) {
      assert.ok(service?.envVars.some((v) => v.fromGroup === group?.name));
    }
  });

  test("Stripe and SMTP settings are shared through the group, each asked for once", async () => {
    const blueprint = await yamlFile<RenderBlueprint>("render.yaml");
    const group = blueprint.envVarGroups[0];
    const grouped = new Set(group?.envVars.map((v) => v.key));
    for (const key of ["STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET", "EMAIL_HOST_PASSWORD"]) {
      assert.ok(grouped.has(key), `${key} is in the group`);
    }
    const asked = [
      ...blueprint.envVarGroups.flatMap((g) => g.envVars),
      ...blueprint.services.flatMap((s) => s.envVars),
    ]
      .filter((v) => v.sync === false)
      .map((v) => v.key);
    assert.deepEqual(
      asked.filter((key, i) => asked.indexOf(key) !== i),
      [],
      "no value is entered twice",
    );
    for (const service of blueprint.services) {
      for (const v of service.envVars) {
        assert.ok(!v.key || !grouped.has(v.key), `${service.name} repeats ${v.key}`);
      }
    }
  });

  test("secrets are never committed: each is sync: false or generated", async () => {
    const blueprint = await yamlFile<RenderBlueprint>("render.yaml");
    const secret = /SECRET|PASSWORD|TOKEN|_KEY$/;
    const vars = [
      ...blueprint.envVarGroups.flatMap((g) => g.envVars),
      ...blueprint.services.flatMap((s) => s.envVars),
    ];
    for (const v of vars) {
      if (!v.key) continue;
      assert.ok(documented.has(v.key), `${v.key} is not a documented setting`);
      if (secret.test(v.key)) {
        assert.ok(v.sync === false || v.generateValue, `${v.key} must not carry a value`);
      }
    }
  });
});

describe("Dockerfile", () => {
  test("builds on node:24-slim with production dependencies, runs as non-root with a health check", async () => {
    const text = await readFile(`${ROOT}Dockerfile`, "utf8");
    assert.match(text, /^FROM node:24-slim/m);
    assert.match(text, /npm ci --omit=dev/);
    assert.match(text, /^USER node$/m);
    assert.match(text, /^EXPOSE 8000$/m);
    assert.match(text, /^HEALTHCHECK .*\n.*\/healthz/m);
    assert.match(text, /^CMD \["node", "src\/main.ts"\]$/m);
  });
});
