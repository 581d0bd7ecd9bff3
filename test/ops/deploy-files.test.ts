import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { settings } from "../../src/config.ts";
import { ROOT } from "../helpers/process.ts";

// No Docker engine runs here, so the deployment files are checked as data: the services and
// commands they promise, and only variable names the service actually reads.

const documented = new Set(Object.keys(settings));

async function yamlFile<T>(name: string): Promise<T> {
  return parse(await readFile(`${ROOT}${name}`, "utf8")) as T;
}

interface ComposeService {
  build?: string;
  image?: string;
  command?: string[];
  environment?: Record<string, string>;
  profiles?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test?: string[]; disable?: boolean };
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

describe("docker-compose.yml", () => {
  test("runs api, worker and postgres (healthy first), redis as an optional profile", async () => {
    const compose = await yamlFile<{ services: Record<string, ComposeService> }>(
      "docker-compose.yml",
    );
    const { api, worker, postgres, redis } = compose.services;
    assert.deepEqual(api?.command, ["node", "src/main.ts"]);
    assert.deepEqual(worker?.command, ["node", "src/worker.ts"]);
    assert.equal(api?.build, ".");
    assert.ok(postgres?.healthcheck?.test, "postgres has a healthcheck");
    assert.equal(api?.depends_on?.postgres?.condition, "service_healthy");
    assert.deepEqual(redis?.profiles, ["redis"]);
    assert.equal(api?.environment?.WORKER, "off", "the worker service does the jobs");
  });

  test("sets only variables the service reads", async () => {
    const compose = await yamlFile<{ services: Record<string, ComposeService> }>(
      "docker-compose.yml",
    );
    for (const name of ["api", "worker"]) {
      for (const key of Object.keys(compose.services[name]?.environment ?? {})) {
        assert.ok(documented.has(key), `${name}: ${key} is not a documented setting`);
      }
    }
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
